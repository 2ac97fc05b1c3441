"""Two confirms creating the same new NIK at once: real PostgreSQL connections, both having read the NIK as new
before either writes it (a lock held from a third connection lets them read and stops them at the insert).
The unique NIK makes one wait for the other; the loser then runs again and finds the person known. Both
succeed, the person exists once, nothing is lost, and no unique-constraint error reaches the user as a 500."""

import threading
import time as clock
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg2
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from psycopg2 import sql

from participants import services
from participants.models import Nomination, NominationEvent, NominationUpload, Person
from tests.factories import BatchFactory, OperatorFactory, StaffFactory, pillar, region
from tests.participants.test_imports import row, upload_file, xlsx
from trainings.models import Batch, QuotaAllocation

# Real transactions, so the threads' connections see each other's commits; the reference data that a
# transactional test flushes is restored afterwards.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SITUBONDO, GRESIK = "35.12", "35.25"


@pytest.fixture
def batches():
    """Two batches open for nomination, a month apart, each with seats for Situbondo and Gresik."""
    staff = StaffFactory()
    today = timezone.localdate()
    result = []
    for weeks in (4, 9):
        batch = BatchFactory(
            organiser=staff.organiser,
            status=Batch.Status.NOMINATION_OPEN,
            start_date=today + timedelta(weeks=weeks),
            end_date=today + timedelta(weeks=weeks, days=3),
            nomination_deadline=today + timedelta(days=10),
            quota_total=40,
        )
        for code in (SITUBONDO, GRESIK):
            QuotaAllocation.objects.create(
                batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=region(code), seats=20
            )
        result.append(batch)
    return result


def operators_of(*codes):
    return [OperatorFactory(kabupaten=region(code), username=f"operator.{i}") for i, code in enumerate(codes)]


@contextmanager
def people_table_read_only():
    """From a third connection, let everyone read the people table but nobody write it until the block ends."""
    db = connection.settings_dict
    holder = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or None
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(Person._meta.db_table)))
        yield
    finally:
        holder.rollback()
        holder.close()


def waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(condition, what: str, timeout: float = 30) -> None:
    deadline = clock.monotonic() + timeout
    while not condition():
        assert clock.monotonic() < deadline, f"timed out waiting for {what}"
        clock.sleep(0.05)


def race_at_the_insert(calls) -> list:
    """Start each call in its own thread and connection; they read freely and stop at their first write of a
    person until all of them got there. Returns each call's result or the exception it raised."""
    outcomes = [None] * len(calls)

    def run(index):
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # the assertions show what went wrong
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with people_table_read_only():
        for thread in threads:
            thread.start()
        wait_until(lambda: waiting_for_a_lock() == len(calls), "every call to reach the insert of the person")
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return outcomes


@pytest.mark.parametrize("second", [SITUBONDO, GRESIK], ids=["one kabupaten", "a person who moved"])
def test_two_spreadsheet_confirms_with_the_same_new_nik_both_import_it(postgres_required, batches, second):
    operators = operators_of(SITUBONDO, second)
    kecamatan = "35.12.01" if second == SITUBONDO else "35.25.01"
    files = [
        xlsx([row(1, full_name="Siti Aminah"), row(2)]),
        xlsx([row(1, full_name="Siti Aminah", kecamatan=kecamatan), row(3, kecamatan=kecamatan)]),
    ]
    uploads = [
        services.nomination_upload_check(
            actor=operator, batch=batch, kabupaten=operator.kabupaten, file=upload_file(content)
        )
        for operator, batch, content in zip(operators, batches, files, strict=True)
    ]
    assert [upload.rows_valid for upload in uploads] == [2, 2]
    clients = []
    for operator in operators:
        clients.append(Client())
        clients[-1].force_login(operator)

    def confirm(client, upload):
        url = reverse("participants:import_confirm", args=[upload.batch_id, upload.pk])
        return lambda: client.post(url)

    responses = race_at_the_insert([confirm(c, u) for c, u in zip(clients, uploads, strict=True)])

    assert [getattr(response, "status_code", response) for response in responses] == [302, 302]
    for upload in uploads:
        upload.refresh_from_db()
        assert (upload.status, upload.rows_imported) == (NominationUpload.Status.CONFIRMED, 2)
    # The person in both files exists once and is nominated to both batches, with everyone else.
    shared = row(1)["nik"]
    assert Person.objects.filter(nik=shared).count() == 1
    assert Person.objects.get(nik=shared).full_name == "Siti Aminah"
    for batch, other in zip(batches, (row(2)["nik"], row(3)["nik"]), strict=True):
        nominated = Nomination.objects.filter(batch=batch, status=Nomination.Status.PENDING)
        assert sorted(nominated.values_list("person__nik", flat=True)) == sorted([shared, other])
        assert NominationEvent.objects.filter(nomination__batch=batch, action="created").count() == 2


def person(serial: int) -> services.PersonData:
    return services.PersonData(
        nik=f"351201170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(SITUBONDO),
        pillar_type=pillar("psm"),
        kecamatan=region("35.12.01"),
    )


def test_two_nominations_of_the_same_new_nik_at_once_both_stand(postgres_required, batches):
    operators = operators_of(SITUBONDO, SITUBONDO)

    def nominate(operator, batch):
        return lambda: services.nomination_submit(
            actor=operator, batch=batch, kabupaten=operator.kabupaten, data=person(1)
        )

    outcomes = race_at_the_insert([nominate(o, b) for o, b in zip(operators, batches, strict=True)])

    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes
    nominations = [nomination for nomination, _warnings in outcomes]
    assert Person.objects.filter(nik=person(1).nik).count() == 1
    assert {nomination.person_id for nomination in nominations} == {Person.objects.get(nik=person(1).nik).pk}
    assert sorted(n.batch_id for n in nominations) == sorted(b.pk for b in batches)
