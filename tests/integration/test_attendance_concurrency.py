"""Attendance holds when everyone taps at once: real PostgreSQL connections check in with the same code, race
"semua hadir", the facilitator's taps and the deletion of the session, and each participant ends up with exactly
one record, the losers with a clear refusal (never a unique-constraint error or a deadlock)."""

import copy
import threading
from datetime import date, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from participants.models import Enrollment, Nomination, Person
from tests.factories import BatchFactory, ModuleFactory, StaffFactory, pillar, region
from trainings import services
from trainings.models import Attendance, AttendanceChange, Batch, Session

DAY = date(2025, 10, 13)
NOW = timezone.make_aware(datetime.combine(DAY, time(8, 5)))

# Real transactions, so the threads' connections see each other's commits; the reference data that a
# transactional test flushes is restored afterwards.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def race(calls):
    """Run each call in its own thread and connection, all released together; returns "ok", the refusal's code,
    or the unexpected exception of each."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index):
        try:
            barrier.wait(timeout=30)
            calls[index]()
            outcomes[index] = "ok"
        except ValidationError as error:
            outcomes[index] = getattr(error, "code", None) or "invalid"
        except Exception as error:  # the assertion shows what went wrong
            outcomes[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def world():
    staff = StaffFactory()
    batch = BatchFactory(organiser=staff.organiser, status=Batch.Status.RUNNING, start_date=DAY, end_date=DAY)
    session = Session.objects.create(
        batch=batch,
        date=DAY,
        start_time=time(8, 0),
        end_time=time(9, 30),
        module=ModuleFactory(program=batch.program, jp=2),
        jp=2,
    )
    enrollments = []
    for serial in range(1, 11):
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
        enrollments.append(Enrollment.objects.create(batch=batch, person=person, nomination=nomination))
    stamp = services.checkin_stamp(session, services.checkin_token(session, NOW), NOW)
    return {"staff": staff, "session": session, "enrollments": enrollments, "stamp": stamp}


def check_in(world, enrollment):
    # A copy per call, as each request loads its own: deleting the session clears the pk of the instance it was
    # given, and a check-in sharing that instance would then see a mismatched stamp instead of no session.
    session = copy.copy(world["session"])
    return lambda: services.attendance_checkin(
        session=session, stamp=world["stamp"], access_code=enrollment.access_code, now=NOW
    )


def test_ten_check_ins_with_one_code_make_one_record(postgres_required, world):
    outcomes = race([check_in(world, world["enrollments"][0])] * 10)
    assert sorted(outcomes) == ["already"] * 9 + ["ok"], outcomes
    attendance = Attendance.objects.get()
    assert (attendance.enrollment, attendance.method) == (world["enrollments"][0], "self")
    assert AttendanceChange.objects.count() == 1


def test_check_ins_racing_all_present_leave_one_record_each(postgres_required, world):
    session, staff, enrollments = world["session"], world["staff"], world["enrollments"]
    marked = []
    calls = [check_in(world, enrollment) for enrollment in enrollments[:8]]
    calls.append(lambda: marked.append(services.attendance_mark_all_present(actor=staff, session=session, now=NOW)))
    calls.append(check_in(world, enrollments[0]))  # a double check-in on top
    outcomes = race(calls)
    assert set(outcomes) <= {"ok", "already"}, outcomes
    checked_in = outcomes[:8].count("ok") + (outcomes[9] == "ok")
    assert outcomes[8] == "ok" and marked == [10 - checked_in]
    records = Attendance.objects.filter(session=session)
    assert sorted(records.values_list("enrollment_id", flat=True)) == sorted(e.pk for e in enrollments)
    assert records.filter(method="self").count() == checked_in
    assert AttendanceChange.objects.count() == 10


def test_taps_racing_check_ins_of_the_same_participant(postgres_required, world):
    session, staff, enrollment = world["session"], world["staff"], world["enrollments"][0]

    def tap(status):
        return lambda: services.attendance_record(
            actor=staff, session=session, enrollment=enrollment, status=status, now=NOW
        )

    outcomes = race([tap("hadir"), tap("hadir"), tap("izin"), *[check_in(world, enrollment)] * 5])
    assert set(outcomes[:3]) == {"ok"} and set(outcomes[3:]) <= {"ok", "already"}, outcomes
    assert outcomes[3:].count("ok") <= 1
    attendance = Attendance.objects.get()
    changes = list(attendance.changes.order_by("pk").values_list("old_status", "new_status"))
    assert changes[0][0] == "" and all(old for old, _new in changes[1:])  # created once, then changed
    assert attendance.status == changes[-1][1]


def test_a_session_deleted_while_participants_check_in(postgres_required, world):
    session = world["session"]
    calls = [check_in(world, enrollment) for enrollment in world["enrollments"][:5]]
    calls.append(lambda: services.session_delete(session=session))
    outcomes = race(calls)
    assert set(outcomes) <= {"ok", "invalid"}, outcomes
    checked_in = outcomes[:5].count("ok")
    if outcomes[5] == "ok":  # deleted first: the check-ins find no session
        assert checked_in == 0 and not Session.objects.filter(pk=session.pk).exists()
    else:  # somebody checked in first: the session and its records stay
        assert checked_in >= 1 and Attendance.objects.filter(session=session).count() == checked_in
