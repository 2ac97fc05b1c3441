"""Certificate jobs through a real Celery worker (a subprocess on Redis and the test database): the worker numbers
and renders a batch, running a job again or twice at once changes nothing, a worker killed in the middle of a job
leaves it to the next one without duplicate or missing numbers, and two jobs of one organiser run at the same time
share one gap-free sequence."""

import hashlib
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from certificates import services, tasks
from certificates.models import Certificate, CertificateCounter, DocumentJob
from tests.certificates.test_services import finished_batch

from .celery_worker import broker_idle, wait_until
from .pg_locks import waiting_for_a_lock

# The worker is another process: it sees only committed data. Serialized rollback restores the reference data
# (regions, pillar types) that flushing the tables after each test removes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

JOB_TIMEOUT = 90
VISIBILITY_TIMEOUT = 20  # seconds; the restart test's workers take back a lost message after this long
# The settings refuse a visibility timeout not above the task time limit (a long task would run twice), so the
# restart test's tasks get limits below it; a chunk of 5 certificates takes a second or two.
TASK_TIME_LIMIT, TASK_SOFT_TIME_LIMIT = 18, 15


def wait_for_done(job: DocumentJob, workers, timeout: float = JOB_TIMEOUT) -> DocumentJob:
    def done():
        job.refresh_from_db()
        if job.status == DocumentJob.Status.FAILED:
            raise AssertionError(f"job {job.pk} failed: {job.error}\n" + "\n".join(w.log_tail() for w in workers))
        return job.status == DocumentJob.Status.DONE

    wait_until(done, timeout=timeout, what=f"job {job.pk} to be done", worker=workers)
    return job


def wait_for_idle(workers, timeout: float = JOB_TIMEOUT) -> None:
    """Until every queued and every running task is finished (tasks acknowledge when they end)."""
    wait_until(broker_idle, timeout=timeout, what="the queues to drain", worker=workers)


def certificates_of(*batches) -> list[Certificate]:
    return list(Certificate.objects.filter(enrollment__batch__in=batches).order_by("seq"))


def assert_numbered_and_stored(certificates: list[Certificate], count: int) -> None:
    """Numbers 1..count without gaps, one per participant, each with its own PDF in storage matching its hash."""
    assert [c.seq for c in certificates] == list(range(1, count + 1))
    assert len({c.enrollment_id for c in certificates}) == count
    assert len({c.number for c in certificates}) == count
    assert len({c.pdf.name for c in certificates}) == count
    for certificate in certificates:
        assert certificate.pdf.name, f"{certificate.number} has no PDF"
        with default_storage.open(certificate.pdf.name, "rb") as handle:
            data = handle.read()
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == certificate.sha256


def stored_pdfs() -> list[Path]:
    return sorted(Path(settings.MEDIA_ROOT).rglob("*.pdf"))


def snapshot(*batches) -> dict:
    return {c.pk: (c.seq, c.number, c.pdf.name, c.sha256) for c in certificates_of(*batches)}


def test_the_worker_numbers_and_renders_a_batch(start_worker, staff, no_rendering_here):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    batch = finished_batch(staff, participants=40)
    worker = start_worker(concurrency=2)
    job = services.document_job_certificates(actor=staff, batch=batch)  # queued on commit; this process only polls

    wait_for_done(job, [worker])

    assert (job.total, job.done, job.runs, job.error) == (40, 40, 1, "")
    assert_numbered_and_stored(certificates_of(batch), 40)
    assert len(stored_pdfs()) == 40


def test_running_a_job_twice_or_again_changes_nothing(start_worker, staff, no_rendering_here):
    batch = finished_batch(staff, participants=40)
    # One chunk for the whole batch: the two runs below hand out the same chunk, and the two worker processes
    # render it at the same time; the conditional update lets one copy of each PDF win.
    worker = start_worker(concurrency=2, env={"DOCUMENT_CHUNK_SIZE": "40"})
    job = services.document_job_certificates(actor=staff, batch=batch)
    tasks.document_job_run.delay(job.pk)  # a duplicate delivery, taken by the other worker process
    wait_for_done(job, [worker])
    wait_for_idle([worker])
    job.refresh_from_db()
    assert job.runs == 2
    before = snapshot(batch)
    assert_numbered_and_stored(certificates_of(batch), 40)
    assert len(stored_pdfs()) == 40  # the losing renders removed their copies

    # Again, once it is done: the finished job is not claimed again, the rendered PDFs are not rendered again,
    # and a second job for the batch finds everything there.
    tasks.document_job_run.delay(job.pk)
    tasks.render_certificates.delay(job.pk, list(before))
    again = services.document_job_certificates(actor=staff, batch=batch)
    wait_for_done(again, [worker])
    wait_for_idle([worker])

    job.refresh_from_db()
    assert (job.status, job.runs) == (DocumentJob.Status.DONE, 2)
    assert (again.total, again.done, again.runs) == (40, 40, 1)
    assert snapshot(batch) == before
    assert Certificate.objects.count() == 40
    assert len(stored_pdfs()) == 40


def test_a_worker_killed_mid_job_leaves_it_to_the_next_one(start_worker, staff, no_rendering_here):
    batch = finished_batch(staff, participants=40)
    # Small chunks, so the job is caught half done; a short visibility timeout, so the message the dead worker
    # held comes back quickly.
    env = {
        "DOCUMENT_CHUNK_SIZE": "5",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CELERY_TASK_TIME_LIMIT": str(TASK_TIME_LIMIT),
        "CELERY_TASK_SOFT_TIME_LIMIT": str(TASK_SOFT_TIME_LIMIT),
    }
    first = start_worker(concurrency=1, env=env)
    job = services.document_job_certificates(actor=staff, batch=batch)

    def half_done_with_a_task_in_hand():
        job.refresh_from_db()
        return 0 < job.done < job.total and not broker_idle()

    wait_until(half_done_with_a_task_in_hand, timeout=JOB_TIMEOUT, what="the job to be half done", worker=first)
    first.kill()  # SIGKILL to the whole process group: no acknowledgement, no warm shutdown
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.RUNNING and job.done < job.total
    # A worker hands back messages older than the visibility timeout when it starts, and otherwise only every
    # 100 s (kombu's unacked_restore_interval × unacked_restore_throttle): start the next one once the held
    # message is overdue, as after a machine that stayed down for a while.
    time.sleep(VISIBILITY_TIMEOUT + 1)

    second = start_worker(concurrency=1, env=env)
    wait_for_done(job, [first, second])
    wait_for_idle([second])

    assert (job.total, job.done) == (40, 40)
    assert_numbered_and_stored(certificates_of(batch), 40)
    assert Certificate.objects.count() == 40


@contextmanager
def table_locked(table: str):
    """Hold an exclusive lock on `table` from another connection until the block ends: whoever reads it waits."""
    db = connection.settings_dict
    holder = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or None
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        holder.rollback()
        holder.close()


def test_two_jobs_of_one_organiser_at_once_share_one_gap_free_sequence(start_worker, staff, no_rendering_here):
    batches = [finished_batch(staff, participants=20, serial_from=1 + 100 * i) for i in range(2)]
    # The year's counter row exists already, as after the first certificate of the year: then only its row lock
    # (not the insert of a new row) keeps two jobs from taking the same numbers.
    CertificateCounter.objects.create(organiser=staff.organiser, year=timezone.localtime().year)
    worker = start_worker(concurrency=2)
    # Both worker processes stop at their first read of the counter table, then go on together: without the row
    # lock both would take the same numbers.
    with table_locked(CertificateCounter._meta.db_table):
        jobs = [services.document_job_certificates(actor=staff, batch=batch) for batch in batches]
        wait_until(lambda: waiting_for_a_lock() == 2, timeout=30, what="both jobs to reach the counter", worker=worker)

    for job in jobs:
        wait_for_done(job, [worker])

    assert [job.runs for job in jobs] == [1, 1]
    certificates = certificates_of(*batches)
    assert_numbered_and_stored(certificates, 40)
    assert [sum(c.enrollment.batch_id == batch.pk for c in certificates) for batch in batches] == [20, 20]
    assert CertificateCounter.objects.get(organiser=staff.organiser).last == 40


def terminate_other_connections() -> int:
    """Kill every other connection to the test database, as a database restart or a network cut would: the
    worker's next query fails with "terminating connection due to administrator command"."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_database_connection_killed_mid_chunk_leaves_one_file_per_certificate(start_worker, staff, no_rendering_here):
    batch = finished_batch(staff, participants=40)
    # Chunks of 5: the connection is killed while later chunks render, each time once the job has gone on.
    worker = start_worker(concurrency=1, env={"DOCUMENT_CHUNK_SIZE": "5"})
    job = services.document_job_certificates(actor=staff, batch=batch)
    killed = 0
    for stage in (5, 15, 25):

        def gone_past(stage=stage):
            job.refresh_from_db()
            return job.done >= stage or job.status != DocumentJob.Status.RUNNING

        wait_until(gone_past, timeout=JOB_TIMEOUT, what=f"the job past {stage}", worker=worker)
        time.sleep(0.3)  # into the next chunk's rendering

        def kill_while_it_runs() -> str:
            job.refresh_from_db()
            if job.status != DocumentJob.Status.RUNNING:
                return "finished"
            return "killed" if terminate_other_connections() else ""

        outcome = wait_until(kill_while_it_runs, timeout=JOB_TIMEOUT, what="a worker connection", worker=worker)
        killed += outcome == "killed"

    wait_for_done(job, [worker])
    wait_for_idle([worker])

    assert killed >= 2, "the worker's connection was not killed while the job ran"
    assert (job.total, job.done) == (40, 40)
    certificates = certificates_of(batch)
    assert_numbered_and_stored(certificates, 40)
    # Exactly one file per certificate, each the one its row points to: nothing orphaned by the failed attempts.
    stored = sorted(str(path.relative_to(settings.MEDIA_ROOT)) for path in stored_pdfs())
    assert stored == sorted(c.pdf.name for c in certificates)
