"""The trainings permissions (django-rules) as a matrix of role × own/other object."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    SessionFactory,
    StaffFactory,
    UserFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation
from trainings.selectors import batches_visible_to

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"


def allocate(batch, code, seats=10):
    return QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(code), seats=seats)


@pytest.fixture
def world():
    """Two organisers; batches of the first in each situation an operator can meet; one user of each kind."""
    upt, other = OrganiserFactory(code="UPT-PTKS"), OrganiserFactory(code="DINSOS-SBY")
    batches = {
        "situbondo": BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN),
        "gresik": BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN),
        "both": BatchFactory(organiser=upt, status=Batch.Status.RUNNING),
        "no_kabupaten": BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_CLOSED),
        "draft": BatchFactory(organiser=upt, status=Batch.Status.DRAFT),
        "other_organiser": BatchFactory(organiser=other, status=Batch.Status.NOMINATION_OPEN),
    }
    allocate(batches["situbondo"], SITUBONDO)
    allocate(batches["gresik"], GRESIK)
    allocate(batches["both"], SITUBONDO)
    allocate(batches["both"], GRESIK)
    # Only a pillar quota: the batch is open to every kabupaten.
    QuotaAllocation.objects.create(batch=batches["no_kabupaten"], kind="pillar", pillar_type=pillar("psm"), seats=5)
    allocate(batches["draft"], SITUBONDO)
    allocate(batches["other_organiser"], SITUBONDO)

    teacher = FacilitatorUserFactory(record__organiser=upt)
    session = SessionFactory(batch=batches["gresik"])
    session.facilitators.add(teacher.facilitator)
    users = {
        "staff": StaffFactory(organiser=upt),
        "other_staff": StaffFactory(organiser=other),
        "operator_situbondo": OperatorFactory(),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": teacher,
        "idle_facilitator": FacilitatorUserFactory(record__organiser=upt),
        "no_role": UserFactory(role=""),
        "inactive_staff": StaffFactory(organiser=upt, is_active=False),
    }
    return users, batches


ALL_BATCHES = {"situbondo", "gresik", "both", "no_kabupaten", "draft", "other_organiser"}
OWN_BATCHES = ALL_BATCHES - {"other_organiser"}

# Which batches each user may view; everything else is refused.
VIEW = {
    "staff": OWN_BATCHES,
    "other_staff": {"other_organiser"},
    "operator_situbondo": {"situbondo", "both", "no_kabupaten", "other_organiser"},
    "operator_gresik": {"gresik", "both", "no_kabupaten"},
    "facilitator": {"gresik"},
    "idle_facilitator": set(),
    "no_role": set(),
    "inactive_staff": set(),
}
CHANGE = {**dict.fromkeys(VIEW, set()), "staff": OWN_BATCHES, "other_staff": {"other_organiser"}}


@pytest.mark.parametrize("who", sorted(VIEW))
def test_batch_view_matrix(world, who):
    users, batches = world
    allowed = {name for name, batch in batches.items() if users[who].has_perm("trainings.batch.view", batch)}
    assert allowed == VIEW[who]


@pytest.mark.parametrize("who", sorted(CHANGE))
def test_batch_change_matrix(world, who):
    users, batches = world
    allowed = {name for name, batch in batches.items() if users[who].has_perm("trainings.batch.change", batch)}
    assert allowed == CHANGE[who]


@pytest.mark.parametrize("who", sorted(VIEW))
def test_view_permission_agrees_with_the_visible_queryset(world, who):
    users, batches = world
    visible = set(batches_visible_to(users[who]).values_list("pk", flat=True))
    assert visible == {batches[name].pk for name in VIEW[who]}


def test_a_finished_batch_can_be_viewed_but_no_longer_changed(world):
    users, batches = world
    batch = batches["situbondo"]
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)
    batch.refresh_from_db()
    assert users["staff"].has_perm("trainings.batch.view", batch)
    assert not users["staff"].has_perm("trainings.batch.change", batch)
    assert users["operator_situbondo"].has_perm("trainings.batch.view", batch)


def test_operator_of_situbondo_cannot_view_a_batch_only_for_gresik(world):
    users, batches = world
    operator = users["operator_situbondo"]
    assert operator.kabupaten.code == "35.12"
    assert [a.region.code for a in batches["gresik"].allocations.all()] == ["35.25"]
    assert not operator.has_perm("trainings.batch.view", batches["gresik"])
    assert users["operator_gresik"].has_perm("trainings.batch.view", batches["gresik"])


def test_operator_loses_sight_of_a_batch_when_it_gets_a_quota_for_another_kabupaten(world):
    users, batches = world
    batch = batches["no_kabupaten"]
    assert users["operator_situbondo"].has_perm("trainings.batch.view", batch)
    allocate(batch, GRESIK)
    batch = Batch.objects.get(pk=batch.pk)  # drop the prefetched allocations
    assert not users["operator_situbondo"].has_perm("trainings.batch.view", batch)


GLOBAL = {
    "staff": True,
    "other_staff": True,
    "operator_situbondo": False,
    "operator_gresik": False,
    "facilitator": False,
    "idle_facilitator": False,
    "no_role": False,
    "inactive_staff": False,
}


@pytest.mark.parametrize("perm", ["trainings.batch.create", "trainings.calendar.view", "trainings.workload.view"])
@pytest.mark.parametrize("who", sorted(GLOBAL))
def test_staff_only_permissions(world, who, perm):
    users, _batches = world
    assert users[who].has_perm(perm) is GLOBAL[who]


@pytest.mark.parametrize("who", sorted(set(GLOBAL) - {"inactive_staff"}))
def test_my_batches_is_for_everyone_logged_in_but_staff(world, who):
    users, _batches = world
    expected = users[who].role != Role.STAFF
    assert users[who].has_perm("trainings.my_batches.view") is expected


@pytest.mark.parametrize(
    "perm",
    [
        "trainings.batch.create",
        "trainings.calendar.view",
        "trainings.workload.view",
        "trainings.my_batches.view",
    ],
)
def test_anonymous_has_no_global_permission(perm):
    assert not AnonymousUser().has_perm(perm)


@pytest.mark.parametrize("perm", ["trainings.batch.view", "trainings.batch.change"])
def test_anonymous_cannot_view_or_change_a_batch(world, perm):
    _users, batches = world
    # Must answer False, not crash on the attributes only our User model has.
    assert not AnonymousUser().has_perm(perm, batches["no_kabupaten"])
