"""The attendance pages: a facilitator's sessions, marking by htmx, “semua hadir”, the counts, the read-only
page after the batch, the staff's corrections with a reason and the change history; QR check-in from the
projector screen to the participant's phone, with its refusals and its throttle; and the query counts."""

import re
import types
from datetime import date, datetime, time, timedelta

import pytest
from django.core import signing
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from config.throttle import CHECKIN_WRONG_CODES_BY_ADDRESS, CHECKIN_WRONG_CODES_BY_DEVICE
from participants.models import Enrollment, Nomination, Person
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OrganiserFactory,
    StaffFactory,
    pillar,
    region,
)
from tests.outages import cache_down
from trainings import selectors, services
from trainings.attendance_views import LIVE_OVERLAP_MS
from trainings.models import Attendance, AttendanceChange, Batch, Session

pytestmark = pytest.mark.django_db

START = date(2025, 10, 13)  # a Monday
HTMX = {"HTTP_HX_REQUEST": "true"}


def at(day: date, hour: int, minute: int = 0, second: int = 0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute, second)))


def enrol(batch, serial: int, *, by, name: str | None = None, kabupaten: str = "35.12") -> Enrollment:
    """An accepted participant of `batch` (NIK 3512011708850001 and on, born 17 August 1985)."""
    person = Person.objects.create(
        nik=f"351201170885{serial:04d}",
        full_name=name or f"Peserta {serial:02d}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(kabupaten),
        pillar_type=pillar("psm"),
        phone=f"0812345{serial:05d}",
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region(kabupaten),
        pillar_type=pillar("psm"),
        status=Nomination.Status.ACCEPTED,
        nominated_by=by,
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


def make_session(batch, day: date, start: time, end: time, facilitators=()) -> Session:
    session = Session.objects.create(
        batch=batch, date=day, start_time=start, end_time=end, module=ModuleFactory(program=batch.program, jp=2), jp=2
    )
    session.facilitators.set(facilitators)
    return session


class Clock:
    """The time the application sees: timezone.now() is patched for the test, and so is the wall clock the
    check-in stamps are signed and checked by (django.core.signing reads time.time())."""

    def __init__(self, monkeypatch):
        self.now = at(START, 8, 5)
        monkeypatch.setattr(timezone, "now", lambda: self.now)
        monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: self.now.timestamp()))

    def set(self, value):
        self.now = value


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _fixed_throttle_window(monkeypatch):
    """The throttle counts by windows of the wall clock: count in one fixed window, so that a test never sees a
    new window begin halfway. Its counters are its own (tests/conftest.py), whichever address it uses."""
    import django_ratelimit.core

    fixed = datetime(2025, 10, 13, 1, 0, 10).timestamp()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: fixed))


@pytest.fixture
def world(clock):
    """A running batch (13–15 October 2025) with a session on its first day at 08.00–09.30 taught by
    `teacher`, five participants, and the staff of its organiser."""
    upt = OrganiserFactory(code="UPT-PTKS")
    staff = StaffFactory(organiser=upt, first_name="Panitia")
    teacher = FacilitatorUserFactory(record__organiser=upt, first_name="Bu Widya")
    batch = BatchFactory(
        organiser=upt, status=Batch.Status.RUNNING, start_date=START, end_date=START + timedelta(days=2)
    )
    session = make_session(batch, START, time(8, 0), time(9, 30), facilitators=[teacher.facilitator])
    enrollments = [enrol(batch, n, by=staff) for n in range(1, 6)]
    return types.SimpleNamespace(
        upt=upt, staff=staff, teacher=teacher, batch=batch, session=session, enrollments=enrollments
    )


def page_url(world):
    return reverse("trainings:session_attendance", args=[world.session.pk])


def mark_url(world):
    return reverse("trainings:attendance_mark", args=[world.session.pk])


def all_present_url(world):
    return reverse("trainings:attendance_all_present", args=[world.session.pk])


def checkin_url(session, token):
    return reverse("trainings:checkin", args=[session.pk, token])


def counts_in(html: str) -> dict:
    return {status: int(n) for status, n in re.findall(r'id="count-(\w+)">(\d+)<', html)}


def statuses() -> dict:
    return dict(Attendance.objects.values_list("enrollment_id", "status"))


# --------------------------------------------------------------------------------------------- my sessions


def test_facilitators_land_on_their_sessions_today_first(client, world):
    teacher, batch = world.teacher, world.batch
    later = make_session(batch, START + timedelta(days=1), time(8, 0), time(9, 30), facilitators=[teacher.facilitator])
    # Recorded as having taught a session they were not scheduled for: it is theirs too.
    substitute = make_session(batch, START, time(13, 0), time(14, 30))
    substitute.taught_by.add(teacher.facilitator)
    not_theirs = make_session(batch, START, time(10, 0), time(11, 30))
    past_batch = BatchFactory(organiser=world.upt, start_date=START - timedelta(days=20), end_date=START - timedelta(1))
    over = make_session(past_batch, past_batch.start_date, time(8, 0), time(9, 0), facilitators=[teacher.facilitator])
    client.force_login(teacher)

    home = client.get(reverse("home"))
    assert home.status_code == 302 and home.url == reverse("trainings:my_sessions")
    response = client.get(reverse("trainings:my_sessions"))
    assert response.status_code == 200
    html = response.content.decode()
    today = re.search(r'id="sessions-today".*?</div>\s*<h2', html, re.S).group()
    assert set(map(int, re.findall(r'data-session="(\d+)"', today))) == {world.session.pk, substitute.pk}
    assert "list-group-item-success" in today
    assert reverse("trainings:session_attendance", args=[world.session.pk]) in today
    assert [s.pk for s in response.context["upcoming"]] == [later.pk]
    assert not_theirs.pk not in {s.pk for group in ("today", "upcoming", "earlier") for s in response.context[group]}
    assert over.pk not in {s.pk for s in response.context["earlier"]}


def test_earlier_sessions_of_a_batch_under_way_can_still_be_opened(client, world, clock):
    clock.set(at(START + timedelta(days=1), 10))
    client.force_login(world.teacher)
    response = client.get(reverse("trainings:my_sessions"))
    assert [s.pk for s in response.context["earlier"]] == [world.session.pk]
    assert response.context["today"] == []


def test_the_timetable_links_to_the_attendance_for_who_may_record(client, world):
    idle = FacilitatorUserFactory(record__organiser=world.upt)
    make_session(world.batch, START, time(13, 0), time(14, 0), facilitators=[idle.facilitator])
    batch_url = reverse("trainings:batch_detail", args=[world.batch.pk])
    link = f'class="attendance-link small" href="{page_url(world)}"'
    for user, shown in ((world.staff, True), (world.teacher, True), (idle, False)):
        client.force_login(user)
        assert (link in client.get(batch_url).content.decode()) is shown


# ---------------------------------------------------------------------------------------- the attendance


def test_the_page_lists_the_participants_without_personal_data(client, world):
    client.force_login(world.teacher)
    response = client.get(page_url(world))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<li class="list-group-item attendance-row[^>]*data-enrollment="(\d+)"', html)
    assert list(map(int, rows)) == [e.pk for e in world.enrollments]
    assert "Peserta 01" in html and "PSM" in html and "Kabupaten Situbondo" in html
    for enrollment in world.enrollments:
        person = enrollment.person
        assert person.nik not in html and person.phone not in html and enrollment.access_code not in html
    assert "1985" not in html  # no birth date
    # Five buttons per row, each with its full label, none chosen yet.
    assert html.count('class="btn attendance-status') == 5 * 5
    assert html.count('aria-pressed="true"') == 0
    for value, label in Attendance.Status.choices:
        assert f'value="{value}"' in html and f'aria-label="{label}"' in html
    assert counts_in(html) == {"hadir": 0, "terlambat": 0, "izin": 0, "sakit": 0, "alpa": 0, "none": 5}
    # The client-side search: the box, the names to filter on and the script.
    assert 'id="attendance-search"' in html and 'data-name="peserta 01"' in html
    assert "js/attendance.js" in html
    assert 'id="all-present"' in html and 'id="read-only-notice"' not in html


def test_a_tap_returns_the_row_and_the_counts_out_of_band(client, world):
    client.force_login(world.teacher)
    enrollment = world.enrollments[1]
    response = client.post(
        mark_url(world), {"enrollment": enrollment.pk, "status": "izin", "note": " acara keluarga "}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<li class="list-group-item attendance-row px-2" id="row-{enrollment.pk}"')
    assert 'data-status="izin"' in html and html.count('aria-pressed="true"') == 1
    assert 'value="acara keluarga"' in html
    assert re.search(r'<div id="attendance-counts"[^>]*hx-swap-oob="true"', html)
    assert counts_in(html) == {"hadir": 0, "terlambat": 0, "izin": 1, "sakit": 0, "alpa": 0, "none": 4}
    attendance = Attendance.objects.get()
    assert (attendance.enrollment, attendance.status, attendance.note, attendance.method, attendance.recorded_by) == (
        enrollment,
        "izin",
        "acara keluarga",
        "facilitator",
        world.teacher,
    )


def test_without_javascript_a_tap_saves_and_returns_to_the_page(client, world):
    client.force_login(world.teacher)
    enrollment = world.enrollments[0]
    response = client.post(mark_url(world), {"enrollment": enrollment.pk, "status": "sakit"})
    assert response.status_code == 302
    assert response.url == f"{page_url(world)}#row-{enrollment.pk}"
    assert statuses() == {enrollment.pk: "sakit"}


def test_all_present_then_the_exceptions(client, world):
    client.force_login(world.teacher)
    first, second, third = world.enrollments[:3]
    client.post(mark_url(world), {"enrollment": first.pk, "status": "terlambat"}, **HTMX)
    response = client.post(all_present_url(world), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<ul class="list-group attendance-list" id="attendance-list">')
    assert re.findall(r'data-status="(\w*)"', html) == ["terlambat", "hadir", "hadir", "hadir", "hadir"]
    assert counts_in(html) == {"hadir": 4, "terlambat": 1, "izin": 0, "sakit": 0, "alpa": 0, "none": 0}
    assert re.search(r'<div id="attendance-notice" hx-swap-oob="true"', html)
    assert statuses()[first.pk] == "terlambat"  # recorded statuses stay

    client.post(mark_url(world), {"enrollment": second.pk, "status": "izin"}, **HTMX)
    response = client.post(mark_url(world), {"enrollment": third.pk, "status": "sakit"}, **HTMX)
    assert counts_in(response.content.decode()) == {
        "hadir": 2,
        "terlambat": 1,
        "izin": 1,
        "sakit": 1,
        "alpa": 0,
        "none": 0,
    }
    page = client.get(page_url(world)).content.decode()
    assert re.findall(r'data-status="(\w*)"', page) == ["terlambat", "izin", "sakit", "hadir", "hadir"]


def test_the_counts_of_the_page_and_of_a_tap_agree(world):
    staff, session = world.staff, world.session
    for enrollment, status in zip(world.enrollments, ["hadir", "hadir", "alpa", "izin"], strict=False):
        services.attendance_record(actor=staff, session=session, enrollment=enrollment, status=status)
    expected = {"hadir": 2, "terlambat": 0, "izin": 1, "sakit": 0, "alpa": 1, "none": 1}
    assert selectors.session_attendance(session=session).counts == expected
    assert selectors.session_attendance_counts(session=session) == expected


def test_a_refused_change_shows_its_message_in_the_row_and_keeps_the_note(client, world):
    client.force_login(world.teacher)
    enrollment = world.enrollments[0]
    response = client.post(mark_url(world), {"enrollment": enrollment.pk, "status": "bolos", "note": "ditulis"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="attendance-row-error w-100 small text-danger"' in html
    assert 'value="ditulis"' in html
    assert not Attendance.objects.exists()


@pytest.mark.parametrize("enrollment", ["", "x", "-1", "999999", str(2**70), "elsewhere"])
def test_an_unknown_participant_is_a_404(client, world, enrollment):
    if enrollment == "elsewhere":
        other = BatchFactory(organiser=world.upt, status=Batch.Status.RUNNING, start_date=START, end_date=START)
        enrollment = enrol(other, 77, by=world.staff).pk
    client.force_login(world.teacher)
    assert client.post(mark_url(world), {"enrollment": enrollment, "status": "hadir"}, **HTMX).status_code == 404
    assert not Attendance.objects.exists()


def test_after_the_batch_a_facilitator_only_reads(client, world, clock):
    services.attendance_record(
        actor=world.teacher, session=world.session, enrollment=world.enrollments[0], status="hadir"
    )
    clock.set(at(world.batch.end_date + timedelta(days=1), 9))
    client.force_login(world.teacher)
    html = client.get(page_url(world)).content.decode()
    assert 'id="read-only-notice"' in html
    assert 'id="all-present"' not in html and "hx-post" not in html
    assert html.count("disabled>") >= 5 * 5
    assert (
        client.post(mark_url(world), {"enrollment": world.enrollments[0].pk, "status": "alpa"}, **HTMX).status_code
        == 403
    )
    assert client.post(all_present_url(world), **HTMX).status_code == 403
    assert statuses() == {world.enrollments[0].pk: "hadir"}


def test_after_the_batch_the_staff_correct_with_a_reason(client, world, clock):
    services.attendance_record(
        actor=world.teacher, session=world.session, enrollment=world.enrollments[0], status="alpa"
    )
    clock.set(at(world.batch.end_date + timedelta(days=3), 10))
    client.force_login(world.staff)
    html = client.get(page_url(world)).content.decode()
    assert 'id="attendance-reason"' in html and 'hx-include="#attendance-reason"' in html
    assert 'id="all-present"' not in html
    enrollment = world.enrollments[0]

    refused = client.post(mark_url(world), {"enrollment": enrollment.pk, "status": "sakit"}, **HTMX)
    assert refused.status_code == 200 and "attendance-row-error" in refused.content.decode()
    assert statuses() == {enrollment.pk: "alpa"}

    done = client.post(
        mark_url(world), {"enrollment": enrollment.pk, "status": "sakit", "reason": "surat dokter"}, **HTMX
    )
    assert "attendance-row-error" not in done.content.decode()
    change = AttendanceChange.objects.latest("pk")
    assert (change.old_status, change.new_status, change.reason, change.method, change.changed_by) == (
        "alpa",
        "sakit",
        "surat dokter",
        "staff",
        world.staff,
    )
    # “Semua hadir” is not for corrections after the batch.
    response = client.post(all_present_url(world), **HTMX)
    assert 'class="alert alert-danger py-2"' in response.content.decode()
    assert Attendance.objects.count() == 1


def test_the_history_lists_every_change(client, world, clock):
    teacher, staff, session = world.teacher, world.staff, world.session
    first, second = world.enrollments[:2]
    client.force_login(teacher)
    client.post(all_present_url(world), **HTMX)
    client.post(mark_url(world), {"enrollment": first.pk, "status": "izin", "note": "acara keluarga"}, **HTMX)
    other = make_session(world.batch, START, time(8, 30), time(9, 0))
    stamp = services.checkin_stamp(other, services.checkin_token(other))
    services.attendance_checkin(session=other, stamp=stamp, access_code=second.access_code)
    clock.set(at(world.batch.end_date + timedelta(days=1), 9))
    client.force_login(staff)
    client.post(mark_url(world), {"enrollment": second.pk, "status": "sakit", "reason": "surat dokter"}, **HTMX)

    response = client.get(reverse("trainings:attendance_history", args=[session.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<tr data-enrollment="(\d+)" data-old="(\w*)" data-new="(\w+)">', html)
    assert len(rows) == 5 + 2
    assert (str(first.pk), "hadir", "izin") in rows and (str(second.pk), "hadir", "sakit") in rows
    assert "acara keluarga" in html and "surat dokter" in html
    assert "Bu Widya" in html and "Panitia" in html
    assert str(Attendance.Method.FACILITATOR.label) in html and str(Attendance.Method.STAFF.label) in html


def test_the_page_and_the_history_show_each_status_in_its_colour(client, world):
    """One colour per status everywhere: the CSS classes status-<value> (the recap matrix uses them too)."""
    first = world.enrollments[0]
    services.attendance_record(actor=world.staff, session=world.session, enrollment=first, status="hadir")
    services.attendance_record(actor=world.staff, session=world.session, enrollment=first, status="izin")
    client.force_login(world.staff)
    html = client.get(page_url(world)).content.decode()
    for value in Attendance.Status.values:
        assert html.count(f'class="btn attendance-status status-{value}') == 5
        assert f'class="badge fs-6 fw-normal status-fill status-{value}" data-count="{value}"' in html
    assert 'class="btn attendance-status status-izin active"' in html
    assert not re.search(r'class="btn attendance-status[^"]*btn-', html)  # no other palette besides
    history = client.get(reverse("trainings:attendance_history", args=[world.session.pk])).content.decode()
    assert 'status-fill status-hadir">' in history and 'status-fill status-izin">' in history


# ---------------------------------------------------------------------------------------------- check-in


def checkin_stamp_now(session, clock) -> str:
    """The stamp a phone gets by opening the page with the code projected now."""
    return services.checkin_stamp(session, services.checkin_token(session, clock.now))


def test_the_check_in_screen_shows_the_qr_of_the_current_token(client, world, clock):
    client.force_login(world.teacher)
    response = client.get(reverse("trainings:checkin_screen", args=[world.session.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    token = services.checkin_token(world.session, clock.now)
    assert "<svg" in html and 'class="segno"' in html
    assert (
        f'id="checkin-url" target="_blank" rel="noopener">http://testserver{checkin_url(world.session, token)}<' in html
    )
    # The partial polls itself again just after the token changes (08.05.00 is a step boundary: 31 s).
    partial = client.get(reverse("trainings:checkin_qr", args=[world.session.pk])).content.decode()
    assert 'hx-trigger="load delay:31s"' in partial and "<svg" in partial
    assert re.search(r'id="checkin-count">0<', partial)

    services.attendance_checkin(
        session=world.session,
        stamp=checkin_stamp_now(world.session, clock),
        access_code=world.enrollments[0].access_code,
    )
    clock.set(clock.now + timedelta(seconds=40))
    partial = client.get(reverse("trainings:checkin_qr", args=[world.session.pk])).content.decode()
    assert re.search(r'id="checkin-count">1<', partial)
    assert checkin_url(world.session, services.checkin_token(world.session, clock.now)) in partial
    assert token not in partial


def test_outside_its_window_the_screen_says_check_in_is_not_open(client, world, clock):
    clock.set(at(START, 7, 0))  # opens 30 minutes before 08.00
    client.force_login(world.staff)
    html = client.get(reverse("trainings:checkin_screen", args=[world.session.pk])).content.decode()
    assert 'id="checkin-closed"' in html and "<svg" not in html and "/presensi/" not in html


def stamp_in(html: str) -> str:
    return re.search(r'<input type="hidden" name="stamp" value="([^"]+)">', html).group(1)


class Phone:
    """A participant's phone: scans the projected code (GET, which gives the form its stamp and the phone its
    device cookie) and sends the form."""

    def __init__(self, client, session, token):
        self.client, self.url = client, checkin_url(session, token)
        self.page = client.get(self.url)
        self.stamp = stamp_in(self.page.content.decode()) if self.page.status_code == 200 else ""

    def send(self, code, stamp=None):
        return self.client.post(self.url, {"stamp": self.stamp if stamp is None else stamp, "access_code": code})


def scan(client, world, clock) -> Phone:
    return Phone(client, world.session, services.checkin_token(world.session, clock.now))


def test_check_in_on_the_phone_present_then_refused_a_second_time(client, world, clock):
    session, enrollment = world.session, world.enrollments[0]
    phone = scan(client, world, clock)
    assert phone.page.status_code == 200
    html = phone.page.content.decode()
    assert 'id="checkin-form"' in html and 'autocapitalize="characters"' in html and 'maxlength="8"' in html
    notice = re.search(r'<aside[^>]*id="privacy-notice".*?</aside>', html, re.S).group()
    assert "27" in notice and "2022" in notice and world.upt.name in notice
    assert session.display_title in html
    assert "no-store" in phone.page["Cache-Control"]

    done = phone.send(enrollment.access_code.lower())
    assert done.status_code == 200
    html = done.content.decode()
    assert 'id="checkin-done" data-status="hadir"' in html and "08.05" in html
    assert enrollment.access_code not in html

    clock.set(clock.now + timedelta(seconds=20))
    again = phone.send(enrollment.access_code)
    html = again.content.decode()
    assert again.status_code == 200
    assert 'id="checkin-error"' in html and 'id="checkin-form"' not in html
    assert list(Attendance.objects.values_list("status", "method")) == [("hadir", "self")]


def test_the_phone_gets_a_device_cookie_once(client, world, clock):
    phone = scan(client, world, clock)
    cookie = phone.page.cookies["sinergi_device"]
    assert len(cookie.value) >= 16
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == checkin_url(world.session, "x").removesuffix(f"{world.session.pk}/x/")
    assert cookie["max-age"]
    again = scan(client, world, clock)
    assert "sinergi_device" not in again.page.cookies  # kept, not renewed
    assert client.cookies["sinergi_device"].value == cookie.value


def test_a_late_check_in_is_terlambat(client, world, clock, settings):
    settings.CHECKIN_LATE_MINUTES = 15
    clock.set(at(START, 8, 20))
    html = scan(client, world, clock).send(world.enrollments[0].access_code).content.decode()
    assert 'data-status="terlambat"' in html and "08.20" in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_token_not_signed_for_the_session_is_a_404_that_tells_nothing(client, world, clock, method):
    session = world.session
    other = make_session(world.batch, START, time(8, 0), time(9, 0))
    step = services.checkin_token(session, clock.now).split("-")[0]
    for token in (f"{step}-0123456789abcdef", services.checkin_token(other, clock.now), "1-abc", "x" * 300):
        response = getattr(client, method)(
            checkin_url(session, token), {"access_code": world.enrollments[0].access_code}
        )
        assert response.status_code == 404, token
        html = response.content.decode()
        assert world.batch.name not in html and session.display_title not in html
        assert "sinergi_device" not in response.cookies
    assert client.get(checkin_url(other, services.checkin_token(other, clock.now))).status_code == 200
    assert client.get(checkin_url(session, "1-abc").replace(f"/{session.pk}/", f"/{2**70}/")).status_code == 404
    assert not Attendance.objects.exists()


def test_a_genuine_token_that_expired_asks_to_scan_again(client, world, clock):
    token = services.checkin_token(world.session, clock.now)
    clock.set(clock.now + timedelta(seconds=90))
    page = client.get(checkin_url(world.session, token))
    assert page.status_code == 410
    html = page.content.decode()
    assert 'id="checkin-expired"' in html and 'id="checkin-form"' not in html and 'name="stamp"' not in html
    assert world.session.display_title in html  # genuine: the page may say which session it is
    assert "sinergi_device" in page.cookies


def test_the_stamp_gives_three_minutes_to_type_the_code(client, world, clock):
    """The projected code changes every 30 seconds; the form opened with it stays good for 180 seconds."""
    first, second = world.enrollments[:2]
    slow = scan(client, world, clock)
    clock.set(clock.now + timedelta(seconds=services.CHECKIN_STAMP_SECONDS - 1))
    assert 'id="checkin-done"' in slow.send(first.access_code).content.decode()

    slower = scan(Client(), world, clock)
    clock.set(clock.now + timedelta(seconds=services.CHECKIN_STAMP_SECONDS + 1))
    expired = slower.send(second.access_code)
    assert expired.status_code == 410
    html = expired.content.decode()
    assert 'id="checkin-expired"' in html and 'id="checkin-form"' not in html
    assert list(Attendance.objects.values_list("enrollment_id", flat=True)) == [first.pk]


@pytest.mark.parametrize("stamp", ["", "forged", "1:abc:def"])
def test_the_post_needs_a_genuine_stamp_not_the_token(client, world, clock, stamp):
    phone = scan(client, world, clock)
    response = phone.send(world.enrollments[0].access_code, stamp=stamp)
    assert response.status_code == 410 and 'id="checkin-expired"' in response.content.decode()
    assert not Attendance.objects.exists()


def test_a_stamp_of_another_session_is_refused(client, world, clock):
    other = make_session(world.batch, START, time(8, 0), time(9, 0))
    phone = scan(client, world, clock)
    response = phone.send(world.enrollments[0].access_code, stamp=checkin_stamp_now(other, clock))
    assert response.status_code == 410
    assert not Attendance.objects.exists()


def test_a_code_of_another_batch_is_refused_and_the_form_kept(client, world, clock):
    other = BatchFactory(organiser=world.upt, status=Batch.Status.RUNNING, start_date=START, end_date=START)
    stranger = enrol(other, 50, by=world.staff)
    phone = scan(client, world, clock)
    response = phone.send(stranger.access_code)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="access-code-error"' in html and 'id="checkin-form"' in html and "is-invalid" in html
    assert stamp_in(html) == phone.stamp  # the same form: retype and send
    assert not Attendance.objects.exists()
    assert 'id="checkin-done"' in phone.send(world.enrollments[0].access_code).content.decode()


LIMIT = int(CHECKIN_WRONG_CODES_BY_DEVICE.rate.split("/")[0])


def test_wrong_codes_from_one_device_are_throttled_but_a_right_code_still_goes_through(client, world, clock):
    phone = scan(client, world, clock)
    for attempt in range(LIMIT):
        response = phone.send(f"WRNG{attempt:04d}")
        assert response.status_code == 200 and 'id="access-code-error"' in response.content.decode(), attempt
    throttled = phone.send("WRNG9999")
    assert throttled.status_code == 429
    assert 'id="checkin-throttled"' in throttled.content.decode()
    assert phone.send("WRNG9998").status_code == 429
    # The participant finally types their own code: it goes through.
    done = phone.send(world.enrollments[0].access_code)
    assert done.status_code == 200 and 'id="checkin-done"' in done.content.decode()
    # Another phone at the same address is not held back.
    neighbour = scan(Client(), world, clock)
    assert neighbour.send("WRNG0000").status_code == 200
    assert neighbour.send(world.enrollments[1].access_code).status_code == 200
    assert Attendance.objects.count() == 2


def test_only_wrong_codes_count_towards_the_throttle(client, world, clock):
    """Expired stamps and second check-ins are refused, but they are not guesses."""
    first = world.enrollments[0]
    phone = scan(client, world, clock)
    phone.send(first.access_code)
    for _attempt in range(LIMIT + 2):
        assert phone.send(first.access_code).status_code == 200  # already recorded
        assert phone.send(world.enrollments[1].access_code, stamp="stale").status_code == 410
    assert phone.send("WRNG0000").status_code == 200


def test_a_whole_room_behind_one_address_checks_in(world, clock):
    """Right codes never count towards the throttle: a room of 40 shares the venue's Wi-Fi address."""
    room = world.enrollments + [enrol(world.batch, n, by=world.staff) for n in range(6, 41)]
    for enrollment in room:
        phone = scan(Client(), world, clock)
        response = phone.send(enrollment.access_code)
        assert response.status_code == 200 and 'id="checkin-done"' in response.content.decode()
    assert Attendance.objects.filter(method="self").count() == len(room) == 40


def test_a_whole_room_on_one_phone_checks_in(client, world, clock):
    """A participant without a phone borrows one: the same device checks many in, a few mistyped."""
    room = world.enrollments + [enrol(world.batch, n, by=world.staff) for n in range(6, 41)]
    for number, enrollment in enumerate(room):
        phone = scan(client, world, clock)
        if number % 8 == 0:
            phone.send("WRNG0000")
        assert 'id="checkin-done"' in phone.send(enrollment.access_code).content.decode()
    assert Attendance.objects.filter(method="self").count() == 40


def wrong_codes_from(ip: str, times: int):
    """Earlier wrong codes from an address, counted in the throttle's own counter, as the view counts them."""
    request = RequestFactory().post("/", REMOTE_ADDR=ip)
    for _attempt in range(times):
        CHECKIN_WRONG_CODES_BY_ADDRESS.count(request)


def test_a_venue_of_264_with_three_typos_each_is_not_held_back_by_its_address(world, clock):
    wrong_codes_from("127.0.0.1", 264 * 3)  # the test client's address
    phone = scan(Client(), world, clock)
    assert phone.send("WRNG0000").status_code == 200
    assert 'id="checkin-done"' in phone.send(world.enrollments[0].access_code).content.decode()


def test_an_address_over_its_limit_refuses_every_code_from_any_device(world, clock):
    """A guesser who throws away its cookie still counts against its address, and once over the limit even a
    right code is refused, so that the answers tell it nothing about which codes are right."""
    limit = int(CHECKIN_WRONG_CODES_BY_ADDRESS.rate.split("/")[0])
    wrong_codes_from("127.0.0.1", limit)
    phone = scan(Client(), world, clock)
    assert phone.send("WRNG0000").status_code == 429  # one over the limit
    right = phone.send(world.enrollments[0].access_code)
    assert right.status_code == 429 and 'id="checkin-throttled"' in right.content.decode()
    assert not Attendance.objects.exists()


@override_settings(DEBUG=False)
def test_with_the_cache_down_right_codes_check_in_and_wrong_ones_get_try_again_shortly(world, clock):
    phone = scan(Client(raise_request_exception=False), world, clock)
    with cache_down():
        wrong = phone.send("WRNG0000")
        assert wrong.status_code == 503 and "coba lagi sebentar" in wrong.content.decode()
        assert 'id="checkin-done"' in phone.send(world.enrollments[0].access_code).content.decode()
    assert Attendance.objects.filter(method="self").count() == 1


# ------------------------------------------------------------------------------------ live counts


def live_url(world, since=None, recording="1"):
    url = reverse("trainings:attendance_live", args=[world.session.pk])
    return url if since is None else f"{url}?since={since}&recording={recording}"


def live_element(html: str) -> str:
    return re.search(r'<div id="attendance-live"[^>]*>', html).group()


def test_while_check_in_is_open_the_page_refreshes_its_counts_every_20_seconds(client, world, clock):
    client.force_login(world.teacher)
    element = live_element(client.get(page_url(world)).content.decode())
    assert 'hx-trigger="every 20s"' in element and live_url(world) in element
    since = int(re.search(r"since=(\d+)", element).group(1))
    assert since == int(clock.now.timestamp() * 1000) - LIVE_OVERLAP_MS
    assert "recording=1" in element


def test_before_check_in_opens_the_page_refreshes_once_at_the_opening(client, world, clock):
    clock.set(at(START, 7, 0))  # opens 07.30
    client.force_login(world.staff)
    element = live_element(client.get(page_url(world)).content.decode())
    assert 'hx-trigger="load delay:1800s"' in element


def test_a_facilitator_sees_when_a_session_to_come_can_be_recorded(client, world, clock):
    clock.set(at(START, 7, 0))
    client.force_login(world.teacher)
    html = client.get(page_url(world)).content.decode()
    assert 'id="not-yet-notice"' in html and "07.30" in html and 'id="read-only-notice"' not in html
    assert "recording=0" in live_element(html) and 'id="all-present"' not in html
    assert client.post(mark_url(world), {"enrollment": world.enrollments[0].pk, "status": "hadir"}).status_code == 403
    # At the opening the refresh finds the facilitator may now record: the page reloads.
    clock.set(at(START, 7, 30))
    response = client.get(live_url(world, since=1, recording="0"), **HTMX)
    assert response["HX-Refresh"] == "true"
    assert "HX-Refresh" not in client.get(live_url(world, since=1, recording="1"), **HTMX)


@pytest.mark.parametrize("when", [at(START, 9, 31), at(START - timedelta(days=1), 7, 0)])
def test_when_check_in_is_over_or_another_day_the_page_does_not_refresh(client, world, clock, when):
    clock.set(when)
    client.force_login(world.staff)
    element = live_element(client.get(page_url(world)).content.decode())
    assert "hx-get" not in element and "hx-trigger" not in element


def test_the_refresh_brings_the_counts_and_the_rows_of_new_check_ins(client, world, clock):
    first, second, third = world.enrollments[:3]
    client.force_login(world.teacher)
    page = client.get(page_url(world)).content.decode()
    since = re.search(r"since=(\d+)", live_element(page)).group(1)
    client.post(mark_url(world), {"enrollment": first.pk, "status": "izin"}, **HTMX)  # the facilitator's own tap
    clock.set(clock.now + timedelta(seconds=10))
    for enrollment in (second, third):
        services.attendance_checkin(
            session=world.session, stamp=checkin_stamp_now(world.session, clock), access_code=enrollment.access_code
        )
    clock.set(clock.now + timedelta(seconds=10))

    response = client.get(live_url(world, since=since), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    # The element itself, renewed to ask from now on.
    assert html.lstrip().startswith('<div id="attendance-live"')
    assert f"since={int(clock.now.timestamp() * 1000) - LIVE_OVERLAP_MS}" in live_element(html)
    assert re.search(r'<div id="attendance-counts"[^>]*hx-swap-oob="true"', html)
    assert counts_in(html) == {"hadir": 2, "terlambat": 0, "izin": 1, "sakit": 0, "alpa": 0, "none": 2}
    rows = re.findall(r'<li class="list-group-item attendance-row[^>]*id="row-(\d+)"[^>]*hx-swap-oob="true"', html)
    assert rows == [str(second.pk), str(third.pk)]  # not the row the facilitator may be writing a note in
    assert 'data-status="hadir"' in html and "hx-post" in html  # the rows can be tapped as usual

    # The next refresh brings no row again once the overlap has passed.
    clock.set(clock.now + timedelta(seconds=20))
    later = client.get(live_url(world, since=re.search(r"since=(\d+)", live_element(html)).group(1)), **HTMX)
    assert "attendance-row" not in later.content.decode()


@pytest.mark.parametrize("since", ["", "x", "-5", str(10**30)])
def test_a_refresh_without_a_usable_time_brings_only_the_counts(client, world, clock, since):
    services.attendance_checkin(
        session=world.session,
        stamp=checkin_stamp_now(world.session, clock),
        access_code=world.enrollments[0].access_code,
    )
    client.force_login(world.staff)
    response = client.get(f"{live_url(world)}?since={since}", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert counts_in(html)["hadir"] == 1 and "attendance-row" not in html


# ------------------------------------------------------------------------------------------ query counts


def enrol_many(world, count):
    for n in range(len(world.enrollments) + 1, count + 1):
        enrol(world.batch, n, by=world.staff)


@pytest.mark.parametrize("who", ["teacher", "staff"])
def test_the_page_costs_the_same_queries_for_5_and_40_participants(client, world, django_assert_num_queries, who):
    client.force_login(getattr(world, who))
    services.attendance_mark_all_present(actor=world.staff, session=world.session)
    # Session and user (2); the session with its batch (1) and, for a facilitator, its facilitators (2) and
    # their own record (1); the participants and their attendance (2).
    expected = 8 if who == "teacher" else 5
    with django_assert_num_queries(expected):
        small = client.get(page_url(world))
    enrol_many(world, 40)
    with django_assert_num_queries(expected):
        large = client.get(page_url(world))
    assert (len(small.context["rows"]), len(large.context["rows"])) == (5, 40)


@pytest.mark.parametrize("who", ["teacher", "staff"])
def test_a_tap_is_cheap(client, world, django_assert_num_queries, who):
    enrol_many(world, 40)
    client.force_login(getattr(world, who))
    enrollment = world.enrollments[0]
    # Session and user (2); the session (1) [+ facilitators (2) and record (1)]; the participant (1); the
    # savepoint (2), the session's lock, the participant's lock, the read, the write and its history (5); the
    # counts (2).
    expected = 16 if who == "teacher" else 13
    with django_assert_num_queries(expected):
        response = client.post(mark_url(world), {"enrollment": enrollment.pk, "status": "izin"}, **HTMX)
    assert counts_in(response.content.decode())["izin"] == 1


def test_the_history_costs_the_same_queries_for_any_number_of_changes(client, world, django_assert_num_queries):
    client.force_login(world.staff)
    url = reverse("trainings:attendance_history", args=[world.session.pk])
    services.attendance_record(
        actor=world.staff, session=world.session, enrollment=world.enrollments[0], status="hadir"
    )
    with django_assert_num_queries(4):
        client.get(url)
    enrol_many(world, 40)
    services.attendance_mark_all_present(actor=world.staff, session=world.session)
    with django_assert_num_queries(4):
        response = client.get(url)
    assert len(response.context["changes"]) == 40


@pytest.mark.parametrize("who", ["teacher", "staff"])
def test_the_refresh_costs_the_same_queries_for_5_and_40_participants(
    client, world, clock, django_assert_num_queries, who
):
    client.force_login(getattr(world, who))
    since = int(clock.now.timestamp() * 1000)
    services.attendance_checkin(
        session=world.session,
        stamp=checkin_stamp_now(world.session, clock),
        access_code=world.enrollments[0].access_code,
    )
    # As the page: session and user (2), the session (1) [+ facilitators (2) and record (1)], the participants
    # and their attendance (2).
    expected = 8 if who == "teacher" else 5
    with django_assert_num_queries(expected):
        small = client.get(live_url(world, since=since), **HTMX)
    enrol_many(world, 40)
    with django_assert_num_queries(expected):
        large = client.get(live_url(world, since=since), **HTMX)
    assert counts_in(small.content.decode())["none"] == 4 and counts_in(large.content.decode())["none"] == 39
    assert len(large.context["rows"]) == 1
