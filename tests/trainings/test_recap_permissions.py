"""Who gets what from the attendance recap and the teaching record: a matrix of roles × URL names.

Anonymous visitors are sent to the login page. The batch's staff get every page; an operator whose kabupaten
the batch concerns gets the recap and its export (their own participants only) but not the teaching form; a
facilitator teaching in the batch can find it but may see neither (403). Whoever cannot find the batch
(another organiser's staff, the operator of a kabupaten without a quota, a facilitator who does not teach in
it) gets 404, so ids cannot be probed."""

from datetime import date

import pytest
from django.urls import reverse

from participants.models import Enrollment, Nomination, Person
from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OperatorFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation, Session

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
START, END = date(2025, 10, 13), date(2025, 10, 16)

ROLES = [
    "anonymous",
    "staff",
    "other_staff",
    "operator_situbondo",
    "operator_gresik",
    "facilitator",
    "idle_facilitator",
]


def enrol(batch, kabupaten_code, serial, staff):
    person = Person.objects.create(
        nik=f"{kabupaten_code.replace('.', '')}01170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(kabupaten_code),
        pillar_type=pillar("psm"),
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region(kabupaten_code),
        pillar_type=pillar("psm"),
        status=Nomination.Status.ACCEPTED,
        nominated_by=staff,
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


@pytest.fixture
def world():
    """A running batch of the UPT that gives Situbondo a quota, with a Situbondo participant and one session
    taught by `facilitator`, and one user of every role."""
    upt, other = OrganiserFactory(code="UPT-PTKS"), OrganiserFactory(code="DINSOS-SBY")
    program = ProgramFactory(organiser=upt)
    batch = BatchFactory(
        organiser=upt,
        program=program,
        name="Angkatan I Kabupaten Situbondo",
        start_date=START,
        end_date=END,
        status=Batch.Status.RUNNING,
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    teacher = FacilitatorUserFactory(record__organiser=upt)
    session = SessionFactory(batch=batch, module=ModuleFactory(program=program, jp=2), date=START)
    session.facilitators.add(teacher.facilitator)
    staff = StaffFactory(organiser=upt)
    enrol(batch, SITUBONDO, 1, staff)
    users = {
        "anonymous": None,
        "staff": staff,
        "other_staff": StaffFactory(organiser=other),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": teacher,
        "idle_facilitator": FacilitatorUserFactory(record__organiser=upt),
    }
    stand_in = FacilitatorFactory(organiser=upt)
    return {"batch": batch, "session": session, "users": users, "stand_in": stand_in}


# name: (method, URL argument, POST data or None). The URL argument names an object of the world.
URLS = {
    "attendance_matrix": ("get", "batch", None),
    "attendance_export": ("get", "batch", None),
    "session_teaching": ("get", "session", None),
    "session_teaching_post": ("post", "session", "stand_in"),
}
OK, DENIED, HIDDEN = "ok", 403, 404
OPERATOR_PAGES = {"attendance_matrix", "attendance_export"}


def expected(role: str, name: str):
    if role in ("other_staff", "operator_gresik", "idle_facilitator"):
        return HIDDEN
    if role == "staff":
        return OK
    if role == "operator_situbondo" and name in OPERATOR_PAGES:
        return OK
    return DENIED


def request(client, world, role, name):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    method, arg, data = URLS[name]
    url = reverse(f"trainings:{name.removesuffix('_post')}", args=[world[arg].pk])
    if method == "post":
        return url, client.post(url, {"facilitators": [world[data].pk]})
    return url, client.get(url)


def teaching(world):
    session = Session.objects.get(pk=world["session"].pk)
    return session.taught_recorded, sorted(session.taught_by.values_list("pk", flat=True))


def test_the_matrix_covers_every_recap_url():
    from trainings.recap_views import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == {name.removesuffix("_post") for name in URLS}


@pytest.mark.parametrize("name", list(URLS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, name):
    before = teaching(world)
    url, response = request(client, world, role, name)
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
        assert teaching(world) == before
        return
    outcome = expected(role, name)
    if outcome == OK:
        assert response.status_code == (302 if name.endswith("_post") else 200)
    else:
        assert response.status_code == outcome
    if outcome == OK and name.endswith("_post"):
        assert teaching(world) == (True, [world["stand_in"].pk])
    else:
        assert teaching(world) == before  # nothing recorded by those who may not


def test_an_operator_of_situbondo_gets_404_for_a_gresik_only_batch(client, world):
    gresik_only = BatchFactory(organiser=world["batch"].organiser, status=Batch.Status.RUNNING)
    QuotaAllocation.objects.create(batch=gresik_only, kind="kabupaten", region=region(GRESIK), seats=10)
    enrol(gresik_only, GRESIK, 2, world["users"]["staff"])
    client.force_login(world["users"]["operator_situbondo"])
    assert client.get(reverse("trainings:attendance_matrix", args=[gresik_only.pk])).status_code == 404
    assert client.get(reverse("trainings:attendance_export", args=[gresik_only.pk])).status_code == 404


def test_an_operator_of_a_batch_open_to_every_kabupaten_sees_only_their_own(client, world):
    """No regional quota: every operator finds the batch, and sees none but their kabupaten's participants."""
    open_to_all = BatchFactory(organiser=world["batch"].organiser, status=Batch.Status.RUNNING)
    enrol(open_to_all, GRESIK, 3, world["users"]["staff"])
    client.force_login(world["users"]["operator_situbondo"])
    response = client.get(reverse("trainings:attendance_matrix", args=[open_to_all.pk]))
    assert response.status_code == 200
    assert response.context["matrix"].rows == []
    client.force_login(world["users"]["operator_gresik"])
    response = client.get(reverse("trainings:attendance_matrix", args=[open_to_all.pk]))
    assert [row.enrollment.person.full_name for row in response.context["matrix"].rows] == ["Peserta 3"]


def test_a_draft_batch_is_hidden_from_operators(client, world):
    Batch.objects.filter(pk=world["batch"].pk).update(status=Batch.Status.DRAFT)
    client.force_login(world["users"]["operator_situbondo"])
    assert client.get(reverse("trainings:attendance_matrix", args=[world["batch"].pk])).status_code == 404


@pytest.mark.parametrize("name", ["attendance_matrix", "attendance_export", "session_teaching"])
def test_unknown_ids_are_404(client, world, name):
    client.force_login(world["users"]["staff"])
    assert client.get(reverse(f"trainings:{name}", args=[2**31 - 1])).status_code == 404


def test_the_recap_pages_only_answer_get(client, world):
    client.force_login(world["users"]["staff"])
    for name in ("attendance_matrix", "attendance_export"):
        assert client.post(reverse(f"trainings:{name}", args=[world["batch"].pk])).status_code == 405
