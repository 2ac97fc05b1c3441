"""`manage.py bench`: performance figures, one `name: value` line each, comparable from commit to commit.

Everything runs in a throwaway test database (Django's test-database machinery), so real data is never read
or written; it works on SQLite and on PostgreSQL (DATABASE_URL). To add a benchmark, write a function that
takes the shared `Bench` context and yields `(name, value)` pairs, and append it to BENCHMARKS."""

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from itertools import count

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import (
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
    teardown_test_environment,
)
from django.urls import reverse

from accounts.models import Role, User
from pillars.models import Organiser, Region
from trainings.models import Batch, Facilitator, Module, Program, QuotaAllocation, Session

Figure = tuple[str, int | float | str]

# Five non-overlapping slots a day, as on a real timetable (2 JP each).
SLOTS = [
    (time(8, 0), time(9, 30)),
    (time(9, 45), time(11, 15)),
    (time(11, 30), time(13, 0)),
    (time(13, 45), time(15, 15)),
    (time(15, 30), time(17, 0)),
]
BATCH_DAYS = 10
MODULES = 10
FACILITATORS = 6


@dataclass
class Bench:
    """Builds the benchmark data with plain ORM writes (fast, and within every model constraint)."""

    _numbers: Iterator[int] = field(default_factory=lambda: count(1))
    # Each batch gets its own dates, so no facilitator ever teaches two sessions at once.
    _next_start: date = field(default_factory=lambda: date.today() + timedelta(days=30))

    def _n(self) -> int:
        return next(self._numbers)

    def organiser_with_staff(self) -> tuple[Organiser, User]:
        n = self._n()
        organiser = Organiser.objects.create(name=f"UPT Pelatihan Bench {n}", code=f"BENCH-{n}", city="Malang")
        user = User.objects.create(username=f"bench.staf{n}", role=Role.STAFF, organiser=organiser)
        return organiser, user

    def program(self, organiser: Organiser) -> Program:
        program = Program.objects.create(organiser=organiser, title=f"Pelatihan Sinergitas Pilar {self._n()}")
        Module.objects.bulk_create(
            Module(program=program, order=i, title=f"Materi {i}", jp=2) for i in range(1, MODULES + 1)
        )
        return program

    def facilitators(self, organiser: Organiser) -> list[Facilitator]:
        return Facilitator.objects.bulk_create(
            Facilitator(organiser=organiser, name=f"Widyaiswara {self._n()}", institution="UPT PTKS Malang")
            for _ in range(FACILITATORS)
        )

    def batch(self, *, program: Program, facilitators: list[Facilitator], sessions: int) -> Batch:
        """A 10-day batch with `sessions` sessions, five a day, each with a materi and two facilitators."""
        if sessions > BATCH_DAYS * len(SLOTS):
            raise CommandError(f"a benchmark batch holds at most {BATCH_DAYS * len(SLOTS)} sessions")
        start = self._next_start
        self._next_start = start + timedelta(days=BATCH_DAYS + 1)
        batch = Batch.objects.create(
            program=program,
            organiser=program.organiser,
            name=f"Angkatan Bench {self._n()}",
            start_date=start,
            end_date=start + timedelta(days=BATCH_DAYS - 1),
            venue="UPT PTKS Malang",
            nomination_deadline=start - timedelta(days=7),
            quota_total=40,
            status=Batch.Status.NOMINATION_OPEN,
        )
        kabupaten = Region.objects.filter(level=Region.Level.REGENCY).order_by("code").first()
        if kabupaten is not None:
            QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=kabupaten, seats=40)
        modules = list(program.modules.all())
        rows = Session.objects.bulk_create(
            Session(
                batch=batch,
                date=start + timedelta(days=i // len(SLOTS)),
                start_time=SLOTS[i % len(SLOTS)][0],
                end_time=SLOTS[i % len(SLOTS)][1],
                kind=Session.Kind.MATERI,
                module=modules[i % len(modules)],
                jp=2,
            )
            for i in range(sessions)
        )
        through = Session.facilitators.through
        through.objects.bulk_create(
            through(session_id=session.pk, facilitator_id=facilitators[(i + k) % len(facilitators)].pk)
            for i, session in enumerate(rows)
            for k in (0, 1)
        )
        return batch


def count_queries(client: Client, url: str) -> int:
    """Queries of one GET, after an unmeasured warm-up request fills the per-process caches."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        raise CommandError(f"GET {url} answered {response.status_code}, expected 200")
    return len(queries)


def bench_batch_detail(bench: Bench) -> Iterator[Figure]:
    """The batch page must cost the same number of queries whatever the size of the timetable."""
    organiser, staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    facilitators = bench.facilitators(organiser)
    client = Client()
    client.force_login(staff)
    for sessions in (5, 50):
        batch = bench.batch(program=program, facilitators=facilitators, sessions=sessions)
        url = reverse("trainings:batch_detail", args=[batch.pk])
        yield f"batch_detail_queries_{sessions}_sessions", count_queries(client, url)


def bench_batch_list(bench: Bench) -> Iterator[Figure]:
    """The list of batches must cost the same number of queries whatever the number of batches."""
    for batches in (5, 50):
        organiser, staff = bench.organiser_with_staff()
        program = bench.program(organiser)
        facilitators = bench.facilitators(organiser)
        for _ in range(batches):
            bench.batch(program=program, facilitators=facilitators, sessions=2)
        client = Client()
        client.force_login(staff)
        yield f"batch_list_queries_{batches}_batches", count_queries(client, reverse("trainings:batch_list"))


BENCHMARKS: list[Callable[[Bench], Iterator[Figure]]] = [
    bench_batch_detail,
    bench_batch_list,
]


class Command(BaseCommand):
    help = "Run the benchmarks in a throwaway test database and print one `name: value` line per figure."

    def add_arguments(self, parser):
        parser.add_argument(
            "only",
            nargs="*",
            metavar="BENCHMARK",
            help="Run only these benchmarks (e.g. batch_detail); all of them by default.",
        )

    def handle(self, *args, only, **options):
        available = {function.__name__.removeprefix("bench_"): function for function in BENCHMARKS}
        unknown = sorted(set(only) - set(available))
        if unknown:
            raise CommandError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(available)}")
        selected = [function for name, function in available.items() if not only or name in only]

        if connection.vendor != "sqlite":
            # Never reuse test_<name>: a test run may be using it at the same moment.
            connection.settings_dict["TEST"]["NAME"] = f"bench_{connection.settings_dict['NAME']}"
        with tempfile.TemporaryDirectory(prefix="sinergi-bench-") as scratch:
            setup_test_environment()
            old_name = connection.settings_dict["NAME"]
            try:
                connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
                with override_settings(**self._request_settings(scratch)):
                    bench = Bench()
                    for function in selected:
                        for name, value in function(bench):
                            self.stdout.write(f"{name}: {value}")
            finally:
                # Only a database that create_test_db switched to is dropped, never the configured one.
                if connection.settings_dict["NAME"] != old_name:
                    connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
                teardown_test_environment()

    @staticmethod
    def _request_settings(scratch: str) -> dict:
        """Serve the pages as under the test suite, whatever DEBUG is: plain HTTP, static files from the app
        directories, and private media in a scratch directory."""
        storages = {**settings.STORAGES}
        storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        return {
            "SECURE_SSL_REDIRECT": False,
            "STORAGES": storages,
            "STATIC_ROOT": f"{scratch}/static",
            "MEDIA_ROOT": f"{scratch}/media",
        }
