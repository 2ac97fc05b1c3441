"""`manage.py bench_documents`: how fast certificates and attendance sheets are made, one `name: value` line per
figure (progress goes to stderr).

Like `manage.py bench` it runs in a throwaway test database: on PostgreSQL `bench_docs_<name>`, on SQLite a file
in a temporary directory, so that Celery worker processes can share it. The in-process figures use the services
the jobs use; the worker figures, when Redis answers, put a real job through real `celery worker` processes."""

import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from time import perf_counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Role, User
from certificates import rendering, selectors, services
from certificates.models import Certificate, DocumentJob
from config.celery import app as celery_app
from participants.models import Person
from pillars.models import PillarType, Region
from trainings.management.commands._scratch_database import scratch_database
from trainings.management.commands.bench import Bench, enrol, enrolled_batch
from trainings.models import Attendance, Batch

WARM_UP = 3  # certificates rendered before any clock starts (fonts, templates, WeasyPrint's caches)
WORKER_CERTIFICATES = 400
SHEET_PARTICIPANTS = 40
FALLBACK_REDIS_URL = "redis://127.0.0.1:6379/8"
JOB_TIMEOUT = 600


def _log(message: str) -> None:
    print(f"bench_documents: {message}", file=sys.stderr, flush=True)


_serials = itertools.count(1)


def finished_batch(bench: Bench, *, size: int) -> Batch:
    """A finished two-session batch of `size` participants of one kabupaten, all present at every session."""
    organiser, staff = bench.organiser_with_staff()
    batch = bench.batch(program=bench.program(organiser), facilitators=bench.facilitators(organiser), sessions=2)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)
    batch.refresh_from_db()
    kabupaten = Region.objects.get(code="35.12")  # Situbondo: its kecamatan are in the reference data
    kecamatan = list(Region.objects.filter(parent=kabupaten).order_by("code"))
    psm = PillarType.objects.get(code="psm")
    serials = [next(_serials) for _ in range(size)]
    people = Person.objects.bulk_create(
        Person(
            # Apart from the NIKs of the attendance batch (enrolled_batch): a ten-digit serial after the kecamatan.
            nik=f"{kecamatan[i % len(kecamatan)].code.replace('.', '')}{serial:010d}",
            full_name=f"Peserta Sertifikat {serial}",
            gender="P" if i % 2 else "L",
            birth_place="Malang",
            birth_date=date(1985, 3, 15),
            kabupaten=kabupaten,
            kecamatan=kecamatan[i % len(kecamatan)],
            pillar_type=psm,
        )
        for i, serial in enumerate(serials)
    )
    enrollments = enrol(batch, people, kabupaten=kabupaten, pillar=psm, staff=staff)
    recorded_at = timezone.make_aware(datetime.combine(batch.end_date, clock_time(17, 0)))
    sessions = list(batch.sessions.all())
    Attendance.objects.bulk_create(
        (
            Attendance(
                session=session,
                enrollment=enrollment,
                status=Attendance.Status.PRESENT,
                method=Attendance.Method.STAFF,
                recorded_by=staff,
                recorded_at=recorded_at,
            )
            for enrollment in enrollments
            for session in sessions
        ),
        batch_size=1000,
    )
    return batch


def staff_of(batch: Batch) -> User:
    return User.objects.get(organiser=batch.organiser, role=Role.STAFF)


def issue_all(batch: Batch) -> list[int]:
    """Number every participant's certificate, as the job's first step does; returns their ids by number."""
    services.certificates_issue(actor=staff_of(batch), batch=batch, enrollments=list(batch.enrollments.all()))
    return list(Certificate.objects.filter(enrollment__batch=batch).order_by("seq").values_list("pk", flat=True))


def print_data(batch: Batch) -> tuple[rendering.CertificateBatch, list[rendering.CertificateEntry]]:
    shared = selectors.certificate_batch(batch)
    certificates = selectors.with_print_data(Certificate.objects.filter(enrollment__batch=batch)).order_by("seq")
    return shared, [selectors.certificate_entry(c, issue_place=shared.look.issue_place) for c in certificates]


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ------------------------------------------------------------------------------------------- in-process


def bench_certificates(bench: Bench, count: int):
    warm = finished_batch(bench, size=WARM_UP)
    services.certificates_render(certificate_ids=issue_all(warm))
    shared, entries = print_data(warm)
    rendering.render_certificate_naive(shared, entries[0])

    batch = finished_batch(bench, size=count)
    ids = issue_all(batch)
    _log(f"rendering {count} certificates in chunks of {settings.DOCUMENT_CHUNK_SIZE}")
    began = perf_counter()
    stored = sum(
        services.certificates_render(certificate_ids=chunk) for chunk in _chunks(ids, settings.DOCUMENT_CHUNK_SIZE)
    )
    real = perf_counter() - began
    if stored != count:
        raise CommandError(f"stored {stored} of {count} certificates")

    _log(f"rendering the same {count} certificates one document each")
    shared, entries = print_data(batch)
    began = perf_counter()
    for entry in entries:
        rendering.render_certificate_naive(shared, entry)
    naive = perf_counter() - began

    yield "certificates_per_second", round(count / real, 2)
    yield "certificates_naive_per_second", round(count / naive, 2)
    yield "certificates_speedup", round(naive / real, 2)
    yield "certificates_peak_rss_mb", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_attendance_sheets(bench: Bench):
    """Every sheet of a 40 × 20 batch (one per session, one per day) through the job, in this process."""
    organiser, staff = bench.organiser_with_staff()
    batch = enrolled_batch(
        bench,
        program=bench.program(organiser),
        facilitators=bench.facilitators(organiser),
        kabupaten_code="35.13",
        size=SHEET_PARTICIPANTS,
    )
    _log("rendering the attendance sheets of a 40 × 20 batch")
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the job runs in this process even when REDIS_URL is set
    try:
        began = perf_counter()
        job = services.document_job_attendance_sheets(actor=staff, batch=batch)
        elapsed = perf_counter() - began
    finally:
        celery_app.conf.task_always_eager = eager
    job.refresh_from_db()
    if job.status != DocumentJob.Status.DONE:
        raise CommandError(f"the attendance sheet job ended {job.status}: {job.error}")
    yield f"attendance_sheets_{SHEET_PARTICIPANTS}x20_seconds", round(elapsed, 2)


# ---------------------------------------------------------------------------------------------- workers


def redis_url() -> str:
    """The Redis for the worker figures: REDIS_URL, or a local Redis if one answers; "" when there is none."""
    import redis

    url = settings.REDIS_URL or FALLBACK_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        return ""
    finally:
        client.close()
    return url


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = urllib.parse.quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + urllib.parse.quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """`celery worker` subprocesses on the bench database; stopped (and the queues emptied) on exit."""

    def __init__(self, *, broker: str, scratch: str, concurrency: int):
        self.broker = broker
        self.name = f"bench-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.log = Path(scratch) / f"{self.name.split('@')[0]}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SINERGI_TESTING": "1",
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": broker,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "DOCUMENT_CHUNK_SIZE": str(settings.DOCUMENT_CHUNK_SIZE),
            "LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "documents,celery"]
        command += ["--concurrency", str(concurrency), "--pool", "prefork", "-l", "warning"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", self.name]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def __enter__(self):
        deadline = time.monotonic() + 60
        try:
            while not celery_app.control.ping(destination=[self.name], timeout=0.5):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"the Celery worker did not start; see {self.log}:\n{self.log_tail()}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        purge_queues()

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


def purge_queues() -> None:
    with celery_app.connection_for_write() as conn:
        for queue in ("documents", "celery"):
            conn.default_channel.queue_purge(queue)


def run_job(batch: Batch, workers: Workers) -> float:
    """Queue the certificate job of `batch` and wait until it is done; returns the seconds it took."""
    began = perf_counter()
    job = services.document_job_certificates(actor=staff_of(batch), batch=batch)
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job.refresh_from_db()
        if job.status == DocumentJob.Status.DONE:
            return perf_counter() - began
        if job.status == DocumentJob.Status.FAILED or time.monotonic() > deadline or workers.process.poll() is not None:
            raise CommandError(f"the job ended {job.status} ({job.error}); worker log:\n{workers.log_tail()}")
        time.sleep(0.05)


def bench_workers(bench: Bench, scratch: str, broker: str):
    """A 400-certificate job through one worker process, then through two; each worker is started and has rendered
    a chunk in every process before the clock starts, which runs from queuing the job until it is done."""
    if not broker:
        yield "certificates_two_workers_speedup", "skipped (no Redis)"
        return
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    rates = {}
    try:
        purge_queues()
        for concurrency in (1, 2):
            warm = finished_batch(bench, size=concurrency * settings.DOCUMENT_CHUNK_SIZE)
            batch = finished_batch(bench, size=WORKER_CERTIFICATES)
            _log(f"starting a worker with {concurrency} process(es)")
            with Workers(broker=broker, scratch=scratch, concurrency=concurrency) as workers:
                run_job(warm, workers)  # every process renders once before the clock starts
                _log(f"{WORKER_CERTIFICATES} certificates through {concurrency} worker process(es)")
                rates[concurrency] = WORKER_CERTIFICATES / run_job(batch, workers)
    finally:
        celery_app.conf.task_always_eager = eager
    yield "certificates_one_worker_per_second", round(rates[1], 2)
    yield "certificates_two_workers_per_second", round(rates[2], 2)
    yield "certificates_two_workers_speedup", round(rates[2] / rates[1], 2)


class Command(BaseCommand):
    help = "Measure certificate and attendance sheet rendering in a throwaway test database."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=200, help="Certificates to render in process (200).")

    def handle(self, *args, count, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        broker = redis_url()
        if broker and broker != settings.REDIS_URL:
            # The workers' Redis, for this process too: set before the first message, while Celery has not yet
            # opened its connection pool on the in-memory broker.
            celery_app.conf.broker_url = broker
        with scratch_database("bench_docs") as scratch, override_settings(MEDIA_ROOT=f"{scratch}/media"):
            bench = Bench(scratch=scratch)
            for figures in (
                bench_certificates(bench, count),
                bench_attendance_sheets(bench),
                bench_workers(bench, scratch, broker),
            ):
                for name, value in figures:
                    self.stdout.write(f"{name}: {value}")
