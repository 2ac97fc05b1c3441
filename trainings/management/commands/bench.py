"""`manage.py bench`: performance figures, one `name: value` line each, comparable from commit to commit.

Everything runs in a throwaway test database (Django's test-database machinery), so real data is never read
or written; it works on SQLite and on PostgreSQL (DATABASE_URL). To add a benchmark, write a function that
takes the shared `Bench` context and yields `(name, value)` pairs, and append it to BENCHMARKS."""

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import count
from statistics import median
from time import perf_counter

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import (
    CaptureQueriesContext,
    override_settings,
)
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from accounts.models import Role, User
from certificates.models import Certificate
from config.celery import app as celery_app
from participants import registry
from participants import services as nomination_services
from participants.imports import COLUMNS as SPREADSHEET_COLUMNS
from participants.models import Enrollment, Nomination, Person, RegistryUpload, new_access_code
from pillars.models import Organiser, PillarType, Region
from trainings.management.commands._scratch_database import scratch_database
from trainings.models import Attendance, Batch, Facilitator, Module, Program, QuotaAllocation, Session

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

    scratch: str = ""  # a directory for files the benchmarks write (a served database, logs)
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


IMPORT_ROWS = 2000


def nomination_spreadsheet(rows: int, *, kabupaten_code: str = "35.12") -> bytes:
    """An operator's .xlsx of `rows` new participants of one kabupaten (Situbondo by default), all valid, over
    its kecamatan (when the reference data has them; the column stays empty otherwise) and the active
    pillars."""
    pillars = list(PillarType.objects.filter(is_active=True).values_list("abbreviation", flat=True))
    kecamatan = list(Region.objects.filter(parent__code=kabupaten_code).order_by("code").values_list("code", flat=True))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([column.header for column in SPREADSHEET_COLUMNS])
    for i in range(rows):
        area = kecamatan[i % len(kecamatan)] if kecamatan else ""
        female = i % 2 == 1
        day, month, year = i % 28 + 1, i % 12 + 1, 1960 + i % 40
        nik_area = area.replace(".", "") if area else f"{kabupaten_code.replace('.', '')}01"
        nik = f"{nik_area}{day + 40 * female:02d}{month:02d}{year % 100:02d}{i + 1:04d}"
        cells = {
            "nik": nik,
            "full_name": f"Peserta Bench {i + 1}",
            "gender": "P" if female else "L",
            "birth_place": "Situbondo",
            "birth_date": f"{day:02d}-{month:02d}-{year}",
            "address": f"Jl. Melati {i % 90 + 1}",
            "village": "Sumberanyar",
            "kecamatan": area,
            "phone": f"0812{i:08d}",
            "pillar_type": pillars[i % len(pillars)],
            "education": "SMA/SMK",
        }
        sheet.append([cells.get(column.key, "") for column in SPREADSHEET_COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bench_nomination_import(bench: Bench) -> Iterator[Figure]:
    """A 2,000-row spreadsheet through the services of the upload pages: checked row by row (the preview),
    then imported (people, nominations and their audit trail). Target: under 10 seconds together."""
    organiser, _staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    kabupaten = Region.objects.get(code="35.12")  # Situbondo: its kecamatan are in the reference data
    operator = User.objects.create(username=f"bench.operator{bench._n()}", role=Role.OPERATOR, kabupaten=kabupaten)
    start = date.today() + timedelta(days=400)
    batch = Batch.objects.create(
        program=program,
        organiser=organiser,
        name=f"Angkatan Bench {bench._n()}",
        start_date=start,
        end_date=start + timedelta(days=3),
        venue="UPT PTKS Malang",
        nomination_deadline=start - timedelta(days=7),
        quota_total=IMPORT_ROWS,
        status=Batch.Status.NOMINATION_OPEN,
    )
    QuotaAllocation.objects.create(
        batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=kabupaten, seats=IMPORT_ROWS
    )
    content = nomination_spreadsheet(IMPORT_ROWS)
    began = perf_counter()
    upload = nomination_services.nomination_upload_check(
        actor=operator, batch=batch, kabupaten=kabupaten, file=SimpleUploadedFile("peserta.xlsx", content)
    )
    checked = perf_counter()
    if upload.rows_valid != IMPORT_ROWS:
        raise CommandError(f"the benchmark spreadsheet has problems: {upload.report['problems'][:3]}")
    upload = nomination_services.nomination_upload_confirm(actor=operator, upload=upload)
    imported = perf_counter()
    if upload.rows_imported != IMPORT_ROWS:
        raise CommandError(f"imported {upload.rows_imported} of {IMPORT_ROWS} rows")
    yield f"nomination_check_{IMPORT_ROWS}_rows_seconds", round(checked - began, 2)
    yield f"nomination_confirm_{IMPORT_ROWS}_rows_seconds", round(imported - checked, 2)
    yield f"nomination_import_{IMPORT_ROWS}_rows_seconds", round(imported - began, 2)


def review_batch(bench: Bench, *, program: Program, kabupaten_code: str, size: int) -> Batch:
    """A batch with `size` nominations from one kabupaten, spread over its kecamatan and, like Probolinggo's
    264, one Kasi Kesra and one TKSK per kecamatan and PSM for the rest; every fourth accepted (with its
    enrolment), every tenth rejected, the others waiting."""
    kabupaten = Region.objects.get(code=kabupaten_code)
    kecamatan = list(Region.objects.filter(parent=kabupaten).order_by("code"))
    kasi_kesra, tksk, psm = (PillarType.objects.get(code=code) for code in ("kasi-kesra", "tksk", "psm"))
    operator = User.objects.create(username=f"bench.operator{bench._n()}", role=Role.OPERATOR, kabupaten=kabupaten)
    start = date.today() + timedelta(days=500 + bench._n())
    batch = Batch.objects.create(
        program=program,
        organiser=program.organiser,
        name=f"Angkatan Bench {bench._n()}",
        start_date=start,
        end_date=start + timedelta(days=3),
        venue="UPT PTKS Malang",
        nomination_deadline=start - timedelta(days=7),
        quota_total=size,
        status=Batch.Status.NOMINATION_OPEN,
    )
    QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=kabupaten, seats=size)
    people = []
    for i in range(size):
        area = kecamatan[i % len(kecamatan)]
        pillar = kasi_kesra if i < len(kecamatan) else tksk if i < 2 * len(kecamatan) else psm
        serial = 5000 + bench._n()  # apart from the NIKs of the import benchmark
        people.append(
            Person(
                nik=f"{area.code.replace('.', '')}170885{serial:04d}",
                full_name=f"Peserta Tinjau {serial}",
                gender="L",
                birth_place="Probolinggo",
                birth_date=date(1985, 8, 17),
                kabupaten=kabupaten,
                kecamatan=area,
                pillar_type=pillar,
                phone=f"0812{serial:08d}",
            )
        )
    people = Person.objects.bulk_create(people)
    nominations = Nomination.objects.bulk_create(
        Nomination(
            batch=batch,
            person=person,
            kabupaten=kabupaten,
            kecamatan=person.kecamatan,
            pillar_type=person.pillar_type,
            status=(
                Nomination.Status.REJECTED
                if i % 10 == 5
                else Nomination.Status.ACCEPTED
                if i % 4 == 0
                else Nomination.Status.PENDING
            ),
            reason="Bukan pilar yang diminta" if i % 10 == 5 else "",
            nominated_by=operator,
        )
        for i, person in enumerate(people)
    )
    Enrollment.objects.bulk_create(
        Enrollment(batch=batch, person=n.person, nomination=n, access_code=new_access_code())
        for n in nominations
        if n.status == Nomination.Status.ACCEPTED
    )
    return batch


def bench_nomination_review(bench: Bench) -> Iterator[Figure]:
    """The staff review page must cost the same number of queries for 40 nominations as for Probolinggo's
    264 (both lines must show the same figure)."""
    organiser, staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    client = Client()
    client.force_login(staff)
    for kabupaten_code, size in (("35.12", 40), ("35.13", 264)):
        batch = review_batch(bench, program=program, kabupaten_code=kabupaten_code, size=size)
        url = reverse("participants:review", args=[batch.pk])
        yield f"nomination_review_queries_{size}", count_queries(client, url)


MATRIX_SESSIONS = 20


def enrol(batch: Batch, people: list[Person], *, kabupaten: Region, pillar: PillarType, staff: User) -> list:
    """Accepted nominations and enrolments for `people` in `batch`, as the staff's review would leave them."""
    nominations = Nomination.objects.bulk_create(
        Nomination(
            batch=batch,
            person=person,
            kabupaten=kabupaten,
            kecamatan=person.kecamatan,
            pillar_type=pillar,
            status=Nomination.Status.ACCEPTED,
            nominated_by=staff,
        )
        for person in people
    )
    return Enrollment.objects.bulk_create(
        Enrollment(batch=batch, person=n.person, nomination=n, access_code=new_access_code()) for n in nominations
    )


def enrolled_batch(bench: Bench, *, program: Program, facilitators: list, kabupaten_code: str, size: int) -> Batch:
    """A running batch of MATRIX_SESSIONS sessions with `size` participants of one kabupaten, every one of
    them recorded at every session (mostly hadir, some terlambat, izin, sakit and alpa)."""
    batch = bench.batch(program=program, facilitators=facilitators, sessions=MATRIX_SESSIONS)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.RUNNING)
    kabupaten = Region.objects.get(code=kabupaten_code)
    kecamatan = list(Region.objects.filter(parent=kabupaten).order_by("code"))
    psm = PillarType.objects.get(code="psm")
    staff = User.objects.filter(organiser=program.organiser, role=Role.STAFF).first()
    people = Person.objects.bulk_create(
        Person(
            nik=f"{kecamatan[i % len(kecamatan)].code.replace('.', '')}010190{i + 1:04d}",  # apart from other NIKs
            full_name=f"Peserta Rekap {i + 1}",
            gender="P" if i % 2 else "L",
            birth_place="Malang",
            birth_date=date(1990, 1, 1),
            kabupaten=kabupaten,
            kecamatan=kecamatan[i % len(kecamatan)],
            pillar_type=psm,
        )
        for i in range(size)
    )
    enrollments = enrol(batch, people, kabupaten=kabupaten, pillar=psm, staff=staff)
    statuses = [Attendance.Status.PRESENT] * 16 + [
        Attendance.Status.LATE,
        Attendance.Status.EXCUSED,
        Attendance.Status.SICK,
        Attendance.Status.ABSENT,
    ]
    recorded_at = timezone.now()
    sessions = list(batch.sessions.all())
    Attendance.objects.bulk_create(
        (
            Attendance(
                session=session,
                enrollment=enrollment,
                status=statuses[(i * 7 + j) % len(statuses)],
                method=Attendance.Method.STAFF,
                recorded_by=staff,
                recorded_at=recorded_at,
            )
            for i, enrollment in enumerate(enrollments)
            for j, session in enumerate(sessions)
        ),
        batch_size=1000,
    )
    return batch


def bench_attendance_matrix(bench: Bench) -> Iterator[Figure]:
    """The staff's attendance matrix must cost the same number of queries for 40 participants × 20 sessions as
    for Probolinggo's 264 × 20 (both lines must show the same figure)."""
    organiser, staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    facilitators = bench.facilitators(organiser)
    client = Client()
    client.force_login(staff)
    for kabupaten_code, size in (("35.12", 40), ("35.13", 264)):
        batch = enrolled_batch(
            bench, program=program, facilitators=facilitators, kabupaten_code=kabupaten_code, size=size
        )
        url = reverse("trainings:attendance_matrix", args=[batch.pk])
        yield f"attendance_matrix_queries_{size}x{MATRIX_SESSIONS}", count_queries(client, url)


def bench_attendance_load(bench: Bench) -> Iterator[Figure]:
    """gunicorn on loopback: 40 participants check in by QR while the facilitator marks statuses; p50/p95 server
    time of one mark and one check-in (target: mark p95 under 50 ms)."""
    from ._attendance_load import attendance_load, facilitator_account

    organiser, staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    facilitators = bench.facilitators(organiser)
    batch = enrolled_batch(bench, program=program, facilitators=facilitators, kabupaten_code="35.25", size=40)
    yield from attendance_load(
        batch=batch, staff=staff, facilitator_user=facilitator_account(organiser), scratch=bench.scratch
    )


# ------------------------------------------------------------------------------------ registry and coverage

REGISTRY_PEOPLE = 10_000
REGISTRY_SMALL = 50
HISTORY_BATCHES = 100
HISTORY_SMALL = 2
REGISTRY_IMPORT_ROWS = 10_000
TIMED_GETS = 5


@dataclass
class Registry:
    """Jawa Timur's kabupaten/kota, their kecamatan and the active pillar types, read once, to generate people."""

    regencies: list
    districts: dict
    pillars: list

    @classmethod
    def load(cls) -> "Registry":
        return cls(
            regencies=list(Region.objects.filter(level=Region.Level.REGENCY, code__startswith="35.").order_by("code")),
            districts={r.code: r for r in Region.objects.filter(level=Region.Level.DISTRICT, code__startswith="35.")},
            pillars=list(PillarType.objects.filter(is_active=True).order_by("sort_order", "name")),
        )

    def person(self, i: int) -> dict:
        """The `i`-th generated person: round the kabupaten/kota, each through every pillar type. The NIK is
        35 + the kabupaten + kecamatan 01 + DDMMYY (day + 40 for women) + a serial from 8000, apart from the
        NIKs of the other benchmarks (serials below 8000, or a ten-digit serial after the kecamatan); unique
        while the serial keeps four digits (i < 76,000)."""
        kabupaten = self.regencies[i % len(self.regencies)]
        turn = i // len(self.regencies)
        female = (i // 3) % 2 == 1
        born = date(1970 + i % 30, i % 12 + 1, i % 28 + 1)
        serial = 8000 + turn
        return {
            "nik": f"{kabupaten.code.replace('.', '')}01{born.day + 40 * female:02d}{born:%m%y}{serial:04d}",
            "full_name": f"Pilar Induk {i + 1}",
            "gender": "P" if female else "L",
            "birth_place": "Surabaya",
            "birth_date": born,
            "address": f"Jl. Kenanga {i % 90 + 1}",
            "village": "Sumbersari",
            "kabupaten": kabupaten,
            "kecamatan": self.districts.get(f"{kabupaten.code}.01"),  # only the demo kabupaten have theirs
            "phone": f"0813{i:08d}",
            "pillar_type": self.pillars[turn % len(self.pillars)],
        }

    def people(self, indices: range) -> list[Person]:
        return Person.objects.bulk_create(
            (Person(**self.person(i), education=Person.Education.SMA) for i in indices), batch_size=1000
        )

    def spreadsheet(self, indices: range) -> bytes:
        """The registry template's people sheet filled with these (new, valid) people, a whole-province file."""
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = registry.SHEET_PARTICIPANTS
        sheet.append([column.header for column in registry.REGISTRY_COLUMNS])
        for i in indices:
            person = self.person(i)
            cells = {
                **person,
                "birth_date": f"{person['birth_date']:%d-%m-%Y}",
                "kabupaten": person["kabupaten"].code,
                "kecamatan": person["kecamatan"].code if person["kecamatan"] else "",
                "pillar_type": person["pillar_type"].abbreviation,
                "education": "SMA/SMK",
            }
            sheet.append([cells.get(column.key, "") for column in registry.REGISTRY_COLUMNS])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


def history_batches(*, program: Program, staff: User, facilitators: list, people: list[Person], numbers: range) -> None:
    """Finished two-day batches of `program` this year (batch k starts on 5 January + 3k days), each of 20–40
    enrolments drawn from `people`, two sessions with every participant recorded, and a valid certificate for
    four participants in five. Bulk writes, a few queries per table whatever the number of batches."""
    organiser = program.organiser
    first_day = date(timezone.localdate().year, 1, 5)
    batches = Batch.objects.bulk_create(
        Batch(
            program=program,
            organiser=organiser,
            name=f"Angkatan Riwayat {k + 1}",
            start_date=first_day + timedelta(days=3 * k),
            end_date=first_day + timedelta(days=3 * k + 1),
            venue="UPT PTKS Malang",
            nomination_deadline=first_day + timedelta(days=3 * k - 7),
            quota_total=40,
            status=Batch.Status.FINISHED,
        )
        for k in numbers
    )
    modules = list(program.modules.order_by("order")[:2])
    sessions = Session.objects.bulk_create(
        Session(
            batch=batch,
            date=batch.start_date + timedelta(days=day),
            start_time=SLOTS[0][0],
            end_time=SLOTS[0][1],
            kind=Session.Kind.MATERI,
            module=modules[day],
            jp=2,
        )
        for batch in batches
        for day in (0, 1)
    )
    through = Session.facilitators.through
    through.objects.bulk_create(
        through(session_id=session.pk, facilitator_id=facilitators[(i + k) % len(facilitators)].pk)
        for i, session in enumerate(sessions)
        for k in (0, 1)
    )
    drawn = []  # (batch, person), no one twice in a batch
    for batch, k in zip(batches, numbers, strict=True):
        size, start = 20 + (k * 7) % 21, (k * 211) % len(people)
        drawn += [(batch, people[(start + j) % len(people)]) for j in range(min(size, len(people)))]
    nominations = Nomination.objects.bulk_create(
        (
            Nomination(
                batch=batch,
                person=person,
                kabupaten_id=person.kabupaten_id,
                kecamatan_id=person.kecamatan_id,
                pillar_type_id=person.pillar_type_id,
                status=Nomination.Status.ACCEPTED,
                nominated_by=staff,
            )
            for batch, person in drawn
        ),
        batch_size=1000,
    )
    enrollments = Enrollment.objects.bulk_create(
        (Enrollment(batch=n.batch, person=n.person, nomination=n, access_code=new_access_code()) for n in nominations),
        batch_size=1000,
    )
    sessions_of = {}
    for session in sessions:
        sessions_of.setdefault(session.batch_id, []).append(session)
    recorded_at = timezone.now()
    Attendance.objects.bulk_create(
        (
            Attendance(
                session=session,
                enrollment=enrollment,
                status=Attendance.Status.ABSENT if (i + j) % 10 == 9 else Attendance.Status.PRESENT,
                method=Attendance.Method.STAFF,
                recorded_by=staff,
                recorded_at=recorded_at,
            )
            for i, enrollment in enumerate(enrollments)
            for j, session in enumerate(sessions_of[enrollment.batch_id])
        ),
        batch_size=1000,
    )
    year = first_day.year
    seq = Certificate.objects.filter(organiser=organiser, year=year).count()
    certificates = []
    for i, enrollment in enumerate(enrollments):
        if i % 5 == 4:
            continue
        seq += 1
        issued = timezone.make_aware(datetime.combine(enrollment.batch.end_date, time(16, 0)))
        certificates.append(
            Certificate(
                enrollment=enrollment,
                organiser=organiser,
                year=year,
                seq=seq,
                number=f"{seq:05d}/SRT/{organiser.code}/{year}",
                issued_at=issued,
                issued_by=staff,
            )
        )
    Certificate.objects.bulk_create(certificates, batch_size=1000)


def server_ms(client: Client, url: str) -> float:
    """The median time of TIMED_GETS GETs of `url` through the whole request handler, after a warm-up GET."""
    client.get(url)
    times = []
    for _ in range(TIMED_GETS):
        began = perf_counter()
        response = client.get(url)
        times.append(perf_counter() - began)
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}, expected 200")
    return round(median(times) * 1000, 1)


def bench_registry_coverage(bench: Bench) -> Iterator[Figure]:
    """Planning from the registry. The coverage page must cost the same number of queries for 50 people and 2
    batches as for a registry of 10,000 people over Jawa Timur's 38 kabupaten/kota and every active pillar
    type with 100 finished batches of history (both lines must show the same figure); then the server time
    of the coverage page and of the dashboard for the organiser's staff on the large registry."""
    organiser, staff = bench.organiser_with_staff()
    program = bench.program(organiser)
    facilitators = bench.facilitators(organiser)
    people = Registry.load()
    client = Client()
    client.force_login(staff)
    coverage = reverse("participants:coverage")

    small = people.people(range(REGISTRY_SMALL))
    history_batches(program=program, staff=staff, facilitators=facilitators, people=small, numbers=range(HISTORY_SMALL))
    yield "coverage_queries_small", count_queries(client, coverage)

    everyone = small + people.people(range(REGISTRY_SMALL, REGISTRY_PEOPLE))
    history_batches(
        program=program,
        staff=staff,
        facilitators=facilitators,
        people=everyone,
        numbers=range(HISTORY_SMALL, HISTORY_BATCHES),
    )
    yield "coverage_queries_large", count_queries(client, coverage)
    yield "coverage_page_ms", server_ms(client, coverage)
    yield "dashboard_ms", server_ms(client, reverse("trainings:dashboard"))


def bench_registry_import(bench: Bench) -> Iterator[Figure]:
    """A whole-province registry file of 10,000 new people uploaded by staff, through the jobs of the upload
    page: the upload kept (registry_upload_create, as the view calls it), its check job, the confirmation and
    the import job, run in this process (Celery eager) until the upload is done. Target: under a minute."""
    _organiser, staff = bench.organiser_with_staff()
    people = Registry.load()
    rows = range(REGISTRY_PEOPLE, REGISTRY_PEOPLE + REGISTRY_IMPORT_ROWS)  # after the coverage registry's
    content = people.spreadsheet(rows)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the jobs run in this process even when REDIS_URL is set
    try:
        began = perf_counter()
        upload = registry.registry_upload_create(
            actor=staff, file=SimpleUploadedFile("daftar-induk.xlsx", content), kabupaten=None
        )
        upload.refresh_from_db()
        if upload.status != RegistryUpload.Status.CHECKED or upload.rows_valid != REGISTRY_IMPORT_ROWS:
            problems = upload.report.get("problems", [])[:3]
            raise CommandError(f"the registry check ended {upload.status}: {upload.error} {problems}")
        upload = registry.registry_upload_confirm(actor=staff, upload=upload)
        upload.refresh_from_db()
        elapsed = perf_counter() - began
    finally:
        celery_app.conf.task_always_eager = eager
    if upload.status != RegistryUpload.Status.DONE:
        raise CommandError(f"the registry import ended {upload.status}: {upload.error}")
    niks = [people.person(i)["nik"] for i in rows]
    found = sum(Person.objects.filter(nik__in=niks[at : at + 900]).count() for at in range(0, len(niks), 900))
    if found != REGISTRY_IMPORT_ROWS or upload.created_count != REGISTRY_IMPORT_ROWS:
        raise CommandError(f"the import created {upload.created_count} people; {found} of the file's are there")
    yield f"registry_import_{REGISTRY_IMPORT_ROWS}_rows_seconds", round(elapsed, 2)


BENCHMARKS: list[Callable[[Bench], Iterator[Figure]]] = [
    bench_batch_detail,
    bench_batch_list,
    bench_nomination_import,
    bench_nomination_review,
    bench_attendance_matrix,
    bench_attendance_load,
    bench_registry_coverage,
    bench_registry_import,
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

        with scratch_database("bench") as scratch, override_settings(**self._request_settings(scratch)):
            bench = Bench(scratch=scratch)
            for function in selected:
                for name, value in function(bench):
                    self.stdout.write(f"{name}: {value}")

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
