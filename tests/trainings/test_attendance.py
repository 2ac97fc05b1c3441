"""Attendance records, their history, QR check-in tokens and stamps, and the eligibility selector."""

import types
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import override

from participants import services as participant_services
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
    with pytest.raises(ValidationError, match="cantumkan alasan perbaikan") as excinfo:
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


class SigningClock:
    """The wall clock the check-in stamps are signed and checked by (django.core.signing reads time.time())."""

    def __init__(self, monkeypatch):
        self.now = 1_760_000_000.0
        monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: self.now))

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def signing_clock(monkeypatch):
    return SigningClock(monkeypatch)


def check_in(sess, enrollment, now, **kwargs):
    """Open the page by the token projected at `now` and confirm with the enrolment's code at once."""
    stamp = services.checkin_stamp(sess, services.checkin_token(sess, now), now)
    code = kwargs.pop("access_code", enrollment.access_code if enrollment else "")
    return services.attendance_checkin(session=sess, stamp=stamp, access_code=code, now=now, **kwargs)


def refusal(excinfo) -> str:
    """The code of a refusal, whether a form-wide error or one on access_code."""
    error = excinfo.value
    if hasattr(error, "error_dict"):
        return {e.code for errors in error.error_dict.values() for e in errors}.pop()
    return error.code


def test_a_fresh_token_checks_in_and_a_second_check_in_changes_nothing(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 5)
    attendance = check_in(sess, enrollment, now)
    assert (attendance.status, attendance.method) == ("hadir", "self")
    with pytest.raises(ValidationError) as excinfo:
        check_in(sess, enrollment, now + timedelta(minutes=20))
    assert refusal(excinfo) == "already"
    assert Attendance.objects.get().status == "hadir"
    assert Attendance.objects.get().changes.count() == 1


def test_a_second_check_in_does_not_reveal_the_status_recorded(batch, staff):
    sess = session(batch, 8, 2)
    sick, present = enrol(batch, 1, staff), enrol(batch, 2, staff)
    mark(staff, sess, sick, "sakit", note="demam")
    check_in(sess, present, at(START, 8, 5))
    messages = []
    for enrollment in (sick, present):
        with pytest.raises(ValidationError) as excinfo, override("en"):
            check_in(sess, enrollment, at(START, 8, 10))
        assert refusal(excinfo) == "already"
        messages.append(excinfo.value.messages)
    assert messages == [["You are already recorded for this session."]] * 2


def test_late_check_in_is_terlambat(batch, staff, settings):
    settings.CHECKIN_LATE_MINUTES = 15
    sess = session(batch, 8, 4)
    on_time, late = enrol(batch, 1, staff), enrol(batch, 2, staff)
    assert check_in(sess, on_time, at(START, 8, 15)).status == "hadir"  # exactly 15 minutes: still on time
    assert check_in(sess, late, at(START, 8, 16)).status == "terlambat"


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
    with pytest.raises(ValidationError, match="Kode QR ini sudah kedaluwarsa") as excinfo:
        services.checkin_stamp(sess, token, now + timedelta(seconds=90))
    assert refusal(excinfo) == "expired"
    assert not Attendance.objects.exists()
    assert check_in(sess, enrollment, now)  # the same page opened in time goes through


@pytest.mark.parametrize(
    "token",
    [
        "²-0123456789abcdef",  # a superscript digit passes str.isdigit()
        "١٢٣-0123456789abcdef",  # Arabic-Indic digits too
        "-0123456789abcdef",
        "1234567890123-0123456789abcdef",  # more than 12 digits
        "58677250-0123456789ABCDEF",  # upper-case hex is not what we issue
        "58677250-0123456789abcde",
        "58677250-0123456789abcdef\n",
        "58677250-0123456789abcdef-1",
        "58677250\x00-0123456789abcdef",
        "",
        None,
    ],
)
def test_malformed_tokens_are_simply_invalid(batch, token):
    sess = session(batch, 8, 2)
    now = at(START, 8, 5)
    assert services.checkin_token_valid(sess, token, now) is False
    assert services.checkin_token_signature_valid(sess, token) is False
    with pytest.raises(ValidationError, match="Kode QR ini sudah kedaluwarsa") as excinfo:
        services.checkin_stamp(sess, token, now)
    assert refusal(excinfo) == "expired"


def test_the_signature_of_a_token_is_checked_whatever_the_time(batch):
    sess, other = session(batch, 8, 2), session(batch, 10, 2)
    token = services.checkin_token(sess, at(START, 8, 5))
    assert services.checkin_token_signature_valid(sess, token)  # long expired, but ours: not a forgery
    assert not services.checkin_token_signature_valid(other, token)
    step = int(token.split("-")[0])
    assert not services.checkin_token_signature_valid(sess, f"{step + 1}-{token.split('-')[1]}")


def test_a_stamp_gives_three_minutes_to_type_the_code(batch, staff, signing_clock):
    sess = session(batch, 8, 2)
    patient, slow = enrol(batch, 1, staff), enrol(batch, 2, staff)
    now = at(START, 8, 5)
    stamp = services.checkin_stamp(sess, services.checkin_token(sess, now), now)
    signing_clock.advance(services.CHECKIN_STAMP_SECONDS)  # the projected token changed six times meanwhile
    later = now + timedelta(seconds=services.CHECKIN_STAMP_SECONDS)
    services.attendance_checkin(session=sess, stamp=stamp, access_code=patient.access_code, now=later)
    signing_clock.advance(1)
    with pytest.raises(ValidationError, match="Halaman presensi ini sudah kedaluwarsa") as excinfo:
        services.attendance_checkin(session=sess, stamp=stamp, access_code=slow.access_code, now=later)
    assert refusal(excinfo) == "expired"
    assert list(Attendance.objects.values_list("enrollment_id", flat=True)) == [patient.pk]


def test_a_stamp_is_for_its_own_session_and_cannot_be_forged(batch, staff):
    sess, other = session(batch, 8, 2), session(batch, 8, 1)  # a parallel class
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 5)
    stamp = services.checkin_stamp(sess, services.checkin_token(sess, now), now)
    value, _sep, rest = stamp.partition(":")
    for forged in (
        services.checkin_stamp(other, services.checkin_token(other, now), now),
        f"{other.pk}:{rest}",
        stamp[:-1] + ("A" if stamp[-1] != "A" else "B"),
        signing.TimestampSigner(salt="another").sign(str(sess.pk)),
        "",
        None,
    ):
        with pytest.raises(ValidationError, match="Halaman presensi ini sudah kedaluwarsa") as excinfo:
            services.attendance_checkin(session=sess, stamp=forged, access_code=enrollment.access_code, now=now)
        assert refusal(excinfo) == "expired"
    assert value == str(sess.pk) and not Attendance.objects.exists()


def test_check_in_closes_at_the_end_of_the_session(batch, staff):
    sess = session(batch, 8, 2)  # 08.00 - 09.30
    on_time, too_late = enrol(batch, 1, staff), enrol(batch, 2, staff)
    end = at(START, 9, 30)
    stamp = services.checkin_stamp(sess, services.checkin_token(sess, end), end)
    assert services.attendance_checkin(session=sess, stamp=stamp, access_code=on_time.access_code, now=end)
    with pytest.raises(ValidationError, match="Presensi untuk sesi ini sudah ditutup") as excinfo:
        services.attendance_checkin(
            session=sess, stamp=stamp, access_code=too_late.access_code, now=end + timedelta(seconds=1)
        )
    assert refusal(excinfo) == "expired"


def test_a_code_of_another_batch_is_refused(batch, staff):
    sess = session(batch, 8, 2)
    elsewhere = BatchFactory(organiser=staff.organiser, start_date=START, end_date=START)
    stranger = enrol(elsewhere, 9, staff)
    with pytest.raises(ValidationError) as excinfo:
        check_in(sess, stranger, at(START, 8, 5))
    assert "access_code" in excinfo.value.message_dict
    assert refusal(excinfo) == "unknown_code"


def test_a_code_is_read_without_spaces_and_case(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    typed = " ".join([enrollment.access_code[:4].lower(), enrollment.access_code[4:]])
    assert check_in(sess, enrollment, at(START, 8, 5), access_code=f" {typed}\t").enrollment == enrollment


@pytest.mark.parametrize(
    "garble",
    [
        lambda code: code[:4] + "\x00" + code[5:],
        lambda code: code[:4] + "²" + code[5:],
        lambda code: code[:4] + "ß" + code[5:],  # upper-cases to "SS"
        lambda code: code[:4] + "Ⅻ" + code[5:],
        lambda code: code[:4] + "-" + code[5:],
        lambda code: code[:4] + "%" + code[5:],
        lambda code: code[:7],
        lambda code: code + "X",
        lambda code: "",
    ],
)
def test_a_malformed_code_is_refused_without_looking_it_up(batch, staff, garble):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    now = at(START, 8, 5)
    stamp = services.checkin_stamp(sess, services.checkin_token(sess, now), now)
    code = garble(enrollment.access_code)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as excinfo:
        services.attendance_checkin(session=sess, stamp=stamp, access_code=code, now=now)
    assert refusal(excinfo) == "unknown_code"
    assert not [q for q in queries.captured_queries if "participants_enrollment" in q["sql"]]
    assert not Attendance.objects.exists()


# ------------------------------------------------------------------------------------------ notes, reasons


TOO_LONG = "terlalu panjang"
UNPRINTABLE = "berisi karakter yang tidak dapat disimpan"


@pytest.mark.parametrize(
    ("field", "kwargs", "rule"),
    [
        ("note", {"note": "x" * 201}, TOO_LONG),
        ("note", {"note": "acara\x00keluarga"}, UNPRINTABLE),
        ("reason", {"reason": "y" * 301}, TOO_LONG),
        ("reason", {"reason": "surat\x00dokter"}, UNPRINTABLE),
    ],
)
def test_an_overlong_or_binary_note_or_reason_is_refused(batch, staff, field, kwargs, rule):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    with pytest.raises(ValidationError, match=rule) as excinfo:
        mark(staff, sess, enrollment, "izin", **kwargs)
    assert list(excinfo.value.message_dict) == [field]
    assert not Attendance.objects.exists()


def test_a_note_and_a_reason_at_their_limits_are_kept(batch, staff):
    sess = session(batch, 8, 2)
    enrollment = enrol(batch, 1, staff)
    mark(staff, sess, enrollment, "izin", note=" " + "x" * 200 + " ", reason="y" * 300)
    change = Attendance.objects.get().changes.get()
    assert (len(change.note), len(change.reason)) == (200, 300)


# ------------------------------------------------------------------------------------------ who records when


def test_a_facilitator_records_from_the_opening_of_check_in_not_before(batch, staff, settings):
    settings.CHECKIN_OPEN_MINUTES = 30
    teacher = FacilitatorUserFactory(record__organiser=batch.organiser)
    sess = session(batch, 8, 2, facilitators=[teacher.facilitator])
    enrollment = enrol(batch, 1, staff)
    assert not services.attendance_may_record(actor=teacher, session=sess, now=at(START, 7, 29))
    assert services.attendance_may_record(actor=teacher, session=sess, now=at(START, 7, 30))
    assert services.attendance_may_record(actor=staff, session=sess, now=at(START, 7, 0))  # staff any time
    with pytest.raises(PermissionDenied):
        services.attendance_record(
            actor=teacher, session=sess, enrollment=enrollment, status="hadir", now=at(START, 7, 29)
        )
    with pytest.raises(PermissionDenied):
        services.attendance_mark_all_present(actor=teacher, session=sess, now=at(START - timedelta(days=1), 9))
    assert services.attendance_mark_all_present(actor=teacher, session=sess, now=at(START, 7, 30)) == 1


def test_a_batch_is_over_once_finished_or_past_its_last_day(batch):
    assert not services.batch_is_over(batch, START)
    assert services.batch_is_over(batch, START + timedelta(days=1))
    batch.status = Batch.Status.FINISHED
    assert services.batch_is_over(batch, START)


def test_session_times_are_aware_datetimes(batch):
    sess = session(batch, 8, 2)
    assert (sess.starts_at, sess.ends_at) == (at(START, 8), at(START, 9, 30))
    assert services.checkin_window(sess) == (at(START, 7, 30), at(START, 9, 30))


# ------------------------------------------------------------------------------------- history is kept


def test_a_session_with_attendance_cannot_be_deleted(batch, staff):
    sess, empty = session(batch, 8, 2), session(batch, 10, 2)
    mark(staff, sess, enrol(batch, 1, staff), "hadir")
    with pytest.raises(ValidationError) as excinfo, override("en"):
        services.session_delete(session=sess)
    assert excinfo.value.messages == ["This session already has attendance records, so it cannot be deleted."]
    services.session_delete(session=empty)
    assert list(Session.objects.all()) == [sess]
    with pytest.raises(ProtectedError):  # the database keeps it too, whatever the door
        sess.delete()


def test_an_enrolment_with_attendance_cannot_be_withdrawn_or_replaced(batch, staff):
    sess = session(batch, 8, 2)
    attended, absent = enrol(batch, 1, staff), enrol(batch, 2, staff)
    mark(staff, sess, attended, "alpa")
    with pytest.raises(ValidationError) as excinfo, override("en"):
        participant_services.nomination_withdraw(actor=staff, nomination=attended.nomination, today=START)
    assert excinfo.value.messages == [
        "This participant already has attendance records; they cannot be withdrawn or replaced."
    ]
    replacement = participant_services.PersonData(
        nik="3512011708850999",
        full_name="Pengganti",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region("35.12"),
        pillar_type=pillar("psm"),
        kecamatan=region("35.12.01"),
    )
    with pytest.raises(ValidationError, match="sudah memiliki catatan kehadiran"):
        participant_services.nomination_replace(
            actor=staff, nomination=attended.nomination, data=replacement, today=START
        )
    attended.nomination.refresh_from_db()
    assert attended.nomination.status == Nomination.Status.ACCEPTED
    assert Enrollment.objects.filter(pk=attended.pk).exists() and Attendance.objects.count() == 1
    # Without any attendance the enrolment goes with the nomination, as before.
    participant_services.nomination_withdraw(actor=staff, nomination=absent.nomination, today=START)
    assert not Enrollment.objects.filter(pk=absent.pk).exists()
    with pytest.raises(ProtectedError):
        attended.delete()


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


def test_a_held_session_not_yet_recorded_is_not_missed(batch, staff):
    batch.program.pass_percent = Decimal("80")
    batch.program.save()
    first, second, _third = session(batch, 8, 2), session(batch, 10, 2), session(batch, 13, 6)
    forgotten, half = enrol(batch, 1, staff), enrol(batch, 2, staff)
    mark(staff, first, half, "hadir")
    matrix = selectors.attendance_matrix(batch=batch, now=at(START, 12))
    rows = {row.enrollment.pk: row for row in matrix.rows}
    assert (rows[forgotten.pk].risk, rows[forgotten.pk].unrecorded) == ("", 2)
    assert (rows[half.pk].risk, rows[half.pk].unrecorded) == ("", 1)
    assert matrix.unrecorded_held == 2  # both held sessions still lack someone's status
    mark(staff, second, forgotten, "alpa")
    mark(staff, second, half, "hadir")
    matrix = selectors.attendance_matrix(batch=batch, now=at(START, 12))
    assert matrix.unrecorded_held == 1 and [row.unrecorded for row in matrix.rows] == [1, 0]


def test_risk_flags_at_their_exact_thresholds(batch, staff):
    """Ten 1-JP sessions, a pass rule of 80 %: two JP may be missed, not three."""
    batch.program.pass_percent = Decimal("80")
    batch.program.save()
    sessions = [session(batch, hour, 1) for hour in range(8, 18)]
    people = {name: enrol(batch, n, staff) for n, name in enumerate(["none", "one", "two", "three", "late"], 1)}
    for sess, status in zip(sessions[:3], ["izin", "sakit", "alpa"], strict=True):
        mark(staff, sess, people["three"], status)
    for sess, status in zip(sessions[:2], ["izin", "alpa"], strict=True):
        mark(staff, sess, people["two"], status)
    mark(staff, sessions[0], people["one"], "sakit")
    for sess in sessions[:4]:
        mark(staff, sess, people["late"], "terlambat")

    def risks(now):
        matrix = selectors.attendance_matrix(batch=batch, now=now)
        return {name: next(r.risk for r in matrix.rows if r.enrollment == e) for name, e in people.items()}

    # Four sessions held, six to come.
    assert risks(at(START, 11, 50)) == {
        "none": "",  # nothing recorded at all: not missed
        "one": "",  # one more absence leaves exactly 80 %: still passes
        "two": "one_absence_away",  # exactly 80 % reachable, one more absence and it is gone
        "three": "cannot_pass",
        "late": "",  # terlambat is attended
    }
    # Every session held, the batch not yet finished: nobody is one absence away any more, but who cannot pass
    # is still flagged.
    assert risks(at(START, 18)) == {"none": "", "one": "", "two": "", "three": "cannot_pass", "late": ""}
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)
    batch.refresh_from_db()
    assert set(risks(at(START, 18)).values()) == {""}  # a finished batch has eligibility, not flags


def test_the_recap_comes_with_each_sessions_materi(batch, staff, django_assert_num_queries):
    session(batch, 8, 1)
    session(batch, 9, 1)
    enrol(batch, 1, staff)
    batch = Batch.objects.select_related("program").get(pk=batch.pk)
    with django_assert_num_queries(3):
        recap = selectors.attendance_recap(batch=batch)
        titles = [sess.display_title for sess in recap.sessions]
    assert titles == [sess.module.title for sess in Session.objects.order_by("start_time")]


def test_session_counts_read_only_the_session(batch, staff, django_assert_num_queries):
    sess, other = session(batch, 8, 2), session(batch, 10, 2)
    people = [enrol(batch, n, staff) for n in range(1, 6)]
    mark(staff, sess, people[0], "hadir")
    mark(staff, sess, people[1], "hadir")
    mark(staff, sess, people[2], "sakit")
    for enrollment in people:
        mark(staff, other, enrollment, "alpa")
    with django_assert_num_queries(2):
        counts = selectors.session_attendance_counts(session=sess)
    assert counts == {"hadir": 2, "terlambat": 0, "izin": 0, "sakit": 1, "alpa": 0, "none": 2}
    assert counts == selectors.session_attendance(session=sess).counts
