"""Who gets what from every attendance URL, GET and POST: a matrix of roles × views × methods.

Anonymous visitors are sent to the login page (302), except on the public check-in page. A user who may act
gets the page (200) or, after a form POST without htmx, a redirect (302). A user who can find the session's
batch but may not record its attendance gets 403 (an operator of a kabupaten with a quota, a facilitator
teaching another session of the batch). A user for whom the batch does not exist (another organiser's staff,
the operator of a kabupaten without a quota, a facilitator who does not teach in the batch) gets 404. A method
a view does not take is 405 once logged in."""

from datetime import date, time, timedelta

import pytest
from django.urls import reverse

from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    StaffFactory,
    region,
)
from tests.trainings.test_attendance_views import Clock, at, enrol, make_session, stamp_in
from trainings import attendance_views, services
from trainings.models import Attendance, AttendanceChange, Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

START = date(2025, 10, 13)
SITUBONDO, GRESIK = "35.12", "35.25"

ROLES = [
    "anonymous",
    "staff",
    "other_staff",
    "operator_situbondo",
    "operator_gresik",
    "facilitator",
    "idle_facilitator",
    "outside_facilitator",
]
OK, DENIED, HIDDEN, NOT_ALLOWED, LOGIN = "ok", 403, 404, 405, 302


@pytest.fixture
def world(monkeypatch):
    """A running batch of the UPT giving Situbondo a quota, on 13–15 October 2025 (the clock: the 13th at
    08.05), with a session taught by `facilitator` and another by `idle_facilitator`, two participants from
    Situbondo, and one user of every role."""
    Clock(monkeypatch)
    upt, other = OrganiserFactory(code="UPT-PTKS"), OrganiserFactory(code="DINSOS-SBY")
    staff = StaffFactory(organiser=upt)
    batch = BatchFactory(
        organiser=upt, status=Batch.Status.RUNNING, start_date=START, end_date=START + timedelta(days=2)
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    teacher = FacilitatorUserFactory(record__organiser=upt)
    idle = FacilitatorUserFactory(record__organiser=upt)
    outsider = FacilitatorUserFactory(record__organiser=upt)
    session = make_session(batch, START, time(8, 0), time(9, 30), facilitators=[teacher.facilitator])
    make_session(batch, START, time(10, 0), time(11, 30), facilitators=[idle.facilitator])
    elsewhere = BatchFactory(organiser=upt, status=Batch.Status.RUNNING, start_date=START, end_date=START)
    make_session(elsewhere, START, time(8, 0), time(9, 0), facilitators=[outsider.facilitator])
    enrollments = [enrol(batch, n, by=staff) for n in (1, 2)]
    users = {
        "anonymous": None,
        "staff": staff,
        "other_staff": StaffFactory(organiser=other),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": teacher,
        "idle_facilitator": idle,
        "outside_facilitator": outsider,
    }
    return {"batch": batch, "session": session, "enrollments": enrollments, "users": users}


# name: (the methods it takes, whether its URL names the session)
VIEWS = {
    "my_sessions": ({"get"}, False),
    "session_attendance": ({"get"}, True),
    "attendance_live": ({"get"}, True),
    "attendance_mark": ({"post"}, True),
    "attendance_all_present": ({"post"}, True),
    "attendance_history": ({"get"}, True),
    "checkin_screen": ({"get"}, True),
    "checkin_qr": ({"get"}, True),
}
RECORDERS = {"staff", "facilitator"}
CAN_FIND = {"staff", "operator_situbondo", "facilitator", "idle_facilitator"}


def expected(role: str, name: str, method: str):
    methods, _needs_session = VIEWS[name]
    if role == "anonymous":
        return LOGIN
    if method not in methods:
        return NOT_ALLOWED
    if name == "my_sessions":
        return OK if role.endswith("facilitator") else DENIED
    if role not in CAN_FIND:
        return HIDDEN
    if name == "attendance_history":
        return OK if role == "staff" else DENIED
    return OK if role in RECORDERS else DENIED


def url_of(world, name):
    _methods, needs_session = VIEWS[name]
    return reverse(f"trainings:{name}", args=[world["session"].pk] if needs_session else [])


def post_data(world):
    return {"enrollment": world["enrollments"][0].pk, "status": "izin"}


def snapshot():
    return list(Attendance.objects.values_list("enrollment_id", "status")), AttendanceChange.objects.count()


def test_the_matrix_covers_every_attendance_url():
    assert {pattern.name for pattern in attendance_views.urlpatterns} == set(VIEWS) | {"checkin"}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", list(VIEWS))
@pytest.mark.parametrize("role", ROLES)
def test_matrix(client, world, role, name, method):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    url = url_of(world, name)
    before = snapshot()
    response = getattr(client, method)(url, post_data(world) if method == "post" else None)
    want = expected(role, name, method)
    if want == LOGIN:
        assert response.status_code == 302 and reverse("accounts:login") in response.url
    elif want == OK:
        # A form POST without htmx saves and returns to the attendance page.
        assert response.status_code == (302 if method == "post" else 200)
        if method == "post":
            assert response.url.startswith(reverse("trainings:session_attendance", args=[world["session"].pk]))
    else:
        assert response.status_code == want
    if want != OK or method == "get":
        assert snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_the_check_in_page_is_public(client, world, role):
    """Anyone with the scanned link may check in with a participant's code: no login, whatever the account."""
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    session = world["session"]
    url = reverse("trainings:checkin", args=[session.pk, services.checkin_token(session)])
    page = client.get(url)
    assert page.status_code == 200 and 'id="checkin-form"' in page.content.decode()
    enrollment = world["enrollments"][0]
    response = client.post(url, {"stamp": stamp_in(page.content.decode()), "access_code": enrollment.access_code})
    assert response.status_code == 200 and 'id="checkin-done"' in response.content.decode()
    assert Attendance.objects.get(enrollment=enrollment).method == Attendance.Method.SELF


def test_the_check_in_page_of_an_unknown_session_is_a_404(client, world):
    token = services.checkin_token(world["session"])
    for pk in (999999, 2**31, 2**70):
        assert client.get(reverse("trainings:checkin", args=[pk, token])).status_code == 404
        assert client.post(reverse("trainings:checkin", args=[pk, token]), {"access_code": "X"}).status_code == 404
    assert client.put(reverse("trainings:checkin", args=[world["session"].pk, token])).status_code == 405


def test_a_facilitator_recorded_as_having_taught_may_record(client, world):
    """A substitute who was not scheduled, once staff record that they taught, finds and records the session."""
    substitute = FacilitatorUserFactory(record__organiser=world["batch"].organiser)
    session = world["session"]
    client.force_login(substitute)
    assert client.get(url_of(world, "session_attendance")).status_code == 404
    services.session_record_teaching(
        actor=world["users"]["staff"], session=session, facilitators=[substitute.facilitator]
    )
    assert client.get(url_of(world, "session_attendance")).status_code == 200
    assert client.post(url_of(world, "attendance_mark"), post_data(world)).status_code == 302
    assert Attendance.objects.get().recorded_by == substitute


def test_after_the_batch_facilitators_read_and_staff_still_record(client, world, monkeypatch):
    Clock(monkeypatch).set(at(world["batch"].end_date + timedelta(days=1), 9))
    teacher, staff = world["users"]["facilitator"], world["users"]["staff"]
    client.force_login(teacher)
    assert client.get(url_of(world, "session_attendance")).status_code == 200
    assert client.post(url_of(world, "attendance_mark"), post_data(world)).status_code == 403
    assert client.post(url_of(world, "attendance_all_present")).status_code == 403
    client.force_login(staff)
    data = {**post_data(world), "reason": "daftar hadir kertas"}
    assert client.post(url_of(world, "attendance_mark"), data).status_code == 302
    assert Attendance.objects.get().status == "izin"
