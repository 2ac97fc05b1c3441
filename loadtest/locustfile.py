"""The busiest day, for locust: what `manage.py bench_load` runs against gunicorn. It talks to the server over
HTTP only, as the people would, from one address (a venue or an office behind one router):

- 38 Dinsos operators log in, upload their 40-row spreadsheet, read the check and confirm it;
- the organiser's staff open the review page and accept pending nominations, a few at a time;
- the projector in the hall shows the check-in QR code (polled as the screen does); 264 participants scan it
  and type their access code within two minutes, while a facilitator marks another session's statuses;
- 40 participants download their certificates with their NIK and access code;
- 20 people open certificate verification pages (/v/<code>), two each, within about a minute.

The accounts, files and codes come from the JSON file named by LOAD_SCENARIO (written by bench_load); every
request is appended to the CSV file named by LOAD_RESULTS (group, name, status, milliseconds, end time), from
which bench_load computes its figures. Redirects are not followed, so a POST is timed on its own. Each simulated
person goes through their part once; the run ends when all have."""

import csv
import json
import os
import random
import re
import time
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, events, task
from locust.exception import StopUser

SCENARIO = json.loads(open(os.environ["LOAD_SCENARIO"]).read()) if os.environ.get("LOAD_SCENARIO") else {}  # noqa: SIM115
RESULTS = os.environ.get("LOAD_RESULTS", "")
CHECKIN_URL = re.compile(r'id="checkin-url"[^>]*>([^<]+)<')
REFRESH = re.compile(r"delay:(\d+)s")
STAMP = re.compile(r'name="stamp" value="([^"]+)"')
PENDING = re.compile(r'name="nominations" value="(\d+)"')
ENROLLMENT = re.compile(r'name="enrollment" value="(\d+)"')
CERTIFICATE_LINK = re.compile(r'href="(/sertifikat/unduh/\d+/)"')
KABUPATEN_FILTER = re.compile(r'<select[^>]*name="kabupaten"[^>]*>(.*?)</select>', re.S)
KABUPATEN_OPTION = re.compile(r'<option value="(\d+)"')
ACCEPT_AT_ONCE = 10
OPERATORS_START = 20  # seconds before the reviewer finds the first confirmed files

_rows = []
_state = {"checkin_url": "", "finished": 0, "checked_in": 0}
ATTENDEES = len(SCENARIO.get("attendees", []))  # counted before the simulated people take their codes


@events.request.add_listener
def _record(request_type, name, response_time, response, exception, context, **_kwargs):
    status = getattr(response, "status_code", 0) or 0
    _rows.append([context.get("group", "other"), name, status, round(response_time, 2), round(time.time(), 3)])


@events.quitting.add_listener
def _write(environment, **_kwargs):
    if RESULTS:
        with open(RESULTS, "w", newline="") as file:
            csv.writer(file).writerows(_rows)


def _everyone() -> int:
    return sum(user.fixed_count for user in (Operator, Reviewer, Projector, Facilitator, Attendee, Graduate, Verifier))


class Person(HttpUser):
    """One person's part, done once: a subclass writes `journey`; the run stops when every person is done."""

    abstract = True
    wait_time = staticmethod(lambda: 0)

    def request(self, method: str, path: str, group: str, name: str, **kwargs):
        response = self.client.request(
            method, path, name=name, context={"group": group}, allow_redirects=False, timeout=60, **kwargs
        )
        return response

    def get(self, path: str, name: str, group: str = "pages", **kwargs):
        return self.request("GET", path, group, name, **kwargs)

    def post(self, path: str, data: dict, name: str, group: str, **kwargs):
        data = {**data, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")}
        return self.request("POST", path, group, name, data=data, **kwargs)

    def login(self, account: dict) -> None:
        self.get("/akun/masuk/", "login page")
        self.post("/akun/masuk/", account, "login", "login")

    @staticmethod
    def think(low: float, high: float) -> None:
        gevent.sleep(random.uniform(low, high))

    @task
    def once(self):
        try:
            self.journey()
        finally:
            _state["finished"] += 1
            if _state["finished"] >= _everyone():
                gevent.spawn(self.environment.runner.quit)
        raise StopUser()

    def journey(self):
        raise NotImplementedError


class Operator(Person):
    """A Dinsos operator with their kabupaten's 40 rows."""

    fixed_count = len(SCENARIO.get("operators", []))

    def journey(self):
        me = SCENARIO["operators"].pop()
        self.think(0, SCENARIO["operators_within_seconds"])
        self.login(me["account"])
        self.get(me["upload_path"], "upload page")
        self.think(2, 5)
        with open(me["file"], "rb") as file:
            response = self.post(me["upload_path"], {}, "upload and check", "upload_check", files={"file": file})
        preview = response.headers.get("Location", "")
        if not preview:
            return
        self.get(preview, "upload preview")
        self.think(3, 8)
        response = self.post(preview + "impor/", {}, "upload confirm", "writes")
        if response.headers.get("Location"):
            self.get(response.headers["Location"], "nominations page")


class Reviewer(Person):
    """The organiser's staff: the batch's review page with everything pending, then kabupaten by kabupaten
    (the page's filter), accepting ten pending nominations at a time as the operators' files come in."""

    fixed_count = 1 if SCENARIO else 0

    def journey(self):
        me = SCENARIO["reviewer"]
        self.login(me["account"])
        ends = time.monotonic() + SCENARIO["review_seconds"]
        self.think(OPERATORS_START, OPERATORS_START + 5)  # the first files are in
        page = self.get(me["review_path"] + "?status=pending", "review page, all pending").text
        filters = KABUPATEN_FILTER.search(page)
        kabupaten = KABUPATEN_OPTION.findall(filters[1]) if filters else []
        while time.monotonic() < ends and kabupaten:
            query = {"kabupaten": kabupaten.pop(0), "status": "pending"}
            page = self.get(me["review_path"], "review page, one kabupaten", params=query).text
            pending = PENDING.findall(page)[:ACCEPT_AT_ONCE]
            self.think(3, 6)
            if pending:
                data = {"nominations": pending, "decision": "accept", "reason": "", **query}
                self.post(me["decide_path"], data, "review accept", "writes")
            if not kabupaten:  # round again: later files have come in meanwhile
                page = self.get(me["review_path"] + "?status=pending", "review page, all pending").text
                filters = KABUPATEN_FILTER.search(page)
                kabupaten = KABUPATEN_OPTION.findall(filters[1]) if filters else []


class Projector(Person):
    """The check-in screen in the hall, renewing its QR code as the page does."""

    fixed_count = 1 if SCENARIO else 0

    def journey(self):
        me = SCENARIO["projector"]
        self.login(me["account"])
        ends = time.monotonic() + SCENARIO["checkin_within_seconds"] + 60
        while time.monotonic() < ends and _state["checked_in"] < ATTENDEES:
            fragment = self.get(me["qr_path"], "check-in QR code", headers={"HX-Request": "true"}).text
            url = CHECKIN_URL.search(fragment)
            if url:
                _state["checkin_url"] = urlsplit(url[1].strip()).path  # the scanned code's address, on our host
            refresh = REFRESH.search(fragment)
            gevent.sleep(int(refresh[1]) if refresh else 5)


class Facilitator(Person):
    """A widyaiswara marking every participant's status on a phone, about one tap every third of a second."""

    fixed_count = 1 if SCENARIO else 0

    def journey(self):
        me = SCENARIO["facilitator"]
        self.login(me["account"])
        page = self.get(me["page_path"], "attendance page").text
        statuses = ["hadir", "hadir", "hadir", "terlambat", "izin", "sakit", "alpa"]
        for enrollment in dict.fromkeys(ENROLLMENT.findall(page)):
            self.think(0.2, 0.45)
            data = {"enrollment": enrollment, "status": random.choice(statuses)}
            token = self.client.cookies.get("csrftoken", "")
            headers = {"HX-Request": "true", "X-CSRFToken": token}
            self.post(me["mark_path"], data, "attendance mark", "checkin", headers=headers)


class Attendee(Person):
    """A participant scanning the projected code with their phone and typing their access code."""

    fixed_count = ATTENDEES

    def journey(self):
        code = SCENARIO["attendees"].pop()
        self.think(0, SCENARIO["checkin_within_seconds"] - 10)
        while not _state["checkin_url"]:
            gevent.sleep(0.5)
        path = _state["checkin_url"]
        page = self.get(path, "check-in page", group="checkin").text
        stamp = STAMP.search(page)
        self.think(2, 8)
        response = self.post(path, {"stamp": stamp[1] if stamp else "", "access_code": code}, "check-in", "checkin")
        if response.status_code == 200:
            _state["checked_in"] += 1


class Graduate(Person):
    """A participant of a finished batch downloading their certificate with their NIK and access code."""

    fixed_count = len(SCENARIO.get("graduates", []))

    def journey(self):
        me = SCENARIO["graduates"].pop()
        self.think(0, SCENARIO["others_within_seconds"])
        self.get("/sertifikat/unduh/", "certificate download page")
        self.think(3, 8)
        self.post("/sertifikat/unduh/", me, "certificate sign-in", "writes")
        page = self.get("/sertifikat/unduh/", "certificate download page").text
        link = CERTIFICATE_LINK.search(page)
        if link:
            self.get(link[1], "certificate PDF", group="downloads")


class Verifier(Person):
    """Someone at the closing of a batch scanning certificates' QR codes: two in a row, all 20 within a minute."""

    fixed_count = len(SCENARIO.get("verifiers", []))

    def journey(self):
        codes = SCENARIO["verifiers"].pop()
        self.think(0, SCENARIO["verifiers_within_seconds"])
        for number, code in enumerate(codes):
            if number:
                self.think(5, 15)
            self.get(f"/v/{code}", "verification page")
