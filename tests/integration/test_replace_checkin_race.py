"""A participant replaced at the moment they check in by QR: real PostgreSQL connections, the interleaving forced
by a lock held from a third connection. Whichever comes first wins and the other gets a clear refusal: the
replacement removes the enrolment and the check-in is refused as for a code not in the batch, or the check-in
records attendance and the replacement is refused, as an enrolment with attendance is protected. Never a 500,
never attendance pointing at a removed enrolment."""

import threading
from contextlib import contextmanager
from datetime import date, time

import psycopg2
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from psycopg2 import sql

from participants import services as participant_services
from participants.models import Enrollment, Nomination, Person
from tests.factories import BatchFactory, ModuleFactory, StaffFactory, pillar, region
from tests.trainings.test_attendance_views import enrol
from trainings import services
from trainings.models import Attendance, AttendanceChange, Batch, QuotaAllocation, Session

from .pg_locks import wait_until, waiting_for_a_lock

# Real transactions, so the threads' connections see each other's commits; the reference data that a
# transactional test flushes is restored afterwards.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

UNKNOWN_CODE = "Kode akses ini tidak terdaftar pada angkatan ini."
HAS_ATTENDANCE = "Peserta ini sudah memiliki catatan kehadiran; ia tidak dapat ditarik atau diganti."


@pytest.fixture
def world():
    """A running batch with a session open for check-in now (the check-in page uses the real clock), and one
    accepted, enrolled participant."""
    staff = StaffFactory()
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=staff.organiser, status=Batch.Status.RUNNING, start_date=today, end_date=today, quota_total=10
    )
    QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=region("35.12"), seats=10)
    session = Session.objects.create(
        batch=batch,
        date=today,
        start_time=time(0, 0),
        end_time=time(23, 59),
        module=ModuleFactory(program=batch.program, jp=2),
        jp=2,
    )
    enrollment = enrol(batch, 1, by=staff, name="Peserta Lama")
    nomination = enrollment.nomination
    return {"staff": staff, "session": session, "nomination": nomination, "enrollment": enrollment}


def successor() -> participant_services.PersonData:
    return participant_services.PersonData(
        nik="3512011708850002",
        full_name="Peserta Pengganti",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region("35.12"),
        pillar_type=pillar("psm"),
        kecamatan=region("35.12.01"),
    )


def replace(world):
    return participant_services.nomination_replace(
        actor=world["staff"], nomination=world["nomination"], data=successor()
    )


def in_thread(call) -> dict:
    """Run `call` in a thread with its own database connection; the dict gets its "result" or "error"."""
    outcome = {}

    def run():
        try:
            outcome["result"] = call()
        except Exception as error:  # the assertions show what went wrong
            outcome["error"] = error
        finally:
            connection.close()

    outcome["thread"] = threading.Thread(target=run)
    outcome["thread"].start()
    return outcome


def check_in_through_the_page(world) -> dict:
    """The participant's phone posts their access code on the page opened by the projected QR code."""
    session = world["session"]
    token = services.checkin_token(session)
    stamp = services.checkin_stamp(session, token)
    url = reverse("trainings:checkin", args=[session.pk, token])
    return in_thread(lambda: Client().post(url, {"stamp": stamp, "access_code": world["enrollment"].access_code}))


@contextmanager
def held(statement, params=None):
    """Run `statement` in a third connection and hold its locks until the block ends."""
    db = connection.settings_dict
    holder = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or None
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute(statement, params)
        yield
    finally:
        holder.rollback()
        holder.close()


def session_row(session):
    """Whoever writes the session's attendance waits here (it locks the session's row first)."""
    query = sql.SQL("SELECT id FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(Session._meta.db_table))
    return query, [session.pk]


def history_table():
    """Whoever records attendance waits here after writing the record itself, before its history line."""
    return (sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(AttendanceChange._meta.db_table)),)


def finished(outcome) -> dict:
    outcome["thread"].join(timeout=60)
    assert not outcome["thread"].is_alive()
    return outcome


def test_a_replacement_committed_while_the_check_in_waits_refuses_the_check_in(postgres_required, world):
    session = world["session"]
    # The check-in reads the enrolment by its code, then waits for the session's row; meanwhile the
    # participant is replaced and their enrolment removed.
    with held(*session_row(session)):
        checking_in = check_in_through_the_page(world)
        wait_until(lambda: waiting_for_a_lock() == 1, "the check-in to wait for the session")
        new, _warnings = replace(world)
    outcome = finished(checking_in)

    assert "error" not in outcome, outcome.get("error")
    response = outcome["result"]
    assert response.status_code == 200
    assert UNKNOWN_CODE in response.content.decode()
    # The replacement stands, and no attendance points at the removed enrolment.
    assert not Attendance.objects.exists() and not AttendanceChange.objects.exists()
    assert not Enrollment.objects.filter(pk=world["enrollment"].pk).exists()
    world["nomination"].refresh_from_db()
    assert world["nomination"].status == Nomination.Status.REPLACED
    assert new.replaces_id == world["nomination"].pk and new.status == Nomination.Status.PENDING


def test_a_check_in_saving_its_record_makes_the_replacement_wait_and_refuse(postgres_required, world):
    # The check-in has written the attendance and waits to write its history line; the replacement comes now.
    with held(*history_table()):
        checking_in = check_in_through_the_page(world)
        wait_until(lambda: waiting_for_a_lock() == 1, "the check-in to reach its history line")
        replacing = in_thread(lambda: replace(world))
        # The replacement must wait for the participant's enrolment while the check-in holds it.
        wait_until(lambda: waiting_for_a_lock() == 2 or not replacing["thread"].is_alive(), "the replacement to start")
    checked_in, replaced = finished(checking_in), finished(replacing)

    assert "error" not in checked_in, checked_in.get("error")
    assert checked_in["result"].status_code == 200
    assert 'id="checkin-done"' in checked_in["result"].content.decode()
    assert isinstance(replaced.get("error"), ValidationError), replaced
    assert replaced["error"].messages == [HAS_ATTENDANCE]
    # Nothing lost: the participant keeps their enrolment, nomination and attendance; no successor was added.
    attendance = Attendance.objects.get()
    assert attendance.enrollment_id == world["enrollment"].pk and attendance.method == Attendance.Method.SELF
    assert AttendanceChange.objects.filter(attendance=attendance).count() == 1
    world["nomination"].refresh_from_db()
    assert world["nomination"].status == Nomination.Status.ACCEPTED
    assert not Nomination.objects.filter(replaces=world["nomination"]).exists()
    assert not Person.objects.filter(nik=successor().nik).exists()


def test_a_facilitator_tap_and_a_replacement_at_once(postgres_required, world):
    """The same race by the facilitator's tap instead of the QR code: the tap is refused with a clear message
    once the participant is gone."""
    session, staff = world["session"], world["staff"]
    now = timezone.now()
    with held(*session_row(session)):
        tapping = in_thread(
            lambda: services.attendance_record(
                actor=staff, session=session, enrollment=world["enrollment"], status="hadir", now=now
            )
        )
        wait_until(lambda: waiting_for_a_lock() == 1, "the tap to wait for the session")
        replace(world)
    outcome = finished(tapping)

    assert isinstance(outcome.get("error"), ValidationError), outcome
    assert outcome["error"].code == "not_enrolled"
    assert not Attendance.objects.exists()


def test_semua_hadir_and_a_replacement_at_once(postgres_required, world):
    """“Semua hadir” holds everyone it marks until it commits: the replacement waits, then sees the attendance."""
    session, staff = world["session"], world["staff"]
    now = timezone.now()
    with held(*history_table()):
        marking = in_thread(lambda: services.attendance_mark_all_present(actor=staff, session=session, now=now))
        wait_until(lambda: waiting_for_a_lock() == 1, "“semua hadir” to reach its history lines")
        replacing = in_thread(lambda: replace(world))
        wait_until(lambda: waiting_for_a_lock() == 2 or not replacing["thread"].is_alive(), "the replacement to start")
    marked, replaced = finished(marking), finished(replacing)

    assert marked.get("result") == 1, marked
    assert isinstance(replaced.get("error"), ValidationError), replaced
    assert replaced["error"].messages == [HAS_ATTENDANCE]
    assert Attendance.objects.get().enrollment_id == world["enrollment"].pk
    world["nomination"].refresh_from_db()
    assert world["nomination"].status == Nomination.Status.ACCEPTED
