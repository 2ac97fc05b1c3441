"""The attendance load benchmark of `manage.py bench`: the app served by gunicorn on loopback, 40 participants
checking in by QR within a minute while a facilitator marks statuses on a phone. Server times come from
gunicorn's access log (%(D)s, microseconds), so they are the server's own, not the client's."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time as clock
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from statistics import median, quantiles

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from trainings import services
from trainings.models import Attendance, Batch, Session

PARTICIPANTS = 40
CHECKIN_SPREAD_SECONDS = 20  # the check-ins arrive over this time, well within the minute of the issue
MARK_ROUNDS = 2  # the facilitator goes through the list twice (first marks, then corrections)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{urllib.parse.quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def session_cookie(user: User) -> str:
    """A logged-in session for `user`, as the login page would create it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


class _Browser:
    """A cookie-keeping HTTP client, like one phone."""

    def __init__(self, base: str, session_key: str | None = None):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.session_key = session_key

    def _headers(self, extra=None) -> dict:
        headers = {"User-Agent": "sinergi-bench"}
        cookies = [f"{c.name}={c.value}" for c in self.jar]
        if self.session_key:
            cookies.append(f"sessionid={self.session_key}")
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        headers.update(extra or {})
        return headers

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def get(self, path: str) -> int:
        return self.page(path)[0]

    def page(self, path: str) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=self._headers())  # noqa: S310 - loopback
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()

    def post(self, path: str, data: dict, extra_headers=None) -> int:
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        headers = self._headers({"X-CSRFToken": self.csrf(), "Referer": self.base + path, **(extra_headers or {})})
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def session_now(batch: Batch) -> Session:
    """A session of the batch that is on now, so the QR check-in is open (and stays open for half an hour at least,
    also late in the evening: close to midnight it is tomorrow's first session, whose check-in has opened)."""
    now = timezone.localtime()
    day = now.date()
    start = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=0, microsecond=0))
    end = start + timedelta(minutes=60)
    if end.date() != start.date():
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        if midnight - now < timedelta(minutes=settings.CHECKIN_OPEN_MINUTES - 1):
            day, start, end = midnight.date(), midnight, midnight + timedelta(minutes=60)
        else:
            start, end = now.replace(hour=23, minute=0, second=0, microsecond=0), now.replace(hour=23, minute=59)
    return Session.objects.create(
        batch=batch,
        date=day,
        start_time=start.time().replace(second=0, microsecond=0),
        end_time=end.time().replace(second=0, microsecond=0),
        kind=Session.Kind.MATERI,
        module=batch.program.modules.first(),
        jp=1,
    )


def _percentile_ms(values: list[float], which: int) -> float:
    if len(values) < 2:
        return round(values[0] / 1000, 1) if values else 0.0
    return round(quantiles(values, n=100, method="inclusive")[which - 1] / 1000, 1)


def attendance_load(*, batch: Batch, staff: User, facilitator_user: User, scratch: str):
    """Serve the app with gunicorn, run the load and yield the figures."""
    today = timezone.localdate()
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.RUNNING,
        start_date=today,
        end_date=today + timedelta(days=1),
        nomination_deadline=today - timedelta(days=7),
    )
    batch.refresh_from_db()
    now_session = session_now(batch)
    marked_session = (
        Session.objects.filter(batch=batch).exclude(pk=now_session.pk).order_by("date", "start_time").first()
    )
    # On now too: a facilitator may record a session only once its check-in has opened.
    Session.objects.filter(pk=marked_session.pk).update(
        date=now_session.date, start_time=now_session.start_time, end_time=now_session.end_time
    )
    marked_session.facilitators.add(facilitator_user.facilitator)
    enrollments = list(batch.enrollments.order_by("pk")[:PARTICIPANTS])
    Attendance.objects.filter(session__in=[now_session, marked_session]).delete()
    if len(enrollments) < PARTICIPANTS:
        raise CommandError(f"the load benchmark needs {PARTICIPANTS} participants")

    with gunicorn(scratch=scratch) as (base, access_log):
        yield from _run_load(
            base=base,
            batch=batch,
            now_session=now_session,
            marked_session=marked_session,
            enrollments=enrollments,
            facilitator_user=facilitator_user,
            access_log=access_log,
        )


@contextmanager
def gunicorn(*, scratch: str, workers: int = 2, env: dict | None = None) -> Iterator[tuple[str, Path]]:
    """The app served by gunicorn on a free loopback port, on the benchmark database, with a fresh access log
    (method, path, status, microseconds); yields the base URL and the log's path, and stops the server on exit.
    `env` adds to or overrides the server's environment (REDIS_URL is left out unless given there)."""
    port = free_port()
    access_log = Path(scratch) / f"gunicorn-access-{port}.log"
    server_env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "SINERGI_TESTING": "1",  # plain HTTP and app-served static files, as for the test suite
        "ALLOWED_HOSTS": "127.0.0.1",
        "AXES_ENABLED": "0",
        "MEDIA_ROOT": f"{scratch}/media",  # the benchmarks' MEDIA_ROOT too (their override_settings)
    }
    server_env.pop("REDIS_URL", None)
    server_env.update(env or {})
    with open(Path(scratch) / f"gunicorn-{port}.log", "ab") as errors:
        server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                "%(m)s %(U)s %(s)s %(D)s",
            ],
            cwd=settings.BASE_DIR,
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310 - loopback
                break
            except OSError:
                if server.poll() is not None:
                    break
                clock.sleep(0.2)
        else:
            raise CommandError("gunicorn did not start")
        if server.poll() is not None:
            raise CommandError(f"gunicorn stopped at start; see {scratch}/gunicorn-{port}.log")
        yield base, access_log
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


def _run_load(*, base, batch, now_session, marked_session, enrollments, facilitator_user, access_log):
    mark_path = reverse("trainings:attendance_mark", args=[marked_session.pk])
    page_path = reverse("trainings:session_attendance", args=[marked_session.pk])
    facilitator = _Browser(base, session_cookie(facilitator_user))
    facilitator.get(page_path)  # the page sets the CSRF cookie
    rng = random.Random(40)  # noqa: S311 - load pattern, not security
    statuses = [s for s, _label in Attendance.Status.choices]
    failures = []

    def facilitator_marks():
        for _round in range(MARK_ROUNDS):
            for enrollment in enrollments:
                code = facilitator.post(
                    mark_path,
                    {"enrollment": enrollment.pk, "status": rng.choice(statuses)},
                    {"HX-Request": "true"},
                )
                if code != 200:
                    failures.append(f"mark answered {code}")

    def participant(enrollment, delay):
        clock.sleep(delay)
        phone = _Browser(base)
        token = services.checkin_token(now_session)
        path = reverse("trainings:checkin", args=[now_session.pk, token])
        _status, html = phone.page(path)  # the form carries the stamp of the scanned code
        stamp = re.search(r'name="stamp" value="([^"]+)"', html)
        code = phone.post(path, {"stamp": stamp[1] if stamp else "", "access_code": enrollment.access_code})
        if code != 200:
            failures.append(f"check-in answered {code}")

    started = clock.perf_counter()
    threads = [threading.Thread(target=facilitator_marks)]
    threads += [
        threading.Thread(target=participant, args=(e, rng.uniform(0, CHECKIN_SPREAD_SECONDS))) for e in enrollments
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = clock.perf_counter() - started
    checked_in = Attendance.objects.filter(session=now_session, method=Attendance.Method.SELF).count()
    if failures or checked_in != len(enrollments):
        raise CommandError(f"load run failed: {checked_in} check-ins; {failures[:5]}")

    clock.sleep(0.5)  # let gunicorn flush its access log
    marks, checkins = [], []
    line = re.compile(r"^POST (\S+) (\d{3}) (\d+)$")
    for entry in access_log.read_text().splitlines():
        match = line.match(entry.strip())
        if not match:
            continue
        path, _status, micros = match.group(1), match.group(2), int(match.group(3))
        if path == mark_path:
            marks.append(micros)
        elif path.startswith(f"/pelatihan/presensi/{now_session.pk}/"):
            checkins.append(micros)
    yield "attendance_load_seconds", round(elapsed, 1)
    yield "attendance_mark_p50_ms", round(median(marks) / 1000, 1)
    yield "attendance_mark_p95_ms", _percentile_ms(marks, 95)
    yield "checkin_p50_ms", round(median(checkins) / 1000, 1)
    yield "checkin_p95_ms", _percentile_ms(checkins, 95)


def facilitator_account(organiser) -> User:
    """A facilitator of the organiser with an account, for the load run."""
    from trainings.models import Facilitator

    user = User.objects.create(username=f"bench.widyaiswara.{organiser.pk}", role=Role.FACILITATOR)
    Facilitator.objects.create(organiser=organiser, name="Widyaiswara Bench", institution="UPT", user=user)
    return user
