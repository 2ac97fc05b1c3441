"""Quotas hold when operators submit at the same second: several real PostgreSQL connections race for the
last seats and exactly the quota is filled."""

import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from participants import services
from participants.models import Nomination
from tests.factories import BatchFactory, OperatorFactory, StaffFactory, pillar, region
from trainings.models import Batch, QuotaAllocation

TODAY = date(2025, 9, 1)

# Real transactions, so the threads' connections see each other's commits; the reference data that a
# transactional test flushes is restored afterwards.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def person(serial: int, *, pillar_code="psm") -> services.PersonData:
    return services.PersonData(
        nik=f"351201170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region("35.12"),
        pillar_type=pillar(pillar_code),
        kecamatan=region("35.12.01"),
    )


def race(batch, operators, people):
    """Each thread opens its own connection and submits once; all start together at the barrier."""
    barrier = threading.Barrier(len(people))
    outcomes = [None] * len(people)

    def submit(index):
        try:
            barrier.wait(timeout=30)
            services.nomination_submit(
                actor=operators[index % len(operators)],
                batch=batch,
                kabupaten=region("35.12"),
                data=people[index],
                today=TODAY,
            )
            outcomes[index] = "ok"
        except ValidationError as error:
            outcomes[index] = error.messages[0]
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def open_batch():
    staff = StaffFactory()
    batch = BatchFactory(
        organiser=staff.organiser,
        status=Batch.Status.NOMINATION_OPEN,
        quota_total=5,
        nomination_deadline=date(2025, 10, 1),
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    operators = [OperatorFactory(username=f"operator.{i}") for i in range(3)]
    return batch, operators


@pytest.mark.parametrize("round_", range(3))
def test_the_last_seats_go_to_exactly_as_many_submissions(postgres_required, open_batch, round_):
    batch, operators = open_batch
    for serial in range(1, 4):  # three of five seats already taken
        services.nomination_submit(
            actor=operators[0], batch=batch, kabupaten=region("35.12"), data=person(serial), today=TODAY
        )
    outcomes = race(batch, operators, [person(serial) for serial in range(100, 110)])
    assert outcomes.count("ok") == 2, outcomes
    assert Nomination.objects.filter(batch=batch, status__in=Nomination.ACTIVE).count() == 5


def test_a_pillar_quota_holds_under_the_same_race(postgres_required, open_batch):
    batch, operators = open_batch
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("tksk"), seats=1)
    outcomes = race(batch, operators, [person(serial, pillar_code="tksk") for serial in range(200, 208)])
    assert outcomes.count("ok") == 1, outcomes
    assert Nomination.objects.filter(batch=batch, pillar_type=pillar("tksk")).count() == 1
