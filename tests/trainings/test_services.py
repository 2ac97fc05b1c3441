"""The write rules of programs, batches, quotas and the timetable (trainings.services)."""

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    pillar,
    region,
)
from trainings import services
from trainings.models import JP_MINUTES, Batch, BatchVenue, QuotaAllocation, Session

pytestmark = pytest.mark.django_db

# The Situbondo batch of the seeds: Monday 13 – Thursday 16 October 2025.
MON, TUE, WED, THU = (date(2025, 10, 13) + timedelta(days=i) for i in range(4))
FRI, SUN = date(2025, 10, 17), date(2025, 10, 12)


def error_keys(excinfo) -> set:
    return set(excinfo.value.message_dict) if hasattr(excinfo.value, "error_dict") else set()


def text(excinfo) -> str:
    return " ".join(excinfo.value.messages)


@pytest.fixture
def organiser():
    return OrganiserFactory(code="UPT-PTKS")


@pytest.fixture
def batch(organiser):
    return BatchFactory(organiser=organiser, quota_total=40)


@pytest.fixture
def module(batch):
    return ModuleFactory(program=batch.program, title="Building Learning Commitment", jp=2)


def add_session(batch, module, day=MON, start=time(8, 0), end=time(9, 30), jp=2, facilitators=(), **kwargs):
    return services.session_save(
        batch=batch,
        day=day,
        start_time=start,
        end_time=end,
        module=module,
        jp=jp,
        facilitators=facilitators,
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------- batches


def create_kwargs(organiser, **overrides):
    kwargs = {
        "organiser": organiser,
        "program": ProgramFactory(organiser=organiser),
        "name": "Angkatan I Kabupaten Situbondo",
        "start_date": MON,
        "end_date": THU,
        "venue": "UPT PTKS Malang",
        "nomination_deadline": date(2025, 10, 6),
        "quota_total": 40,
    }
    kwargs.update(overrides)
    return kwargs


def test_batch_create_saves_a_draft(organiser):
    batch = services.batch_create(**create_kwargs(organiser))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT
    assert (batch.start_date, batch.end_date, batch.quota_total) == (MON, THU, 40)
    assert batch.days == [MON, TUE, WED, THU]


def test_batch_create_accepts_a_one_day_batch_and_a_deadline_on_the_first_day(organiser):
    batch = services.batch_create(**create_kwargs(organiser, end_date=MON, nomination_deadline=MON))
    assert batch.days == [MON]


@pytest.mark.parametrize(
    ("overrides", "key", "rule"),
    [
        ({"end_date": SUN}, "end_date", "Tanggal selesai tidak boleh sebelum tanggal mulai"),
        ({"nomination_deadline": TUE}, "nomination_deadline", "harus jatuh pada atau sebelum hari pertama"),
        ({"quota_total": -1}, "quota_total", "Kuota tidak boleh negatif"),
    ],
)
def test_batch_create_refuses_bad_fields(organiser, overrides, key, rule):
    with pytest.raises(ValidationError, match=rule) as excinfo:
        services.batch_create(**create_kwargs(organiser, **overrides))
    assert key in error_keys(excinfo)
    assert not Batch.objects.exists()


def test_batch_create_refuses_a_program_of_another_organiser(organiser):
    foreign = ProgramFactory(organiser=OrganiserFactory(code="DINSOS-JATIM"))
    with pytest.raises(ValidationError, match="Program ini milik penyelenggara lain") as excinfo:
        services.batch_create(**create_kwargs(organiser, program=foreign))
    assert "program" in error_keys(excinfo)
    assert not Batch.objects.exists()


def test_batch_update_changes_fields(batch):
    updated = services.batch_update(batch=batch, name="Angkatan II", quota_total=60, venue="Hotel Rosali")
    batch.refresh_from_db()
    assert (batch.name, batch.quota_total, batch.venue) == ("Angkatan II", 60, "Hotel Rosali")
    assert updated.pk == batch.pk


def test_batch_update_refuses_dates_that_leave_a_session_outside(batch, module):
    add_session(batch, module, day=THU)
    with pytest.raises(ValidationError, match="akan berada di luar tanggal yang baru"):
        services.batch_update(batch=batch, end_date=WED)
    with pytest.raises(ValidationError, match="akan berada di luar tanggal yang baru"):
        services.batch_update(batch=batch, start_date=FRI, end_date=date(2025, 10, 20))
    batch.refresh_from_db()
    assert (batch.start_date, batch.end_date) == (MON, THU)


def test_batch_update_may_shift_dates_that_still_hold_every_session(batch, module):
    add_session(batch, module, day=TUE)
    services.batch_update(batch=batch, start_date=TUE, end_date=FRI)
    batch.refresh_from_db()
    assert (batch.start_date, batch.end_date) == (TUE, FRI)


def test_batch_update_refuses_end_before_start(batch):
    with pytest.raises(ValidationError, match="Tanggal selesai tidak boleh sebelum tanggal mulai") as excinfo:
        services.batch_update(batch=batch, end_date=SUN)
    assert "end_date" in error_keys(excinfo)


def test_batch_update_refuses_a_quota_below_the_allocated_seats(batch):
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=30)
    with pytest.raises(
        ValidationError, match="lebih kecil daripada jumlah kursi yang sudah dialokasikan per kabupaten/kota"
    ) as excinfo:
        services.batch_update(batch=batch, quota_total=29)
    assert "quota_total" in error_keys(excinfo)
    assert "30" in text(excinfo)
    services.batch_update(batch=batch, quota_total=30)  # exactly the allocated seats is fine
    batch.refresh_from_db()
    assert batch.quota_total == 30


def test_batch_update_checks_every_allocation_kind(batch):
    services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=35)
    with pytest.raises(
        ValidationError, match="lebih kecil daripada jumlah kursi yang sudah dialokasikan per jenis pilar"
    ) as excinfo:
        services.batch_update(batch=batch, quota_total=34)
    assert "quota_total" in error_keys(excinfo)


def test_batch_update_refuses_unknown_fields(batch):
    with pytest.raises(TypeError):
        services.batch_update(batch=batch, status=Batch.Status.FINISHED)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT


def test_batch_update_refuses_a_new_program_once_sessions_exist(batch, module):
    add_session(batch, module)
    other = ProgramFactory(organiser=batch.organiser)
    with pytest.raises(ValidationError, match="Program tidak dapat diubah setelah jadwal berisi sesi") as excinfo:
        services.batch_update(batch=batch, program=other)
    assert "program" in error_keys(excinfo)


def test_batch_update_drops_day_venues_outside_the_new_dates(batch):
    services.batch_set_day_venue(batch=batch, day=MON, venue="Pendopo Situbondo")
    services.batch_set_day_venue(batch=batch, day=THU, venue="Hotel Rosali")
    services.batch_update(batch=batch, end_date=WED)
    assert list(BatchVenue.objects.filter(batch=batch).values_list("date", flat=True)) == [MON]


def test_day_venue_is_set_cleared_and_limited_to_the_batch_days(batch):
    assert services.batch_set_day_venue(batch=batch, day=TUE, venue=" Hotel Rosali ").venue == "Hotel Rosali"
    assert services.batch_set_day_venue(batch=batch, day=TUE, venue="") is None
    assert services.batch_set_day_venue(batch=batch, day=WED, venue=batch.venue) is None
    assert not BatchVenue.objects.exists()
    with pytest.raises(ValidationError, match="bukan hari pelaksanaan angkatan ini"):
        services.batch_set_day_venue(batch=batch, day=FRI, venue="Hotel Rosali")


# ------------------------------------------------------------------------------------------- status flow


def ready_batch(**kwargs):
    return BatchFactory(**{"quota_total": 40, "nomination_deadline": date(2025, 10, 6), **kwargs})


def status_of(batch):
    return Batch.objects.get(pk=batch.pk).status


def test_open_nominations_from_draft():
    batch = ready_batch()
    services.batch_open_nominations(batch=batch, today=date(2025, 10, 6))
    assert status_of(batch) == Batch.Status.NOMINATION_OPEN


def test_open_nominations_needs_a_quota():
    batch = ready_batch(quota_total=0)
    with pytest.raises(ValidationError, match="Tetapkan total kuota"):
        services.batch_open_nominations(batch=batch, today=date(2025, 10, 1))
    assert status_of(batch) == Batch.Status.DRAFT


def test_open_nominations_needs_a_deadline():
    batch = ready_batch(nomination_deadline=None)
    with pytest.raises(ValidationError, match="Tetapkan batas akhir pengusulan"):
        services.batch_open_nominations(batch=batch, today=date(2025, 10, 1))
    assert status_of(batch) == Batch.Status.DRAFT


def test_open_nominations_refused_once_the_deadline_passed():
    batch = ready_batch()
    with pytest.raises(ValidationError, match="Batas akhir pengusulan sudah lewat"):
        services.batch_open_nominations(batch=batch, today=date(2025, 10, 7))
    assert status_of(batch) == Batch.Status.DRAFT


def test_close_and_reopen_nominations():
    batch = ready_batch(status=Batch.Status.NOMINATION_OPEN)
    services.batch_close_nominations(batch=batch)
    assert status_of(batch) == Batch.Status.NOMINATION_CLOSED
    services.batch_open_nominations(batch=batch, today=date(2025, 10, 2))
    assert status_of(batch) == Batch.Status.NOMINATION_OPEN


def test_start_needs_a_timetable():
    batch = ready_batch(status=Batch.Status.NOMINATION_CLOSED)
    with pytest.raises(ValidationError, match="Angkatan tanpa jadwal tidak dapat dimulai"):
        services.batch_start(batch=batch, today=MON)
    assert status_of(batch) == Batch.Status.NOMINATION_CLOSED


def test_start_from_the_day_before_the_first_day():
    batch = ready_batch(status=Batch.Status.NOMINATION_CLOSED)
    SessionFactory(batch=batch)
    with pytest.raises(ValidationError, match="paling cepat dapat dimulai sehari sebelum"):
        services.batch_start(batch=batch, today=MON - timedelta(days=2))
    services.batch_start(batch=batch, today=SUN)
    assert status_of(batch) == Batch.Status.RUNNING


def test_finish_refused_before_the_last_day():
    batch = ready_batch(status=Batch.Status.RUNNING)
    with pytest.raises(ValidationError, match="tidak dapat diselesaikan sebelum hari terakhirnya"):
        services.batch_finish(batch=batch, today=WED)
    assert status_of(batch) == Batch.Status.RUNNING


@pytest.mark.parametrize("today", [THU, FRI])
def test_finish_on_or_after_the_last_day(today):
    batch = ready_batch(status=Batch.Status.RUNNING)
    services.batch_finish(batch=batch, today=today)
    assert status_of(batch) == Batch.Status.FINISHED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Batch.Status.DRAFT, "close"),
        (Batch.Status.DRAFT, "start"),
        (Batch.Status.DRAFT, "finish"),
        (Batch.Status.NOMINATION_OPEN, "start"),
        (Batch.Status.NOMINATION_CLOSED, "close"),
        (Batch.Status.NOMINATION_CLOSED, "finish"),
        (Batch.Status.RUNNING, "open"),
        (Batch.Status.RUNNING, "close"),
        (Batch.Status.FINISHED, "open"),
        (Batch.Status.FINISHED, "start"),
        (Batch.Status.FINISHED, "finish"),
    ],
)
def test_invalid_transitions_are_refused(status, action):
    batch = ready_batch(status=status)
    SessionFactory(batch=batch)  # so that only the status stands in the way
    call = {
        "open": lambda: services.batch_open_nominations(batch=batch, today=date(2025, 10, 1)),
        "close": lambda: services.batch_close_nominations(batch=batch),
        "start": lambda: services.batch_start(batch=batch, today=MON),
        "finish": lambda: services.batch_finish(batch=batch, today=FRI),
    }[action]
    with pytest.raises(ValidationError, match="tidak dapat diubah menjadi"):
        call()
    assert status_of(batch) == status


def test_a_finished_batch_is_frozen(batch, module):
    session = add_session(batch, module)
    allocation = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=10)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)

    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        add_session(batch, module, day=TUE)
    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        add_session(batch, module, start=time(10, 0), end=time(11, 30), session=session)
    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        services.session_delete(session=session)
    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=10)
    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        services.allocation_delete(allocation=allocation)
    with pytest.raises(ValidationError, match="sudah selesai; datanya tidak dapat diubah lagi"):
        services.batch_update(batch=batch, name="Angkatan baru")
    assert Session.objects.get().start_time == time(8, 0)
    assert QuotaAllocation.objects.count() == 1


# ------------------------------------------------------------------------------------------------ quotas


def kabupaten_seats(batch):
    return sum(QuotaAllocation.objects.filter(batch=batch, kind="kabupaten").values_list("seats", flat=True))


def test_kabupaten_allocations_fill_to_exactly_the_total_and_not_one_seat_more(batch):
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=25)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=15)
    assert kabupaten_seats(batch) == 40

    with pytest.raises(
        ValidationError, match="Hanya tersisa 0 dari 40 kursi yang dapat dialokasikan per kabupaten/kota"
    ) as excinfo:
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.13"), seats=1)
    assert "seats" in error_keys(excinfo)
    assert kabupaten_seats(batch) == 40


def test_one_allocation_cannot_exceed_the_total(batch):
    with pytest.raises(
        ValidationError, match="Hanya tersisa 40 dari 40 kursi yang dapat dialokasikan per kabupaten/kota"
    ) as excinfo:
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=41)
    assert "seats" in error_keys(excinfo)
    assert not QuotaAllocation.objects.exists()


def test_each_kind_of_allocation_is_summed_on_its_own(batch):
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.13"), seats=40)
    services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=30)
    services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("tksk"), seats=10)
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.13.01"), seats=40)
    assert QuotaAllocation.objects.filter(batch=batch).count() == 4
    with pytest.raises(ValidationError, match="Hanya tersisa 0 dari 40 kursi yang dapat dialokasikan per jenis pilar"):
        services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("kasi-kesra"), seats=1)
    with pytest.raises(ValidationError, match="Hanya tersisa 0 dari 40 kursi yang dapat dialokasikan per kecamatan"):
        services.allocation_save(batch=batch, kind="kecamatan", region=region("35.13.02"), seats=1)


def test_seats_are_counted_per_batch(batch):
    other = BatchFactory(organiser=batch.organiser, quota_total=40)
    services.allocation_save(batch=other, kind="kabupaten", region=region("35.12"), seats=40)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=40)
    assert kabupaten_seats(batch) == kabupaten_seats(other) == 40


def test_a_pillar_allocation_needs_a_pillar_type(batch):
    with pytest.raises(ValidationError, match="Pilih jenis pilar") as excinfo:
        services.allocation_save(batch=batch, kind="pillar", seats=5)
    assert "pillar_type" in error_keys(excinfo)


def test_a_pillar_allocation_keeps_no_region(batch):
    allocation = services.allocation_save(
        batch=batch, kind="pillar", pillar_type=pillar("tagana"), region=region("35.12"), seats=5
    )
    allocation.refresh_from_db()
    assert allocation.region is None
    assert allocation.target == pillar("tagana")


@pytest.mark.parametrize("code", [None, "35", "35.12.01"])
def test_a_kabupaten_allocation_needs_a_kabupaten_or_kota(batch, code):
    with pytest.raises(ValidationError, match="Pilih kabupaten atau kota") as excinfo:
        services.allocation_save(batch=batch, kind="kabupaten", region=code and region(code), seats=5)
    assert "region" in error_keys(excinfo)


def test_a_kota_is_a_valid_kabupaten_allocation(batch):
    allocation = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.73"), seats=5)
    assert allocation.target.name == "Kota Malang"


@pytest.mark.parametrize("code", [None, "35.12"])
def test_a_kecamatan_allocation_needs_a_kecamatan(batch, code):
    with pytest.raises(ValidationError, match="Pilih kecamatan") as excinfo:
        services.allocation_save(batch=batch, kind="kecamatan", region=code and region(code), seats=5)
    assert "region" in error_keys(excinfo)


def test_unknown_kind_and_empty_seats_are_refused(batch):
    with pytest.raises(ValidationError, match="Jenis alokasi tidak dikenal") as excinfo:
        services.allocation_save(batch=batch, kind="desa", region=region("35.12"), seats=5)
    assert "kind" in error_keys(excinfo)
    with pytest.raises(ValidationError, match="sekurang-kurangnya satu kursi") as excinfo:
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=0)
    assert "seats" in error_keys(excinfo)


def test_kecamatan_must_lie_in_an_allocated_kabupaten(batch):
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=20)
    with pytest.raises(
        ValidationError, match="Sumbermalang tidak berada di kabupaten/kota yang memiliki kuota"
    ) as excinfo:
        services.allocation_save(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=5)
    assert "region" in error_keys(excinfo)
    allocation = services.allocation_save(batch=batch, kind="kecamatan", region=region("35.25.01"), seats=5)
    assert allocation.region.parent == region("35.25")


def test_kecamatan_of_any_kabupaten_without_kabupaten_allocations(batch):
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=5)
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.25.01"), seats=5)
    assert QuotaAllocation.objects.filter(batch=batch, kind="kecamatan").count() == 2


def test_duplicate_allocations_are_refused(batch):
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=5)
    with pytest.raises(ValidationError, match="Kabupaten Situbondo sudah memiliki alokasi"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    with pytest.raises(ValidationError, match="PSM sudah memiliki alokasi"):
        services.allocation_save(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=5)
    assert QuotaAllocation.objects.filter(batch=batch).count() == 2


def test_editing_an_allocation_does_not_count_its_own_seats(batch):
    situbondo = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=30)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=10)

    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=30, allocation=situbondo)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=25, allocation=situbondo)
    assert kabupaten_seats(batch) == 35
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=30, allocation=situbondo)

    with pytest.raises(ValidationError, match="Hanya tersisa 30 dari 40 kursi"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=31, allocation=situbondo)
    situbondo.refresh_from_db()
    assert situbondo.seats == 30
    assert QuotaAllocation.objects.filter(batch=batch).count() == 2


def test_editing_an_allocation_cannot_take_the_target_of_another(batch):
    situbondo = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=5)
    with pytest.raises(ValidationError, match="Kabupaten Gresik sudah memiliki alokasi"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=5, allocation=situbondo)


def test_editing_a_kabupaten_allocation_keeps_its_kecamatan_inside(batch):
    """Moving a kabupaten quota elsewhere would strand its kecamatan allocations, just like deleting it."""
    situbondo = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=20)
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=5)
    with pytest.raises(ValidationError, match="Sumbermalang tidak berada di kabupaten/kota yang memiliki kuota"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=20, allocation=situbondo)
    situbondo.refresh_from_db()
    assert situbondo.region == region("35.12")


def test_a_first_kabupaten_allocation_must_cover_the_existing_kecamatan(batch):
    """Kecamatan of any kabupaten are fine until the first kabupaten quota; then they must lie inside."""
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=5)
    with pytest.raises(ValidationError, match="Sumbermalang tidak berada di kabupaten/kota yang memiliki kuota"):
        services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=20)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.12"), seats=20)
    assert QuotaAllocation.objects.filter(batch=batch).count() == 2


def test_a_kabupaten_with_kecamatan_allocations_cannot_be_deleted_first(batch):
    probolinggo = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.13"), seats=20)
    kecamatan = services.allocation_save(batch=batch, kind="kecamatan", region=region("35.13.01"), seats=5)
    with pytest.raises(ValidationError, match="Hapus terlebih dahulu alokasi kecamatan"):
        services.allocation_delete(allocation=probolinggo)
    assert QuotaAllocation.objects.filter(pk=probolinggo.pk).exists()

    services.allocation_delete(allocation=kecamatan)
    services.allocation_delete(allocation=probolinggo)
    assert not QuotaAllocation.objects.filter(batch=batch).exists()


def test_deleting_a_kabupaten_ignores_kecamatan_of_other_kabupaten(batch):
    gresik = services.allocation_save(batch=batch, kind="kabupaten", region=region("35.25"), seats=10)
    services.allocation_save(batch=batch, kind="kabupaten", region=region("35.13"), seats=10)
    services.allocation_save(batch=batch, kind="kecamatan", region=region("35.13.01"), seats=5)
    services.allocation_delete(allocation=gresik)
    assert not QuotaAllocation.objects.filter(pk=gresik.pk).exists()


# --------------------------------------------------------------------------------------------- sessions


def test_session_save_creates_a_session_with_facilitators(batch, module):
    first, second = (
        FacilitatorFactory(organiser=batch.organiser),
        FacilitatorFactory(organiser=batch.organiser),
    )
    session = add_session(batch, module, facilitators=[first, second], venue=" Aula ")
    session = Session.objects.get(pk=session.pk)
    assert (session.date, session.start_time, session.end_time, session.jp) == (
        MON,
        time(8, 0),
        time(9, 30),
        2,
    )
    assert set(session.facilitators.all()) == {first, second}
    assert session.venue == "Aula"
    assert session.display_title == "Building Learning Commitment"
    assert session.time_range == "08.00 - 09.30 WIB"


@pytest.mark.parametrize("day", [SUN, FRI])
def test_session_outside_the_batch_dates_is_refused(batch, module, day):
    with pytest.raises(ValidationError, match="berada di luar periode angkatan") as excinfo:
        add_session(batch, module, day=day)
    assert "date" in error_keys(excinfo)
    assert not Session.objects.exists()


@pytest.mark.parametrize("end", [time(7, 30), time(8, 0)])
def test_session_must_end_after_it_starts(batch, module, end):
    with pytest.raises(ValidationError, match="Waktu selesai sesi harus setelah waktu mulai") as excinfo:
        add_session(batch, module, end=end, jp=0)
    assert "end_time" in error_keys(excinfo)


def test_overlapping_sessions_in_one_batch_are_refused(batch, module):
    add_session(batch, module)
    with pytest.raises(ValidationError, match="bertabrakan dengan “Building Learning Commitment”") as excinfo:
        add_session(batch, module, start=time(9, 0), end=time(10, 30))
    assert "Building Learning Commitment" in text(excinfo)
    with pytest.raises(
        ValidationError, match="bertabrakan dengan “Building Learning Commitment”"
    ):  # entirely inside the first one
        add_session(batch, module, start=time(8, 15), end=time(9, 0), jp=1)
    assert Session.objects.count() == 1


def test_sessions_of_one_batch_on_different_days_may_share_times(batch, module):
    add_session(batch, module, day=MON)
    add_session(batch, module, day=TUE)
    assert Session.objects.count() == 2


def test_adjacent_sessions_are_allowed(batch, module):
    facilitator = FacilitatorFactory(organiser=batch.organiser)
    other_batch = BatchFactory(organiser=batch.organiser)
    other_module = ModuleFactory(program=other_batch.program)
    add_session(batch, module, start=time(8, 0), end=time(9, 30), facilitators=[facilitator])
    add_session(batch, module, start=time(9, 30), end=time(11, 0), facilitators=[facilitator])
    add_session(other_batch, other_module, start=time(11, 0), end=time(12, 30), facilitators=[facilitator])
    assert facilitator.sessions.count() == 3


def test_a_facilitator_cannot_teach_two_batches_at_once(batch, module):
    facilitator = FacilitatorFactory(organiser=batch.organiser, name="Dra. Sri Wahyuni")
    colleague = FacilitatorFactory(organiser=batch.organiser, name="Bambang Irawan")
    other_batch = BatchFactory(organiser=batch.organiser, name="Angkatan II Kabupaten Gresik")
    other_module = ModuleFactory(program=other_batch.program)
    add_session(batch, module, facilitators=[facilitator])

    with pytest.raises(ValidationError, match="sudah terjadwal pada pukul") as excinfo:
        add_session(
            other_batch,
            other_module,
            start=time(9, 0),
            end=time(10, 30),
            facilitators=[colleague, facilitator],
        )
    assert "facilitators" in error_keys(excinfo)
    message = text(excinfo)
    assert "Dra. Sri Wahyuni" in message
    assert "Bambang Irawan" not in message
    assert not other_batch.sessions.exists()

    # Another facilitator at the same time in the other batch is fine.
    add_session(other_batch, other_module, start=time(9, 0), end=time(10, 30), facilitators=[colleague])


def test_jp_must_fit_the_duration(batch, module):
    assert 2 * JP_MINUTES == 90
    add_session(batch, module, start=time(8, 0), end=time(9, 30), jp=2)
    with pytest.raises(ValidationError, match="3 JP membutuhkan 135 menit") as excinfo:
        add_session(batch, module, day=TUE, start=time(8, 0), end=time(9, 30), jp=3)
    assert "jp" in error_keys(excinfo)
    assert "135" in text(excinfo)


def test_a_materi_session_needs_a_module_and_at_least_one_jp(batch, module):
    with pytest.raises(ValidationError, match="Pilih materi untuk sesi ini") as excinfo:
        add_session(batch, None)
    assert "module" in error_keys(excinfo)
    with pytest.raises(ValidationError, match="Sesi materi membutuhkan sekurang-kurangnya 1 JP") as excinfo:
        add_session(batch, module, jp=0)
    assert "jp" in error_keys(excinfo)


def test_materi_of_another_program_is_refused(batch):
    foreign = ModuleFactory(program=ProgramFactory(organiser=batch.organiser))
    with pytest.raises(ValidationError, match="tidak termasuk dalam program angkatan ini") as excinfo:
        add_session(batch, foreign)
    assert "module" in error_keys(excinfo)


def test_facilitator_of_another_organiser_is_refused(batch, module):
    outsider = FacilitatorFactory(organiser=OrganiserFactory(code="POLTEKESOS"), name="Dr. Asep")
    with pytest.raises(ValidationError, match="bukan fasilitator dari penyelenggara ini") as excinfo:
        add_session(batch, module, facilitators=[outsider])
    assert "facilitators" in error_keys(excinfo)
    assert "Dr. Asep" in text(excinfo)


def test_moving_a_session_does_not_clash_with_itself(batch, module):
    facilitator = FacilitatorFactory(organiser=batch.organiser)
    session = add_session(batch, module, facilitators=[facilitator])
    moved = add_session(batch, module, start=time(8, 45), end=time(10, 15), facilitators=[facilitator], session=session)
    assert moved.pk == session.pk
    session = Session.objects.get()
    assert (session.start_time, session.end_time) == (time(8, 45), time(10, 15))
    assert list(session.facilitators.all()) == [facilitator]


def test_moving_a_session_onto_another_is_refused(batch, module):
    add_session(batch, module, start=time(8, 0), end=time(9, 30))
    later = add_session(batch, module, start=time(10, 0), end=time(11, 30))
    with pytest.raises(ValidationError, match="bertabrakan dengan “Building Learning Commitment”"):
        add_session(batch, module, start=time(9, 0), end=time(10, 30), session=later)
    later.refresh_from_db()
    assert later.start_time == time(10, 0)


def test_a_session_of_another_batch_cannot_be_saved_through_this_one(batch, module):
    stranger = SessionFactory(
        batch=BatchFactory(organiser=batch.organiser), start_time=time(13, 0), end_time=time(14, 30)
    )
    with pytest.raises(ValidationError, match="Sesi ini milik angkatan lain"):
        add_session(batch, module, session=stranger)
    stranger.refresh_from_db()
    assert stranger.batch_id != batch.pk


@pytest.mark.parametrize("kind", [Session.Kind.OPENING, Session.Kind.CLOSING])
def test_ceremonies_need_no_module_nor_jp(batch, kind):
    session = services.session_save(batch=batch, day=TUE, start_time=time(8, 0), end_time=time(9, 0), kind=kind)
    session.refresh_from_db()
    assert (session.kind, session.jp, session.module) == (kind, 0, None)
    assert session.display_title == str(Session.Kind(kind).label)


def test_session_delete(batch, module):
    session = add_session(batch, module)
    services.session_delete(session=session)
    assert not Session.objects.exists()


# -------------------------------------------------------------------------------- timetable from curriculum

REALISTIC = [2, 3, 4, 4, 5, 4, 4, 5, 5, 4]  # BLC, tupoksi, pendataan, … simulasi: 40 JP


def minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def make_curriculum(program, jps):
    return [ModuleFactory(program=program, order=i + 1, title=f"Materi {i + 1}", jp=jp) for i, jp in enumerate(jps)]


@pytest.mark.parametrize("jps", [[4] * 10, REALISTIC], ids=["ten-of-4", "realistic"])
def test_schedule_from_curriculum_fills_a_four_day_batch(batch, jps):
    modules = make_curriculum(batch.program, jps)

    returned = services.schedule_from_curriculum(batch=batch)

    sessions = list(Session.objects.filter(batch=batch).order_by("date", "start_time"))
    assert len(sessions) == len(returned)
    assert sum(s.jp for s in sessions) == 40
    assert all(s.kind == Session.Kind.MATERI for s in sessions)
    assert all(MON <= s.date <= THU for s in sessions)
    for session in sessions:
        start, end = minutes(session.start_time), minutes(session.end_time)
        assert session.jp >= 1
        assert session.jp * JP_MINUTES == end - start
        assert not (start < 13 * 60 and end > 12 * 60), f"{session} crosses lunch"
        assert start >= 8 * 60

    by_day = {}
    for session in sessions:
        by_day.setdefault(session.date, []).append(session)
    for day_sessions in by_day.values():
        assert sum(s.jp for s in day_sessions) <= 10
        for earlier, later in zip(day_sessions, day_sessions[1:], strict=False):
            assert earlier.end_time <= later.start_time

    # Curriculum order, each materi getting exactly its JP.
    order = [s.module_id for s in sessions]
    assert order == sorted(order, key=[m.pk for m in modules].index)
    assert {m.pk for m in modules} == set(order)
    for module in modules:
        assert sum(s.jp for s in sessions if s.module_id == module.pk) == module.jp


def test_schedule_from_curriculum_spreads_a_short_curriculum_over_the_days(batch):
    make_curriculum(batch.program, [5, 5, 5, 5])
    sessions = services.schedule_from_curriculum(batch=batch)
    per_day = {}
    for session in sessions:
        per_day[session.date] = per_day.get(session.date, 0) + session.jp
    assert per_day == {MON: 5, TUE: 5, WED: 5, THU: 5}


def test_schedule_from_curriculum_refuses_a_timetable_with_sessions(batch):
    make_curriculum(batch.program, REALISTIC)
    services.session_save(batch=batch, day=MON, start_time=time(8, 0), end_time=time(9, 0), kind="opening")
    with pytest.raises(ValidationError, match="Jadwal sudah berisi sesi"):
        services.schedule_from_curriculum(batch=batch)
    assert Session.objects.filter(batch=batch).count() == 1


def test_schedule_from_curriculum_refuses_more_jp_than_the_days_hold(batch):
    make_curriculum(batch.program, [*REALISTIC, 1])
    with pytest.raises(ValidationError, match="Kurikulum berisi 41 JP") as excinfo:
        services.schedule_from_curriculum(batch=batch)
    assert "41" in text(excinfo)
    assert "40" in text(excinfo)
    assert not Session.objects.exists()


def test_schedule_from_curriculum_refuses_a_program_without_materi(batch):
    with pytest.raises(ValidationError, match="Program ini tidak memiliki materi untuk disalin"):
        services.schedule_from_curriculum(batch=batch)
    assert not Session.objects.exists()


def test_schedule_from_curriculum_on_a_one_day_batch(organiser):
    batch = BatchFactory(organiser=organiser, start_date=MON, end_date=MON)
    make_curriculum(batch.program, [3, 4, 3])
    sessions = services.schedule_from_curriculum(batch=batch)
    assert [(s.start_time, s.end_time, s.jp) for s in sessions] == [
        (time(8, 0), time(10, 15), 3),
        (time(10, 15), time(11, 45), 2),
        (time(13, 0), time(14, 30), 2),
        (time(14, 30), time(16, 45), 3),
    ]


def test_kecamatan_seats_stay_within_their_kabupaten_allocation(batch):
    services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, seats=10, region=region("35.12"))
    services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=6, region=region("35.12.01"))
    services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=4, region=region("35.12.02"))
    with pytest.raises(ValidationError, match="akan mendapat 11 kursi, melebihi kuota kabupaten/kota") as excinfo:
        services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=1, region=region("35.12.03"))
    assert error_keys(excinfo) == {"seats"}
    assert "Kabupaten Situbondo" in text(excinfo)
    assert batch.allocations.filter(kind=QuotaAllocation.Kind.KECAMATAN).count() == 2


def test_an_inactive_facilitator_cannot_be_booked(batch, module):
    retired = FacilitatorFactory(organiser=batch.organiser, name="Purna Tugas", is_active=False)
    with pytest.raises(ValidationError, match="sudah tidak menjadi fasilitator aktif") as excinfo:
        add_session(batch, module, facilitators=[retired])
    assert "Purna Tugas" in text(excinfo)
    assert not batch.sessions.exists()


def test_a_kabupaten_allocation_cannot_shrink_below_its_kecamatan_seats(batch):
    situbondo = services.allocation_save(
        batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, seats=10, region=region("35.12")
    )
    services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=8, region=region("35.12.01"))
    with pytest.raises(
        ValidationError, match="akan mendapat 8 kursi, melebihi kuota kabupaten/kota tersebut sebesar 2"
    ) as excinfo:
        services.allocation_save(
            batch=batch, allocation=situbondo, kind=QuotaAllocation.Kind.KABUPATEN, seats=2, region=region("35.12")
        )
    assert error_keys(excinfo) == {"seats"}
    situbondo.refresh_from_db()
    assert situbondo.seats == 10


def test_a_first_kabupaten_allocation_must_hold_the_existing_kecamatan_seats(batch):
    services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=8, region=region("35.12.01"))
    with pytest.raises(
        ValidationError, match="akan mendapat 8 kursi, melebihi kuota kabupaten/kota tersebut sebesar 5"
    ) as excinfo:
        services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, seats=5, region=region("35.12"))
    assert error_keys(excinfo) == {"seats"}
    with pytest.raises(
        ValidationError, match="Sumbermalang tidak berada di kabupaten/kota yang memiliki kuota"
    ) as excinfo:
        services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, seats=20, region=region("35.25"))
    assert error_keys(excinfo) == {"region"}
    assert not batch.allocations.filter(kind=QuotaAllocation.Kind.KABUPATEN).exists()
