"""Two writers creating the same new NIK at once (spreadsheet confirms, single nominations, the registry import):
real PostgreSQL connections, both having read the NIK as new before either writes it (a lock held from a third
connection forces that). The unique NIK makes one wait for the other; the loser then runs again and finds the
person known. Both succeed, the person exists once, nothing is lost, and no unique-constraint error reaches the
user as a 500."""

import threading
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg2
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from psycopg2 import sql

from participants import registry, services
from participants.models import Nomination, NominationEvent, NominationUpload, Person
from tests.factories import BatchFactory, OperatorFactory, StaffFactory, pillar, region
from tests.participants.test_imports import row, upload_file, xlsx
from tests.participants.test_registry import person_row
from tests.participants.test_registry import xlsx as registry_xlsx
from trainings.models import Batch, QuotaAllocation

from .pg_locks import wait_until, waiting_for_a_lock

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
def table_locked(model, mode: str):
    """From a third connection, lock `model`'s table in `mode` until the block ends."""
    db = connection.settings_dict
    holder = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or None
    )
    try:
        with holder.cursor() as cursor:
            statement = sql.SQL("LOCK TABLE {} IN {} MODE").format(sql.Identifier(model._meta.db_table), sql.SQL(mode))
            cursor.execute(statement)
        yield
    finally:
        holder.rollback()
        holder.close()


def in_threads(calls) -> tuple[list, list]:
    """Each call in its own thread and connection (not started); the list gets each call's result or the
    exception it raised."""
    outcomes = [None] * len(calls)

    def run(index):
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # the assertions show what went wrong
            outcomes[index] = error
        finally:
            connection.close()

    return [threading.Thread(target=run, args=(i,)) for i in range(len(calls))], outcomes


def race_at_the_insert(calls) -> list:
    """Start each call in its own thread and connection; they read freely and stop at their first write of a
    person until all of them got there. Returns each call's result or the exception it raised."""
    threads, outcomes = in_threads(calls)
    # Everyone may read the people table but nobody write it, until all have read it.
    with table_locked(Person, "SHARE"):
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


def test_the_registry_import_and_a_nomination_of_the_same_new_nik_at_once(postgres_required, batches, tasks_queued):
    """The registry import writes people in chunks: a chunk that loses the race for a new NIK is rolled back and
    written again with the person known."""
    operator, nominating = operators_of(SITUBONDO, SITUBONDO)
    content = registry_xlsx([person_row(1, full_name="Siti Aminah"), person_row(2)])
    upload = registry.registry_upload_create(actor=operator, file=upload_file(content, "anggota.xlsx"))
    registry.registry_upload_check(upload_id=upload.pk)  # the queued jobs are run here, in the race's order
    registry.registry_upload_confirm(actor=operator, upload=upload)
    newcomer = services.PersonData(
        nik=person_row(1)["nik"],
        full_name="Siti Aminah",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 10, 13),
        kabupaten=region(SITUBONDO),
        pillar_type=pillar("psm"),
        kecamatan=region("35.12.01"),
    )

    threads, outcomes = in_threads(
        [
            lambda: services.nomination_submit(
                actor=nominating, batch=batches[0], kabupaten=region(SITUBONDO), data=newcomer
            ),
            lambda: registry.registry_upload_import(upload_id=upload.pk),
        ]
    )
    # The nomination writes the person and stops before its history; the import's chunk then reads the NIK as
    # new and waits at its insert for the nomination, which commits first: the chunk loses.
    with table_locked(NominationEvent, "ACCESS EXCLUSIVE"):
        threads[0].start()
        wait_until(lambda: waiting_for_a_lock() == 1, "the nomination to write the person")
        threads[1].start()
        wait_until(lambda: waiting_for_a_lock() == 2, "the import to insert the same NIK")
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()

    assert isinstance(outcomes[0], tuple) and outcomes[1] is None, outcomes
    upload.refresh_from_db()
    # The person the nomination created was corrected by the import's second run of the chunk.
    assert (upload.status, upload.rows_done, upload.created_count, upload.updated_count) == ("done", 2, 1, 1)
    assert Person.objects.filter(nik__in=[person_row(1)["nik"], person_row(2)["nik"]]).count() == 2
    assert Person.objects.get(nik=newcomer.nik).phone == person_row(1)["phone"]
    nomination, _warnings = outcomes[0]
    assert nomination.person.nik == newcomer.nik and nomination.batch == batches[0]
