"""The attendance pages: a facilitator's sessions, marking by htmx, “semua hadir”, the counts, the read-only
page after the batch, the staff's corrections with a reason and the change history; QR check-in from the
projector screen to the participant's phone, with its refusals and its throttle; and the query counts."""

import re
import types
from datetime import date, datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

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
from trainings import selectors, services
from trainings.attendance_views import CHECKIN_FAILURE_RATE
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
    """The time the application sees: timezone.now() is patched for the test."""

    def __init__(self, monkeypatch):
        self.now = at(START, 8, 5)
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, value):
        self.now = value


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _fresh_throttle(monkeypatch):
    """The throttle counts in the cache, by windows of the wall clock: start empty, in one fixed window."""
    cache.clear()
    import django_ratelimit.core

    fixed = datetime(2025, 10, 13, 1, 0, 10).timestamp()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: fixed))
    yield
    cache.clear()


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
    services.attendance_checkin(session=other, token=services.checkin_token(other), access_code=second.access_code)
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


# ---------------------------------------------------------------------------------------------- check-in


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

    services.attendance_checkin(session=world.session, token=token, access_code=world.enrollments[0].access_code)
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


def checkin(client, session, token, code):
    return client.post(checkin_url(session, token), {"access_code": code})


def test_check_in_on_the_phone_present_then_refused_a_second_time(client, world, clock):
    session, enrollment = world.session, world.enrollments[0]
    token = services.checkin_token(session, clock.now)
    page = client.get(checkin_url(session, token))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="checkin-form"' in html and 'autocapitalize="characters"' in html and 'maxlength="8"' in html
    notice = re.search(r'<aside[^>]*id="privacy-notice".*?</aside>', html, re.S).group()
    assert "27" in notice and "2022" in notice and world.upt.name in notice
    assert session.display_title in html

    done = checkin(client, session, token, enrollment.access_code.lower())
    assert done.status_code == 200
    html = done.content.decode()
    assert 'id="checkin-done" data-status="hadir"' in html and "08.05" in html
    assert enrollment.access_code not in html

    clock.set(clock.now + timedelta(seconds=20))
    again = checkin(client, session, token, enrollment.access_code)
    assert 'id="checkin-error"' in again.content.decode() and 'id="checkin-form"' not in again.content.decode()
    assert list(Attendance.objects.values_list("status", "method")) == [("hadir", "self")]


def test_a_late_check_in_is_terlambat(client, world, clock, settings):
    settings.CHECKIN_LATE_MINUTES = 15
    clock.set(at(START, 8, 20))
    token = services.checkin_token(world.session, clock.now)
    html = checkin(client, world.session, token, world.enrollments[0].access_code).content.decode()
    assert 'data-status="terlambat"' in html and "08.20" in html


def test_an_expired_or_forged_token_is_refused(client, world, clock):
    session, enrollment = world.session, world.enrollments[0]
    token = services.checkin_token(session, clock.now)
    clock.set(clock.now + timedelta(seconds=90))
    page = client.get(checkin_url(session, token)).content.decode()
    assert 'id="checkin-expired"' in page and 'id="checkin-form"' not in page
    expired = checkin(client, session, token, enrollment.access_code).content.decode()
    assert 'id="checkin-error"' in expired
    step = services.checkin_token(session, clock.now).split("-")[0]
    forged = checkin(client, session, f"{step}-0123456789abcdef", enrollment.access_code).content.decode()
    assert 'id="checkin-error"' in forged
    assert not Attendance.objects.exists()


def test_a_code_of_another_batch_is_refused_and_the_form_kept(client, world, clock):
    other = BatchFactory(organiser=world.upt, status=Batch.Status.RUNNING, start_date=START, end_date=START)
    stranger = enrol(other, 50, by=world.staff)
    token = services.checkin_token(world.session, clock.now)
    response = checkin(client, world.session, token, stranger.access_code)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="access-code-error"' in html and 'id="checkin-form"' in html and "is-invalid" in html
    assert not Attendance.objects.exists()


def test_repeated_wrong_codes_from_one_address_are_throttled(client, world, clock):
    session = world.session
    token = services.checkin_token(session, clock.now)
    limit = int(CHECKIN_FAILURE_RATE.split("/")[0])
    for attempt in range(limit):
        response = checkin(client, session, token, f"WRONG{attempt:03d}")
        assert response.status_code == 200, attempt
    throttled = checkin(client, session, token, world.enrollments[0].access_code)
    assert throttled.status_code == 429
    assert 'id="checkin-throttled"' in throttled.content.decode()
    assert not Attendance.objects.exists()
    # Another address is not held back.
    other = client.post(
        checkin_url(session, token), {"access_code": world.enrollments[0].access_code}, REMOTE_ADDR="10.0.0.9"
    )
    assert other.status_code == 200 and Attendance.objects.count() == 1


def test_a_whole_room_behind_one_address_checks_in(client, world, clock):
    """Successful check-ins do not count towards the throttle: a room shares the venue's Wi-Fi."""
    limit = int(CHECKIN_FAILURE_RATE.split("/")[0])
    room = world.enrollments + [enrol(world.batch, n, by=world.staff) for n in range(6, limit + 8)]
    token = services.checkin_token(world.session, clock.now)
    for enrollment in room:
        assert checkin(client, world.session, token, enrollment.access_code).status_code == 200
    assert Attendance.objects.filter(method="self").count() == len(room) > limit


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
    # savepoint (2), the locked read, the write and its history (3); the counts (1).
    expected = 13 if who == "teacher" else 10
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
