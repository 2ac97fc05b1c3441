"""Reads for the trainings pages: what each role finds, what the pages get, and in how many queries."""

from datetime import date, time, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

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
    UserFactory,
    pillar,
    region,
)
from trainings.models import Batch, BatchVenue, QuotaAllocation
from trainings.selectors import (
    batch_detail,
    batch_list,
    batches_visible_to,
    calendar_year,
    facilitator_sessions,
    facilitator_workload,
)

pytestmark = pytest.mark.django_db

MON, TUE, WED, THU = (date(2025, 10, 13) + timedelta(days=i) for i in range(4))


def allocate(batch, code, seats=10, kind="kabupaten"):
    return QuotaAllocation.objects.create(batch=batch, kind=kind, region=region(code), seats=seats)


def pks(queryset):
    return set(queryset.values_list("pk", flat=True))


@pytest.fixture
def upt():
    return OrganiserFactory(code="UPT-PTKS")


# -------------------------------------------------------------------------------------- batches_visible_to


def test_staff_see_every_batch_of_their_organiser_only(upt):
    own = [BatchFactory(organiser=upt, status=status) for status in Batch.Status.values]
    BatchFactory(organiser=OrganiserFactory(code="DINSOS-SBY"))
    assert pks(batches_visible_to(StaffFactory(organiser=upt))) == {b.pk for b in own}


def test_operators_see_published_batches_for_their_kabupaten_or_for_all(upt):
    mine = BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN)
    allocate(mine, "35.12")
    shared = BatchFactory(organiser=upt, status=Batch.Status.FINISHED)
    allocate(shared, "35.12")
    allocate(shared, "35.25")
    open_to_all = BatchFactory(organiser=OrganiserFactory(code="DINSOS-JATIM"), status=Batch.Status.RUNNING)
    QuotaAllocation.objects.create(batch=open_to_all, kind="pillar", pillar_type=pillar("tksk"), seats=5)
    gresik_only = BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN)
    allocate(gresik_only, "35.25")
    draft = BatchFactory(organiser=upt, status=Batch.Status.DRAFT)
    allocate(draft, "35.12")
    BatchFactory(organiser=upt, status=Batch.Status.DRAFT)  # a draft without quotas

    assert pks(batches_visible_to(OperatorFactory())) == {mine.pk, shared.pk, open_to_all.pk}
    gresik = OperatorFactory(kabupaten=region("35.25"))
    assert pks(batches_visible_to(gresik)) == {shared.pk, open_to_all.pk, gresik_only.pk}


def test_facilitators_see_the_batches_they_teach_in(upt):
    teacher = FacilitatorUserFactory(record__organiser=upt)
    colleague = FacilitatorFactory(organiser=upt)
    taught = BatchFactory(organiser=upt)
    for session in (SessionFactory(batch=taught), SessionFactory(batch=taught, date=TUE)):
        session.facilitators.add(teacher.facilitator, colleague)  # two sessions: the batch is listed once
    other = SessionFactory(batch=BatchFactory(organiser=upt))
    other.facilitators.add(colleague)
    BatchFactory(organiser=upt)

    assert list(batches_visible_to(teacher).values_list("pk", flat=True)) == [taught.pk]
    assert not batches_visible_to(FacilitatorUserFactory(record__organiser=upt)).exists()


def test_anonymous_and_roleless_users_see_nothing(upt):
    BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN)
    assert not batches_visible_to(AnonymousUser()).exists()
    assert not batches_visible_to(UserFactory(role="")).exists()
    assert not batches_visible_to(StaffFactory(organiser=upt, is_active=False)).exists()


# ---------------------------------------------------------------------------------------------- batch_list


def test_batch_list_filters(upt):
    staff = StaffFactory(organiser=upt)
    program, other_program = ProgramFactory(organiser=upt), ProgramFactory(organiser=upt)
    situbondo = BatchFactory(organiser=upt, program=program, status=Batch.Status.NOMINATION_OPEN)
    allocate(situbondo, "35.12")
    gresik = BatchFactory(
        organiser=upt, program=other_program, start_date=date(2022, 11, 15), end_date=date(2022, 11, 18)
    )
    allocate(gresik, "35.25")
    new_year = BatchFactory(organiser=upt, program=program, start_date=date(2025, 12, 30), end_date=date(2026, 1, 2))
    BatchFactory(organiser=OrganiserFactory(code="DINSOS-SBY"), program__title="Bimtek Kota Surabaya")

    def names(**filters):
        return {b.pk for b in batch_list(user=staff, **filters)}

    assert names() == {situbondo.pk, gresik.pk, new_year.pk}
    assert names(year=2025) == {situbondo.pk, new_year.pk}
    assert names(year=2026) == {new_year.pk}
    assert names(year=2022) == {gresik.pk}
    assert names(year=2024) == set()
    assert names(status=Batch.Status.NOMINATION_OPEN) == {situbondo.pk}
    assert names(program_id=other_program.pk) == {gresik.pk}
    assert names(kabupaten_id=region("35.25").pk) == {gresik.pk}
    assert names(kabupaten_id=region("35.12").pk, year=2025) == {situbondo.pk}
    assert names(status=Batch.Status.DRAFT, program_id=program.pk) == {new_year.pk}


def test_batch_list_is_newest_first_and_annotated(upt):
    staff = StaffFactory(organiser=upt)
    program = ProgramFactory(organiser=upt)
    for jp in (2, 3, 4, 5):
        ModuleFactory(program=program, jp=jp)
    older = BatchFactory(organiser=upt, program=program, start_date=date(2025, 3, 3), end_date=date(2025, 3, 6))
    newer = BatchFactory(organiser=upt, program=program)
    SessionFactory(batch=newer, jp=2)
    SessionFactory(batch=newer, start_time=time(10, 0), end_time=time(12, 0), jp=2)
    SessionFactory(batch=newer, kind="opening", module=None, jp=0, start_time=time(7, 0), end_time=time(8, 0))
    allocate(newer, "35.12", seats=20)
    allocate(newer, "35.25", seats=20)
    QuotaAllocation.objects.create(batch=newer, kind="pillar", pillar_type=pillar("psm"), seats=40)

    batches = list(batch_list(user=staff))

    assert [b.pk for b in batches] == [newer.pk, older.pk]
    # The SessionFactory modules add 2 JP each to the program: 14 + 2 + 2.
    assert [(b.scheduled_jp, b.program_jp) for b in batches] == [(4, 18), (0, 18)]
    assert [a.region.code for a in batches[0].kabupaten_allocations] == ["35.12", "35.25"]
    assert batches[1].kabupaten_allocations == []


def test_batch_list_program_jp_is_zero_without_materi(upt):
    BatchFactory(organiser=upt)
    (batch,) = batch_list(user=StaffFactory(organiser=upt))
    assert (batch.scheduled_jp, batch.program_jp) == (0, 0)


def test_batch_list_respects_visibility():
    operator = OperatorFactory()
    visible = BatchFactory(status=Batch.Status.NOMINATION_OPEN)
    allocate(visible, "35.12")
    hidden = BatchFactory(status=Batch.Status.NOMINATION_OPEN)
    allocate(hidden, "35.25")
    assert [b.pk for b in batch_list(user=operator)] == [visible.pk]
    assert list(batch_list(user=operator, kabupaten_id=region("35.25").pk)) == []


def make_listed_batches(organiser, count):
    program = ProgramFactory(organiser=organiser)
    ModuleFactory(program=program, jp=4)
    for i in range(count):
        start = date(2025, 1, 6) + timedelta(days=7 * (i % 45))
        batch = BatchFactory(organiser=organiser, program=program, start_date=start, end_date=start + timedelta(3))
        allocate(batch, "35.12", seats=10)
        allocate(batch, "35.25", seats=10)
        SessionFactory(batch=batch, module=program.modules.first(), jp=2)


def test_batch_list_runs_a_fixed_number_of_queries(django_assert_num_queries):
    small, large = OrganiserFactory(code="SMALL"), OrganiserFactory(code="LARGE")
    make_listed_batches(small, 5)
    make_listed_batches(large, 50)
    counts = {}
    for organiser, size in ((small, 5), (large, 50)):
        staff = StaffFactory(organiser=organiser)
        with CaptureQueriesContext(connection) as queries:
            batches = list(batch_list(user=staff, year=2025))
        assert len(batches) == size
        counts[size] = len(queries)
        with django_assert_num_queries(0):  # everything the list page shows is loaded
            rows = [
                (b.program.title, b.organiser.name, b.scheduled_jp, b.program_jp)
                + tuple(a.region.name for a in b.kabupaten_allocations)
                for b in batches
            ]
        assert rows[0][2:] == (2, 4, "Kabupaten Situbondo", "Kabupaten Gresik")
    assert counts[5] == counts[50]
    assert counts[50] == 2  # the batches (with program, organiser and JP sums), their kabupaten quotas


# -------------------------------------------------------------------------------------------- batch_detail


def test_batch_detail_lays_out_the_days_with_their_venues_and_sessions(upt):
    staff = StaffFactory(organiser=upt)
    batch = BatchFactory(organiser=upt, venue="UPT PTKS Malang")
    BatchVenue.objects.create(batch=batch, date=TUE, venue="Pendopo Kabupaten Situbondo")
    blc = ModuleFactory(program=batch.program, order=1, title="Building Learning Commitment", jp=3)
    tupoksi = ModuleFactory(program=batch.program, order=2, title="Tupoksi TKSK dan PSM", jp=4)
    ModuleFactory(program=batch.program, order=3, title="Jejaring kerja", jp=5)
    zaenal, ani = (
        FacilitatorFactory(organiser=upt, name="Zaenal"),
        FacilitatorFactory(organiser=upt, name="Ani"),
    )
    afternoon = SessionFactory(batch=batch, date=MON, start_time=time(13, 0), end_time=time(14, 30), module=tupoksi)
    afternoon.facilitators.add(zaenal, ani)
    morning = SessionFactory(batch=batch, date=MON, start_time=time(8, 0), end_time=time(10, 15), module=blc, jp=3)
    opening = SessionFactory(
        batch=batch, date=TUE, start_time=time(8, 0), end_time=time(9, 0), kind="opening", module=None, jp=0
    )
    second = SessionFactory(batch=batch, date=TUE, start_time=time(9, 0), end_time=time(10, 30), module=tupoksi)
    allocate(batch, "35.12", seats=30)
    allocate(batch, "35.12.01", seats=5, kind="kecamatan")
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=25)

    detail = batch_detail(user=staff, pk=batch.pk)

    assert detail.batch == batch
    assert [(d.date, d.venue) for d in detail.days] == [
        (MON, "UPT PTKS Malang"),
        (TUE, "Pendopo Kabupaten Situbondo"),
        (WED, "UPT PTKS Malang"),
        (THU, "UPT PTKS Malang"),
    ]
    assert [[s.pk for s in d.sessions] for d in detail.days] == [
        [morning.pk, afternoon.pk],
        [opening.pk, second.pk],
        [],
        [],
    ]
    assert [d.jp for d in detail.days] == [5, 2, 0, 0]
    assert [f.name for f in detail.days[0].sessions[1].facilitators.all()] == ["Ani", "Zaenal"]
    assert [m.title for m in detail.modules] == [
        "Building Learning Commitment",
        "Tupoksi TKSK dan PSM",
        "Jejaring kerja",
    ]
    assert (detail.scheduled_jp, detail.program_jp) == (7, 12)
    assert [m.scheduled_jp for m in detail.modules] == [3, 4, 0]
    assert detail.allocated == {"kabupaten": 30, "kecamatan": 5, "pillar": 25}
    assert sorted((str(row.allocation.target), row.allocation.seats) for row in detail.quota_rows) == [
        ("Kabupaten Situbondo", 30),
        ("PSM", 25),
        ("Sumbermalang", 5),
    ]


def test_batch_detail_is_404_for_a_batch_the_user_cannot_see(upt):
    batch = BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN)
    allocate(batch, "35.25")
    with pytest.raises(Http404):
        batch_detail(user=OperatorFactory(), pk=batch.pk)
    with pytest.raises(Http404):
        batch_detail(user=StaffFactory(organiser=OrganiserFactory(code="DINSOS-SBY")), pk=batch.pk)
    assert batch_detail(user=OperatorFactory(kabupaten=region("35.25")), pk=batch.pk).batch == batch


def make_detailed_batch(organiser, sessions):
    batch = BatchFactory(organiser=organiser, start_date=MON, end_date=THU)
    BatchVenue.objects.create(batch=batch, date=WED, venue="Hotel Rosali")
    allocate(batch, "35.12", seats=20)
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=20)
    modules = [ModuleFactory(program=batch.program, jp=2) for _ in range(5)]
    facilitators = [FacilitatorFactory(organiser=organiser) for _ in range(4)]
    for i in range(sessions):
        start = 7 * 60 + (i // 4) * 60
        session = SessionFactory(
            batch=batch,
            date=MON + timedelta(days=i % 4),
            start_time=time(start // 60, 0),
            end_time=time(start // 60, 45),
            module=modules[i % 5],
            jp=1,
        )
        session.facilitators.add(facilitators[i % 4], facilitators[(i + 1) % 4])
    return batch


def test_batch_detail_runs_a_fixed_number_of_queries(django_assert_num_queries):
    upt = OrganiserFactory(code="UPT-PTKS")
    staff = StaffFactory(organiser=upt)
    counts = {}
    for size in (5, 50):
        batch = make_detailed_batch(upt, size)
        with CaptureQueriesContext(connection) as queries:
            detail = batch_detail(user=staff, pk=batch.pk)
        counts[size] = len(queries)
        assert detail.scheduled_jp == size
        with django_assert_num_queries(0):  # the page touches nothing that is not loaded
            rows = [
                (day.venue, s.display_title, s.time_range, *[f.name for f in s.facilitators.all()])
                for day in detail.days
                for s in day.sessions
            ]
            targets = [str(row.allocation.target) for row in detail.quota_rows]
            heading = (detail.batch.program.title, detail.batch.organiser.name)
        assert len(rows) == size
        assert all(len(row) == 5 for row in rows)
        assert targets == ["Kabupaten Situbondo", "PSM"]
        assert heading == (detail.batch.program.title, upt.name)
    assert counts[5] == counts[50]
    # batch (+ program, organiser), allocations, day venues, sessions (+ module), facilitators, modules,
    # and the seats taken per allocation
    assert counts[50] == 7


# ------------------------------------------------------------------------------------------- calendar_year


def test_calendar_places_batches_in_every_month_they_touch(upt, django_assert_num_queries):
    staff = StaffFactory(organiser=upt)
    october = BatchFactory(organiser=upt)  # 13–16 Oct 2025
    across_months = BatchFactory(organiser=upt, start_date=date(2025, 10, 30), end_date=date(2025, 11, 2))
    across_years = BatchFactory(organiser=upt, start_date=date(2025, 12, 29), end_date=date(2026, 1, 2))
    BatchFactory(organiser=upt, start_date=date(2024, 10, 1), end_date=date(2024, 10, 3))
    BatchFactory(organiser=OrganiserFactory(code="DINSOS-SBY"))

    with django_assert_num_queries(1):
        months = calendar_year(user=staff, year=2025)

    assert sorted(months) == list(range(1, 13))
    assert months[10] == [october, across_months]
    assert months[11] == [across_months]
    assert months[12] == [across_years]
    assert all(months[m] == [] for m in range(1, 10))

    next_year = calendar_year(user=staff, year=2026)
    assert next_year[1] == [across_years]
    assert all(next_year[m] == [] for m in range(2, 13))


def test_calendar_shows_only_what_the_user_can_see(upt):
    BatchFactory(organiser=upt, status=Batch.Status.DRAFT)
    published = BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN)
    assert calendar_year(user=OperatorFactory(), year=2025)[10] == [published]
    assert all(batches == [] for batches in calendar_year(user=AnonymousUser(), year=2025).values())


# ------------------------------------------------------------------------------------- facilitator_workload


def test_workload_counts_jp_per_month(upt):
    busy = FacilitatorFactory(organiser=upt, name="Budi")
    idle = FacilitatorFactory(organiser=upt, name="Agus")
    FacilitatorFactory(organiser=OrganiserFactory(code="DINSOS-SBY"), name="Orang luar")
    october = BatchFactory(organiser=upt)
    november = BatchFactory(organiser=upt, start_date=date(2025, 11, 3), end_date=date(2025, 11, 6))
    last_year = BatchFactory(organiser=upt, start_date=date(2024, 10, 14), end_date=date(2024, 10, 17))
    for batch, day, jp in [
        (october, MON, 2),
        (october, TUE, 3),
        (november, date(2025, 11, 4), 4),
        (last_year, date(2024, 10, 14), 5),
    ]:
        session = SessionFactory(batch=batch, date=day, start_time=time(8, 0), end_time=time(11, 0), jp=jp)
        session.facilitators.add(busy)

    rows = facilitator_workload(organiser=upt, year=2025)

    assert [row.facilitator.name for row in rows] == ["Agus", "Budi"]
    agus, budi = rows
    assert (agus.jp_by_month, agus.total_jp, agus.clashes) == ([0] * 12, 0, [])
    assert budi.jp_by_month == [0] * 9 + [5, 4, 0]
    assert budi.total_jp == 9
    assert budi.clashes == []
    assert idle == agus.facilitator


def test_workload_reports_double_bookings_made_around_the_service(upt):
    facilitator = FacilitatorFactory(organiser=upt)
    first_batch, second_batch = BatchFactory(organiser=upt), BatchFactory(organiser=upt)
    first = SessionFactory(batch=first_batch, start_time=time(8, 0), end_time=time(9, 30))
    second = SessionFactory(batch=second_batch, start_time=time(9, 0), end_time=time(10, 30))
    adjacent = SessionFactory(batch=second_batch, start_time=time(10, 30), end_time=time(12, 0))
    next_day = SessionFactory(batch=first_batch, date=TUE, start_time=time(8, 0), end_time=time(9, 30))
    for session in (first, second, adjacent, next_day):
        session.facilitators.add(facilitator)

    (row,) = facilitator_workload(organiser=upt, year=2025)

    assert [(a.pk, b.pk) for a, b in row.clashes] == [(first.pk, second.pk)]


def test_workload_finds_a_session_nested_inside_a_long_one(upt):
    facilitator = FacilitatorFactory(organiser=upt)
    long = SessionFactory(batch=BatchFactory(organiser=upt), start_time=time(8, 0), end_time=time(12, 0), jp=5)
    short = SessionFactory(batch=BatchFactory(organiser=upt), start_time=time(8, 30), end_time=time(9, 15), jp=1)
    late = SessionFactory(batch=BatchFactory(organiser=upt), start_time=time(11, 0), end_time=time(12, 30), jp=2)
    for session in (long, short, late):
        session.facilitators.add(facilitator)

    (row,) = facilitator_workload(organiser=upt, year=2025)

    assert {(a.pk, b.pk) for a, b in row.clashes} == {(long.pk, short.pk), (long.pk, late.pk)}


def test_adjacent_sessions_are_no_clash(upt):
    facilitator = FacilitatorFactory(organiser=upt)
    for batch, start, end in [
        (BatchFactory(organiser=upt), time(8, 0), time(9, 30)),
        (BatchFactory(organiser=upt), time(9, 30), time(11, 0)),
    ]:
        SessionFactory(batch=batch, start_time=start, end_time=end).facilitators.add(facilitator)

    (row,) = facilitator_workload(organiser=upt, year=2025)

    assert row.clashes == []
    assert row.total_jp == 4


@pytest.mark.parametrize("sessions", [5, 50])
def test_workload_runs_a_fixed_number_of_queries(upt, sessions, django_assert_num_queries):
    make_detailed_batch(upt, sessions)
    with django_assert_num_queries(3):
        rows = facilitator_workload(organiser=upt, year=2025)
    assert sum(row.total_jp for row in rows) == 2 * sessions  # each 1-JP session has two facilitators


# -------------------------------------------------------------------------------------- facilitator_sessions


def test_facilitator_sessions_lists_their_coming_sessions_in_order(upt):
    teacher = FacilitatorUserFactory(record__organiser=upt)
    batch = BatchFactory(organiser=upt)
    later = SessionFactory(batch=batch, date=TUE, start_time=time(10, 0), end_time=time(11, 30))
    sooner = SessionFactory(batch=batch, date=TUE, start_time=time(8, 0), end_time=time(9, 30))
    past = SessionFactory(batch=batch, date=MON)
    SessionFactory(batch=batch, date=WED)  # someone else's
    for session in (later, sooner, past):
        session.facilitators.add(teacher.facilitator)

    assert list(facilitator_sessions(user=teacher, since=TUE)) == [sooner, later]


def test_a_batch_with_only_kecamatan_quotas_is_seen_by_that_kabupaten_alone():
    from tests.factories import BatchFactory, OperatorFactory, region
    from trainings import selectors
    from trainings.models import Batch, QuotaAllocation

    batch = BatchFactory(status=Batch.Status.NOMINATION_OPEN)
    QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, region=region("35.13.19"), seats=5)
    probolinggo = OperatorFactory(username="op.probolinggo", kabupaten=region("35.13"))
    gresik = OperatorFactory(username="op.gresik", kabupaten=region("35.25"))
    assert list(selectors.batches_visible_to(probolinggo)) == [batch]
    assert probolinggo.has_perm("trainings.batch.view", batch)
    assert list(selectors.batches_visible_to(gresik)) == []
    assert not gresik.has_perm("trainings.batch.view", batch)
