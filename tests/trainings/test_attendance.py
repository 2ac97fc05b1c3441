"""Attendance records, their history, QR check-in tokens and the eligibility selector."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from participants.models import Enrollment, Nomination
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OperatorFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings import selectors, services
from trainings.models import Attendance, Batch, Session

pytestmark = pytest.mark.django_db

START = date(2025, 10, 13)


def at(day: date, hour: int, minute: int = 0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def staff():
    return StaffFactory()


@pytest.fixture
def batch(staff):
    return BatchFactory(organiser=staff.organiser, status=Batch.Status.RUNNING, start_date=START, end_date=START)


def session(batch, start_hour, jp, facilitators=()):
    module = ModuleFactory(program=batch.program, jp=jp)
    created = Session.objects.create(
        batch=batch,
        date=batch.start_date,
        start_time=time(start_hour, 0),
        end_time=(datetime.combine(START, time(start_hour, 0)) + timedelta(minutes=45 * max(jp, 1))).time(),
        module=module,
        jp=jp,
    )
    created.facilitators.set(facilitators)
    return created


def enrol(batch, serial, staff):
    from participants.models import Person

    person = Person.objects.create(
        nik=f"351201170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region("35.12"),
        pillar_type=pillar("psm"),
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region("35.12"),
        pillar_type=pillar("psm"),
        status=Nomination.Status.ACCEPTED,
        nominated_by=staff,
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


def mark(staff, sess, enrollment, status, **kwargs):
    return services.attendance_record(
        actor=staff, session=sess, enrollment=enrollment, status=status, now=at(START, 17), **kwargs
    )


def test_changes_keep_their_history(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    mark(staff, sess, enrollment, "hadir")
    mark(staff, sess, enrollment, "izin", note="acara keluarga")
    attendance = Attendance.objects.get()
    assert attendance.status == "izin" and attendance.method == "staff"
    assert [(c.old_status, c.new_status) for c in attendance.changes.all()] == [("", "hadir"), ("hadir", "izin")]


def test_facilitators_record_their_own_sessions_until_the_end_of_the_batch(batch, staff):
    teacher = FacilitatorUserFactory(record__organiser=batch.organiser)
    other = FacilitatorUserFactory(record__organiser=batch.organiser)
    sess = session(batch, 8, 2, facilitators=[teacher.facilitator])
    enrollment = enrol(batch, 1, staff)
    services.attendance_record(actor=teacher, session=sess, enrollment=enrollment, status="hadir", now=at(START, 9))
    with pytest.raises(PermissionDenied):
        services.attendance_record(actor=other, session=sess, enrollment=enrollment, status="alpa", now=at(START, 9))
    with pytest.raises(PermissionDenied):  # the day after the batch
        services.attendance_record(
            actor=teacher, session=sess, enrollment=enrollment, status="alpa", now=at(START + timedelta(days=1), 9)
        )
    with pytest.raises(PermissionDenied):
        services.attendance_record(
            actor=OperatorFactory(), session=sess, enrollment=enrollment, status="alpa", now=at(START, 9)
        )


def test_after_the_batch_staff_correct_with_a_reason_only(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    later = at(START + timedelta(days=3), 9)
    with pytest.raises(ValidationError) as excinfo:
        services.attendance_record(actor=staff, session=sess, enrollment=enrollment, status="sakit", now=later)
    assert "reason" in excinfo.value.message_dict
    services.attendance_record(
        actor=staff, session=sess, enrollment=enrollment, status="sakit", reason="surat dokter", now=later
    )
    assert Attendance.objects.get().changes.get().reason == "surat dokter"


def test_all_present_leaves_recorded_statuses_alone(batch, staff):
    sess = session(batch, 8, 2)
    first, second, third = (enrol(batch, n, staff) for n in (1, 2, 3))
    mark(staff, sess, second, "sakit")
    assert services.attendance_mark_all_present(actor=staff, session=sess, now=at(START, 8, 5)) == 2
    statuses = dict(Attendance.objects.values_list("enrollment_id", "status"))
    assert statuses == {first.pk: "hadir", second.pk: "sakit", third.pk: "hadir"}


# ---------------------------------------------------------------------------------------------- check-in


def test_a_fresh_token_checks_in_and_a_second_check_in_changes_nothing(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 5)
    token = services.checkin_token(sess, now)
    attendance = services.attendance_checkin(session=sess, token=token, access_code=enrollment.access_code, now=now)
    assert (attendance.status, attendance.method) == ("hadir", "self")
    with pytest.raises(ValidationError):
        services.attendance_checkin(
            session=sess, token=token, access_code=enrollment.access_code, now=now + timedelta(minutes=20)
        )
    assert Attendance.objects.get().status == "hadir"


def test_late_check_in_is_terlambat(batch, staff, settings):
    settings.CHECKIN_LATE_MINUTES = 15
    sess = session(batch, 8, 4)
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 16)
    token = services.checkin_token(sess, now)
    assert (
        services.attendance_checkin(session=sess, token=token, access_code=enrollment.access_code, now=now).status
        == "terlambat"
    )


def test_expired_forged_and_out_of_time_tokens_are_refused(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 5)
    token = services.checkin_token(sess, now)
    assert services.checkin_token_valid(sess, token, now + timedelta(seconds=30))
    assert not services.checkin_token_valid(sess, token, now + timedelta(seconds=90))  # expired
    step = token.split("-")[0]
    assert not services.checkin_token_valid(sess, f"{step}-0000000000000000", now)  # forged
    other = session(batch, 10, 2)
    assert not services.checkin_token_valid(other, token, now)  # another session's
    early = at(START, 7, 0)
    assert not services.checkin_token_valid(sess, services.checkin_token(sess, early), early)  # not open yet
    with pytest.raises(ValidationError):
        services.attendance_checkin(
            session=sess, token=token, access_code=enrollment.access_code, now=now + timedelta(seconds=90)
        )
    assert not Attendance.objects.exists()


def test_a_code_of_another_batch_is_refused(batch, staff):
    sess = session(batch, 8, 2)
    elsewhere = BatchFactory(organiser=staff.organiser, start_date=START, end_date=START)
    stranger = enrol(elsewhere, 9, staff)
    now = at(START, 8, 5)
    with pytest.raises(ValidationError) as excinfo:
        services.attendance_checkin(
            session=sess, token=services.checkin_token(sess, now), access_code=stranger.access_code, now=now
        )
    assert "access_code" in excinfo.value.message_dict


# ------------------------------------------------------------------------------------------- eligibility


def test_eligibility_at_the_threshold_with_sessions_of_different_jp(batch, staff):
    batch.program.pass_percent = Decimal("90")
    batch.program.save()
    sessions = [session(batch, 8, 6), session(batch, 13, 3), session(batch, 16, 1)]  # 10 JP
    exactly, below, late = (enrol(batch, n, staff) for n in (1, 2, 3))
    for sess in sessions[:2]:
        mark(staff, sess, exactly, "hadir")  # 9 of 10 JP: exactly 90 %
    mark(staff, sessions[0], below, "hadir")
    mark(staff, sessions[1], below, "izin")  # izin does not count: 6 + 1 = 7
    mark(staff, sessions[2], below, "hadir")
    for sess in sessions:
        mark(staff, sess, late, "terlambat")  # terlambat counts
    rows = {row.enrollment.pk: row for row in selectors.attendance_matrix(batch=batch).rows}
    assert (rows[exactly.pk].jp_attended, rows[exactly.pk].percent, rows[exactly.pk].eligible) == (9, 90.0, True)
    assert (rows[below.pk].jp_attended, rows[below.pk].eligible) == (7, False)
    assert (rows[late.pk].jp_attended, rows[late.pk].eligible) == (10, True)
    assert selectors.eligible_enrollments(batch=batch) == sorted([exactly, late], key=lambda e: e.person.full_name)


def test_a_batch_without_sessions_has_nobody_eligible(batch, staff):
    enrol(batch, 1, staff)
    matrix = selectors.attendance_matrix(batch=batch)
    assert matrix.jp_scheduled == 0
    assert [(row.percent, row.eligible) for row in matrix.rows] == [(0.0, False)]


def test_risk_counts_only_sessions_already_held(batch, staff):
    batch.program.pass_percent = Decimal("80")
    batch.program.save()
    first, second, _third = session(batch, 8, 2), session(batch, 10, 2), session(batch, 13, 6)  # 10 JP
    absent, one_away, fine = (enrol(batch, n, staff) for n in (1, 2, 3))
    mark(staff, first, absent, "alpa")
    mark(staff, second, absent, "alpa")  # 4 JP missed: at most 60 %
    mark(staff, first, one_away, "sakit")  # 2 missed: 80 % still reachable, not after missing the 6 JP
    mark(staff, second, one_away, "hadir")
    mark(staff, first, fine, "hadir")
    mark(staff, second, fine, "hadir")
    noon = at(START, 12)  # first two held, the third (13:00) not yet
    rows = {row.enrollment.pk: row.risk for row in selectors.attendance_matrix(batch=batch, now=noon).rows}
    assert rows[absent.pk] == "cannot_pass"
    assert rows[one_away.pk] == "one_absence_away"
    assert rows[fine.pk] == ""  # missed nothing yet, so not flagged (even though the 6-JP session is decisive)
    before = at(START, 7)  # nothing held yet: nobody is flagged for sessions to come
    assert {row.risk for row in selectors.attendance_matrix(batch=batch, now=before).rows} == {""}


def test_the_matrix_costs_the_same_queries_for_any_size(batch, staff, django_assert_num_queries):
    sessions = [session(batch, 8 + i, 1) for i in range(3)]
    for n in range(1, 4):
        enrollment = enrol(batch, n, staff)
        for sess in sessions:
            mark(staff, sess, enrollment, "hadir")
    batch = Batch.objects.select_related("program").get(pk=batch.pk)
    with django_assert_num_queries(3):
        small = selectors.attendance_matrix(batch=batch)
    for n in range(4, 20):
        enrol(batch, n, staff)
    with django_assert_num_queries(3):
        large = selectors.attendance_matrix(batch=batch)
    assert (len(small.rows), len(large.rows)) == (3, 19)
