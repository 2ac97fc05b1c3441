"""`manage.py bench_load`: the busiest real day as a load test. locust (headless, loadtest/locustfile.py) plays
38 Dinsos operators checking and confirming a 40-row spreadsheet each while the staff review, 264 participants
checking in by QR within two minutes (Probolinggo's bimtek) while a facilitator marks a session, 40 participants
downloading their certificates and 20 people opening /v/ pages, all from 127.0.0.1 as from behind one router,
against gunicorn, the database, Redis (cache, throttles, broker) and one Celery worker.

Like `manage.py bench` it runs in a throwaway test database (`bench_load_<name>` on PostgreSQL). It prints the
figures as `name: value` lines; the first five are those the project compares from commit to commit. Times are
the clients' (locust's), so they include the wait for a free gunicorn worker. Nothing is mocked and nothing
passes or fails: every response that is not 2xx or 3xx is counted as an error, a refusal by a throttle (429)
too, and the refusals are listed by page."""

import csv
import json
import os
import resource
import subprocess
import sys
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from statistics import median, quantiles
from time import perf_counter

from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from certificates.models import Certificate
from config.celery import app as celery_app
from participants.models import Nomination
from pillars.models import Region
from trainings.management.commands._attendance_load import facilitator_account, gunicorn, session_now
from trainings.management.commands._scratch_database import scratch_database
from trainings.management.commands.bench import Bench, enrolled_batch, nomination_spreadsheet
from trainings.models import Attendance, Batch, QuotaAllocation, Session

from .bench_documents import Workers, finished_batch, purge_queues, redis_url, run_job

OPERATORS = 38  # every kabupaten/kota of Jawa Timur
ROWS = 40
ATTENDEES = 264  # Probolinggo, 9–10 December 2019
GRADUATES = 40
VERIFIERS = 20
CHECKIN_WITHIN_SECONDS = 120
OPERATORS_WITHIN_SECONDS = 60
OTHERS_WITHIN_SECONDS = 90
VERIFIERS_WITHIN_SECONDS = 45  # then a second page 5–15 s later: 40 verifications in about a minute
WARM_UP_GETS = ("/akun/masuk/", "/sertifikat/unduh/")
RUN_LIMIT_SECONDS = 240  # locust stops by itself even if a simulated person hangs
PASSWORD = "Beban-Puncak-2025"  # noqa: S105 - accounts of a throwaway database
HEADLINE = ("pages", "checkin", "upload_check")
LOCUSTFILE = Path(settings.BASE_DIR) / "loadtest" / "locustfile.py"


def _log(message: str) -> None:
    print(f"bench_load: {message}", file=sys.stderr, flush=True)


def account(user: User) -> dict:
    """Log-in details for `user`. The servers run with the test suite's password hasher (SINERGI_TESTING), so the
    password is stored in that form; a login here costs less than with production's PBKDF2."""
    hasher = MD5PasswordHasher()
    User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    return {"username": user.username, "password": PASSWORD}


def warm_up(base: str, workers: int) -> None:
    """A few public pages, several at once, before the clock starts: each gunicorn worker loads Django's URLs,
    templates and translations on its first requests, which a server that has been up for a while has done."""
    paths = [path for path in WARM_UP_GETS for _ in range(3 * workers)]

    def get(path: str) -> None:
        with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310 - loopback
            response.read()

    with ThreadPoolExecutor(max_workers=2 * workers) as pool:
        list(pool.map(get, paths))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return round(values[0], 1) if values else 0.0
    return round(quantiles(values, n=100, method="inclusive")[94], 1)


# -------------------------------------------------------------------------------------------------- data


def nomination_batch(bench: Bench, *, organiser, scratch: str) -> tuple[Batch, list[dict]]:
    """A batch open for nomination with 40 seats for each of the 38 kabupaten/kota, an operator for each, and
    the operator's spreadsheet of 40 new participants, written to `scratch`."""
    program = bench.program(organiser)
    regencies = list(Region.objects.filter(level=Region.Level.REGENCY, code__startswith="35.").order_by("code"))
    if len(regencies) < OPERATORS:
        raise CommandError(f"the reference data has {len(regencies)} kabupaten/kota of Jawa Timur, not {OPERATORS}")
    start = date.today() + timedelta(days=60)
    batch = Batch.objects.create(
        program=program,
        organiser=organiser,
        name=f"Angkatan Beban {bench._n()}",
        start_date=start,
        end_date=start + timedelta(days=3),
        venue="UPT PTKS Malang",
        nomination_deadline=start - timedelta(days=7),
        quota_total=OPERATORS * ROWS,
        status=Batch.Status.NOMINATION_OPEN,
    )
    QuotaAllocation.objects.bulk_create(
        QuotaAllocation(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=region, seats=ROWS)
        for region in regencies[:OPERATORS]
    )
    upload_path = reverse("participants:import_upload", args=[batch.pk])
    operators = []
    for region in regencies[:OPERATORS]:
        user = User.objects.create(username=f"operator.{region.code}", role=Role.OPERATOR, kabupaten=region)
        file = Path(scratch) / f"peserta-{region.code}.xlsx"
        file.write_bytes(nomination_spreadsheet(ROWS, kabupaten_code=region.code))
        operators.append({"account": account(user), "upload_path": upload_path, "file": str(file)})
    return batch, operators


def checkin_batch(bench: Bench, *, organiser, staff: User) -> tuple[Session, Session, User, list[str]]:
    """Probolinggo's 264 enrolled in a batch running today, with a session open for QR check-in and another,
    also on now, that a facilitator marks; returns both sessions, the facilitator and the access codes."""
    batch = enrolled_batch(
        bench,
        program=bench.program(organiser),
        facilitators=bench.facilitators(organiser),
        kabupaten_code="35.13",
        size=ATTENDEES,
    )
    today = timezone.localdate()
    Batch.objects.filter(pk=batch.pk).update(
        start_date=today, end_date=today + timedelta(days=1), nomination_deadline=today - timedelta(days=7)
    )
    batch.refresh_from_db()
    checkin = session_now(batch)
    marked = session_now(batch)
    facilitator = facilitator_account(organiser)
    marked.facilitators.add(facilitator.facilitator)
    codes = list(batch.enrollments.values_list("access_code", flat=True))
    return checkin, marked, facilitator, codes


def certified_batch(bench: Bench, workers: Workers) -> tuple[list[dict], list[str]]:
    """A finished batch of 40 whose certificates the Celery worker numbers and renders; returns the
    participants' NIK and access code and the certificates' verification codes."""
    batch = finished_batch(bench, size=GRADUATES)
    run_job(batch, workers)
    certificates = Certificate.objects.filter(enrollment__batch=batch).select_related("enrollment__person")
    graduates = [
        {"nik": c.enrollment.person.nik, "access_code": c.enrollment.access_code} for c in certificates.order_by("pk")
    ]
    return graduates, [c.verification_code for c in certificates.order_by("?")]


# ------------------------------------------------------------------------------------------------- figures


def figures(rows: list[list], elapsed: float) -> list[tuple[str, object]]:
    times, by_name = defaultdict(list), defaultdict(list)
    errors = Counter()
    for group, name, status, ms, _end in rows:
        times[group].append(float(ms))
        by_name[name].append(float(ms))
        if not 200 <= int(status) < 400:
            errors[(name, int(status))] += 1
    lines = [("load_errors", sum(errors.values()))]
    lines += [(f"load_{group}_p95_ms", p95(times[group])) for group in HEADLINE]
    lines.append(("load_requests_per_second", round(len(rows) / elapsed, 1) if elapsed else 0))
    lines.append(("load_requests", len(rows)))
    lines.append(("load_seconds", round(elapsed, 1)))
    for group in (*HEADLINE, "writes", "login", "downloads"):
        values = times.get(group, [])
        if values:
            lines.append((f"load_{group}_p50_ms", round(median(values), 1)))
            if group not in HEADLINE:
                lines.append((f"load_{group}_p95_ms", p95(values)))
            lines.append((f"load_{group}_requests", len(values)))
    for name, values in sorted(by_name.items()):
        lines.append((f"load_p95_ms[{name}]", p95(values)))
    for (name, status), count in sorted(errors.items()):
        lines.append((f"load_status_{status}[{name}]", count))
    return lines


def server_figures(access_log: Path):
    """gunicorn's own time per request (from its access log): set beside the clients' times, the difference is
    the wait for a free worker."""
    server_ms = defaultdict(list)
    for line in access_log.read_text().splitlines():
        method, path, _status, micros = line.split()
        kind = "checkin" if "/presensi/" in path or path.endswith("/kehadiran/tandai/") else "other"
        server_ms[kind].append(int(micros) / 1000)
    for kind, values in sorted(server_ms.items()):
        yield f"load_server_{kind}_p50_ms", round(median(values), 1)
        yield f"load_server_{kind}_p95_ms", p95(values)


# ------------------------------------------------------------------------------------------------- command


class Command(BaseCommand):
    help = "Load-test the busiest day with locust against gunicorn, the database, Redis and a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument(
            "--workers", type=int, default=5, help="gunicorn worker processes (5: twice the cores plus one)."
        )

    def handle(self, *args, workers, **options):
        broker = redis_url()
        if not broker:
            for name in ("errors", "pages_p95_ms", "checkin_p95_ms", "upload_check_p95_ms", "requests_per_second"):
                self.stdout.write(f"load_{name}: skipped (no Redis)")
            return
        if broker != settings.REDIS_URL:
            celery_app.conf.broker_url = broker  # before the first message, as in bench_documents
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = False
        try:
            with scratch_database("bench_load") as scratch, override_settings(MEDIA_ROOT=f"{scratch}/media"):
                for name, value in self.run_load(scratch=scratch, broker=broker, workers=workers):
                    self.stdout.write(f"{name}: {value}")
        finally:
            celery_app.conf.task_always_eager = eager

    def run_load(self, *, scratch: str, broker: str, workers: int):
        _log("building the data")
        bench = Bench(scratch=scratch)
        organiser, reviewer = bench.organiser_with_staff()
        projector = User.objects.create(username="staf.proyektor", role=Role.STAFF, organiser=organiser)
        review_batch, operators = nomination_batch(bench, organiser=organiser, scratch=scratch)
        checkin, marked, facilitator, codes = checkin_batch(bench, organiser=organiser, staff=reviewer)
        purge_queues()
        with Workers(broker=broker, scratch=scratch, concurrency=1) as worker:
            _log("the Celery worker renders the 40 certificates")
            graduates, verification_codes = certified_batch(bench, worker)
            scenario = {
                "operators": operators,
                "operators_within_seconds": OPERATORS_WITHIN_SECONDS,
                "reviewer": {
                    "account": account(reviewer),
                    "review_path": reverse("participants:review", args=[review_batch.pk]),
                    "decide_path": reverse("participants:review_decide", args=[review_batch.pk]),
                },
                "review_seconds": CHECKIN_WITHIN_SECONDS,
                "projector": {
                    "account": account(projector),
                    "qr_path": reverse("trainings:checkin_qr", args=[checkin.pk]),
                },
                "facilitator": {
                    "account": account(facilitator),
                    "page_path": reverse("trainings:session_attendance", args=[marked.pk]),
                    "mark_path": reverse("trainings:attendance_mark", args=[marked.pk]),
                },
                "attendees": codes,
                "checkin_within_seconds": CHECKIN_WITHIN_SECONDS,
                "graduates": graduates,
                "verifiers": [verification_codes[2 * i : 2 * i + 2] for i in range(VERIFIERS)],
                "others_within_seconds": OTHERS_WITHIN_SECONDS,
                "verifiers_within_seconds": VERIFIERS_WITHIN_SECONDS,
            }
            scenario_file, results_file = Path(scratch) / "scenario.json", Path(scratch) / "requests.csv"
            scenario_file.write_text(json.dumps(scenario))
            server_env = {"REDIS_URL": broker, "AXES_ENABLED": "1", "LOG_LEVEL": "WARNING"}
            load_before = os.getloadavg()[0]
            with gunicorn(scratch=scratch, workers=workers, env=server_env) as (base, access_log):
                warm_up(base, workers)
                _log(f"locust against {base}")
                began, cpu_before = perf_counter(), _children_cpu()
                self.locust(base=base, scenario=scenario_file, results=results_file, scratch=scratch)
                elapsed, cpu_locust = perf_counter() - began, _children_cpu()
            # gunicorn's master waits for its workers, so their CPU time is counted once the server has stopped.
            cpu_gunicorn = _children_cpu() - cpu_locust
        with open(results_file, newline="") as file:
            rows = list(csv.reader(file))
        if rows:
            ends = [float(row[4]) for row in rows]
            starts = [float(row[4]) - float(row[3]) / 1000 for row in rows]
            elapsed = max(ends) - min(starts)
        yield from figures(rows, elapsed)
        yield from server_figures(access_log)
        yield "load_gunicorn_workers", workers
        # What the two cores did: the app's CPU seconds against the run's length, and the machine's load average
        # before the run (anything above 0 is someone else's work competing for the same cores).
        yield "load_cpu_seconds_gunicorn", round(cpu_gunicorn, 1)
        yield "load_cpu_seconds_locust", round(cpu_locust - cpu_before, 1)
        yield "load_machine_load_before", round(load_before, 2)
        yield "load_database", connection.vendor
        self_checkins = Attendance.objects.filter(session=checkin, method=Attendance.Method.SELF).count()
        yield "load_checkins_recorded", f"{self_checkins}/{ATTENDEES}"
        yield "load_marks_recorded", f"{Attendance.objects.filter(session=marked).count()}/{ATTENDEES}"
        nominated = Nomination.objects.filter(batch=review_batch)
        yield "load_nominations_imported", f"{nominated.count()}/{OPERATORS * ROWS}"
        yield "load_nominations_accepted", nominated.filter(status=Nomination.Status.ACCEPTED).count()

    @staticmethod
    def locust(*, base: str, scenario: Path, results: Path, scratch: str) -> None:
        people = json.loads(scenario.read_text())
        users = (
            len(people["operators"]) + len(people["attendees"]) + len(people["graduates"]) + len(people["verifiers"])
        ) + 3
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base]
        command += ["--users", str(users), "--spawn-rate", "100", "--run-time", f"{RUN_LIMIT_SECONDS}s"]
        command += ["--stop-timeout", "10", "--only-summary", "--loglevel", "WARNING"]
        with open(Path(scratch) / "locust.log", "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own locust, fixed arguments
                command,
                cwd=settings.BASE_DIR,
                env={"PATH": "/usr/bin:/bin", "LOAD_SCENARIO": str(scenario), "LOAD_RESULTS": str(results)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                process.wait(timeout=RUN_LIMIT_SECONDS + 60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
        if not results.exists():
            tail = (Path(scratch) / "locust.log").read_text(errors="replace").splitlines()[-20:]
            raise CommandError("locust recorded nothing:\n" + "\n".join(tail))
