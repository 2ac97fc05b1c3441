"""Who gets what from every trainings URL: a matrix of roles × URL names.

Anonymous visitors are sent to the login page. A user who may act gets the page (200) or, after a POST, a
redirect (302). A user who can find the batch but may not act on it gets 403. A user for whom the batch does
not exist (another organiser's staff, the operator of a kabupaten without a quota, a facilitator who does not
teach in it) gets 404, so ids cannot be probed."""

from datetime import date

import pytest
from django.urls import reverse

from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OperatorFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    StaffFactory,
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


@pytest.fixture
def world():
    """An open batch of the UPT that gives Situbondo a quota and has one session taught by `facilitator`,
    and one user of every role."""
    upt, other = OrganiserFactory(code="UPT-PTKS"), OrganiserFactory(code="DINSOS-SBY")
    program = ProgramFactory(organiser=upt)
    module = ModuleFactory(program=program, jp=2)
    batch = BatchFactory(
        organiser=upt,
        program=program,
        name="Angkatan I Kabupaten Situbondo",
        start_date=START,
        end_date=END,
        quota_total=40,
        status=Batch.Status.NOMINATION_OPEN,
    )
    allocation = QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    teacher = FacilitatorUserFactory(record__organiser=upt)
    session = SessionFactory(batch=batch, module=module, date=START)
    session.facilitators.add(teacher.facilitator)
    users = {
        "anonymous": None,
        "staff": StaffFactory(organiser=upt),
        "other_staff": StaffFactory(organiser=other),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": teacher,
        "idle_facilitator": FacilitatorUserFactory(record__organiser=upt),
    }
    return {"batch": batch, "allocation": allocation, "session": session, "module": module, "users": users}


def client_for(client, world, role):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


# name: (method, URL arguments, POST data). The URL arguments name objects of the world.
URLS = {
    "batch_list": ("get", (), None),
    "batch_create": ("get", (), None),
    "batch_detail": ("get", ("batch",), None),
    "batch_edit": ("get", ("batch",), None),
    "batch_status": ("post", ("batch",), {"action": "close"}),
    "allocation_add": ("get", ("batch",), None),
    "allocation_edit": ("get", ("batch", "allocation"), None),
    "allocation_delete": ("post", ("batch", "allocation"), {}),
    "day_venues": ("get", ("batch",), None),
    "schedule": ("get", ("batch",), None),
    "schedule_copy": ("post", ("batch",), {}),
    "session_add": ("get", ("batch",), None),
    "session_edit": ("get", ("batch", "session"), None),
    "session_delete": ("post", ("batch", "session"), {}),
    "calendar": ("get", (), None),
    "workload": ("get", (), None),
    "my_batches": ("get", (), None),
}

OK, DENIED, HIDDEN = "ok", 403, 404
STAFF_PAGES = {"batch_list", "batch_create", "calendar", "workload"}
BATCH_CHANGE = set(URLS) - STAFF_PAGES - {"batch_detail", "my_batches"}


def expected(role: str, name: str):
    """OK, DENIED or HIDDEN (anonymous users are handled apart)."""
    if name in STAFF_PAGES:
        return OK if role in ("staff", "other_staff") else DENIED
    if name == "my_batches":
        return DENIED if role in ("staff", "other_staff") else OK
    can_find = role in ("staff", "operator_situbondo", "facilitator")
    if not can_find:
        return HIDDEN
    if name == "batch_detail" or role == "staff":
        return OK
    assert name in BATCH_CHANGE
    return DENIED


def url_of(world, name):
    method, args, data = URLS[name]
    return method, reverse(f"trainings:{name}", args=[world[arg].pk for arg in args]), data


def snapshot(world):
    """What any of the URLs could change."""
    batch = Batch.objects.get(pk=world["batch"].pk)
    return (
        batch.status,
        list(QuotaAllocation.objects.filter(batch=batch).values_list("pk", "seats")),
        list(Session.objects.filter(batch=batch).values_list("pk", "date", "start_time")),
    )


def test_the_matrix_covers_every_trainings_url():
    from trainings import attendance_views, dashboard_views, recap_views
    from trainings.urls import urlpatterns

    # The attendance, recap and dashboard pages have permission matrices of their own.
    own = {
        pattern.name
        for pattern in (*attendance_views.urlpatterns, *recap_views.urlpatterns, *dashboard_views.urlpatterns)
    }
    assert {pattern.name for pattern in urlpatterns} - own == set(URLS)


@pytest.mark.parametrize("name", list(URLS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, name):
    method, url, data = url_of(world, name)
    before = snapshot(world)
    client = client_for(client, world, role)
    response = getattr(client, method)(url, data) if method == "post" else client.get(url)

    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login") + "?next=")
        assert snapshot(world) == before
        return
    outcome = expected(role, name)
    if outcome == OK:
        assert response.status_code == (302 if method == "post" else 200)
        if method == "post":
            batch = world["batch"]
            assert response.url in {
                reverse("trainings:batch_detail", args=[batch.pk]),
                reverse("trainings:schedule", args=[batch.pk]),
            }
    else:
        assert response.status_code == outcome
        assert snapshot(world) == before


# Form pages posted by users who may not use them: refused the same way, and nothing is written.
FORM_POSTS = {
    "batch_create": lambda world: {
        "program": world["batch"].program_id,
        "name": "Angkatan baru",
        "start_date": "2025-11-10",
        "end_date": "2025-11-12",
        "venue": "Aula",
        "quota_total": "10",
    },
    "batch_edit": lambda world: {
        "program": world["batch"].program_id,
        "name": "Diubah",
        "start_date": "2025-10-13",
        "end_date": "2025-10-16",
        "venue": "Aula",
        "quota_total": "40",
    },
    "allocation_add": lambda world: {"kind": "kabupaten", "region": region(GRESIK).pk, "seats": "5"},
    "allocation_edit": lambda world: {"kind": "kabupaten", "region": region(SITUBONDO).pk, "seats": "3"},
    "day_venues": lambda world: {"2025-10-14": "Hotel lain"},
    "session_add": lambda world: {
        "date": "2025-10-15",
        "start_time": "08:00",
        "end_time": "09:30",
        "kind": "materi",
        "module": world["module"].pk,
        "jp": "2",
    },
    "session_edit": lambda world: {
        "date": "2025-10-16",
        "start_time": "13:00",
        "end_time": "14:30",
        "kind": "materi",
        "module": world["module"].pk,
        "jp": "2",
    },
}


@pytest.mark.parametrize("name", list(FORM_POSTS))
@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("anonymous", "staff")])
def test_posting_a_form_without_the_right_writes_nothing(client, world, role, name):
    method, url, _data = url_of(world, name)
    before = (snapshot(world), Batch.objects.count(), world["batch"].name)
    response = client_for(client, world, role).post(url, FORM_POSTS[name](world))
    if name == "batch_create" and role == "other_staff":
        # Another organiser's staff may create batches, but not of this organiser's program.
        assert response.status_code == 200
        assert "program" in response.context["form"].errors
    else:
        assert response.status_code == expected(role, name)
    batch = Batch.objects.get(pk=world["batch"].pk)
    assert (snapshot(world), Batch.objects.count(), batch.name) == before
    assert not batch.day_venues.exists()


@pytest.mark.parametrize("name", list(FORM_POSTS))
def test_the_staff_of_the_batch_may_post_every_form(client, world, name):
    method, url, _data = url_of(world, name)
    response = client_for(client, world, "staff").post(url, FORM_POSTS[name](world))
    assert response.status_code == 302, response.context and response.context["form"].errors


# ---------------------------------------------------------------------------- operators and their kabupaten


def test_the_situbondo_operator_cannot_open_a_gresik_only_batch_by_id(client, world):
    gresik_only = BatchFactory(organiser=world["batch"].organiser, status=Batch.Status.NOMINATION_OPEN)
    QuotaAllocation.objects.create(batch=gresik_only, kind="kabupaten", region=region(GRESIK), seats=10)
    url = reverse("trainings:batch_detail", args=[gresik_only.pk])

    assert client_for(client, world, "operator_situbondo").get(url).status_code == 404
    client.logout()
    assert client_for(client, world, "operator_gresik").get(url).status_code == 200


def test_operators_see_a_batch_without_kabupaten_quota_but_never_a_draft(client, world):
    organiser = world["batch"].organiser
    open_to_all = BatchFactory(organiser=organiser, status=Batch.Status.NOMINATION_OPEN)
    draft = BatchFactory(organiser=organiser, status=Batch.Status.DRAFT)
    QuotaAllocation.objects.create(batch=draft, kind="kabupaten", region=region(SITUBONDO), seats=10)
    for role in ("operator_situbondo", "operator_gresik"):
        client.logout()
        client_for(client, world, role)
        assert client.get(reverse("trainings:batch_detail", args=[open_to_all.pk])).status_code == 200, role
        assert client.get(reverse("trainings:batch_detail", args=[draft.pk])).status_code == 404, role


def test_my_batches_lists_only_what_concerns_the_user(client, world):
    gresik_only = BatchFactory(organiser=world["batch"].organiser, status=Batch.Status.NOMINATION_OPEN)
    QuotaAllocation.objects.create(batch=gresik_only, kind="kabupaten", region=region(GRESIK), seats=10)
    lists = {}
    for role in ("operator_situbondo", "operator_gresik", "facilitator", "idle_facilitator"):
        client.logout()
        response = client_for(client, world, role).get(reverse("trainings:my_batches"))
        lists[role] = list(response.context["batches"])
    assert lists == {
        "operator_situbondo": [world["batch"]],
        "operator_gresik": [gresik_only],
        "facilitator": [world["batch"]],
        "idle_facilitator": [],
    }
