"""Invariants the trainings tables hold on their own, whoever writes to them."""

from datetime import date, time

import pytest
from django.db import IntegrityError, transaction

from tests.factories import BatchFactory, ModuleFactory, ProgramFactory, SessionFactory, pillar, region
from trainings.models import Batch, BatchVenue, Module, QuotaAllocation, Session

pytestmark = pytest.mark.django_db


def test_batch_days_and_str():
    batch = BatchFactory(name="Angkatan I Kabupaten Situbondo")
    assert batch.days == [date(2025, 10, d) for d in (13, 14, 15, 16)]
    assert str(batch) == "Angkatan I Kabupaten Situbondo"
    assert batch.status == Batch.Status.DRAFT


def test_program_total_jp_and_default_pass_rule():
    program = ProgramFactory()
    for jp in (2, 3, 5):
        ModuleFactory(program=program, jp=jp)
    assert program.total_jp == 10
    assert program.pass_percent == 90


def test_session_titles_and_time_range():
    session = SessionFactory(start_time=time(8, 0), end_time=time(9, 30), module__title="Pendataan PMKS")
    assert session.display_title == "Pendataan PMKS"
    assert session.time_range == "08.00 - 09.30 WIB"
    session.title = "Pendataan PMKS dan PSKS"
    assert session.display_title == "Pendataan PMKS dan PSKS"
    assert str(session) == "2025-10-13 08.00 Pendataan PMKS dan PSKS"


def test_batch_dates_are_checked_by_the_database():
    # Written through the ORM, around the services: the database itself must refuse.
    program = ProgramFactory()
    fields = {
        "organiser": program.organiser,
        "program": program,
        "name": "Angkatan I",
        "venue": "UPT PTKS Malang",
        "start_date": date(2025, 10, 13),
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Batch.objects.create(**fields, end_date=date(2025, 10, 12))
    with pytest.raises(IntegrityError), transaction.atomic():
        Batch.objects.create(**fields, end_date=date(2025, 10, 16), nomination_deadline=date(2025, 10, 17))
    Batch.objects.create(**fields, end_date=date(2025, 10, 13), nomination_deadline=date(2025, 10, 13))


def test_session_constraints():
    batch = BatchFactory()
    module = ModuleFactory(program=batch.program)
    base = {"batch": batch, "date": batch.start_date, "jp": 2}
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.create(**base, module=module, start_time=time(9, 30), end_time=time(9, 30))
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.create(**base, kind="materi", module=None, start_time=time(8, 0), end_time=time(9, 30))
    Session.objects.create(**base, kind="opening", module=None, start_time=time(8, 0), end_time=time(9, 0))


def test_module_jp_is_positive():
    program = ProgramFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Module.objects.create(program=program, title="Kosong", jp=0)


def test_quota_allocation_constraints():
    batch = BatchFactory()
    situbondo, psm = region("35.12"), pillar("psm")
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaAllocation.objects.create(batch=batch, kind="pillar", region=situbondo, seats=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", pillar_type=psm, seats=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=situbondo, seats=0)

    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=situbondo, seats=5)
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=psm, seats=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=situbondo, seats=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=psm, seats=3)
    # Another batch may allocate the same targets.
    other = BatchFactory()
    QuotaAllocation.objects.create(batch=other, kind="kabupaten", region=situbondo, seats=5)
    assert str(QuotaAllocation.objects.get(batch=other)) == "Kabupaten Situbondo: 5"


def test_one_venue_per_day():
    batch = BatchFactory()
    BatchVenue.objects.create(batch=batch, date=batch.start_date, venue="Hotel Rosali")
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchVenue.objects.create(batch=batch, date=batch.start_date, venue="Pendopo")
