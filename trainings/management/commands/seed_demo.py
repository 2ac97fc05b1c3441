"""Load the demo: UPT PTKS Malang, its program, facilitators, a finished Situbondo batch with its certificates, an
upcoming batch open for nomination, a two-venue draft bimtek, and one account per role. Safe to run again."""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from certificates.models import Certificate, CertificateLayout, DocumentJob
from config.celery import app as celery_app
from participants.demo import SITUBONDO_PILLARS, demo_people
from participants.models import Enrollment
from participants.services import Decision, nomination_submit, nominations_decide
from pillars.models import Organiser, PillarType, Region
from trainings import services
from trainings.models import Batch, Facilitator, Module, Program, QuotaAllocation, Session
from trainings.selectors import eligible_enrollments

DEMO_PASSWORD = "sinergi-demo"  # noqa: S105 - documented demo password, refused outside DEBUG

# Documented in README.md, the same on every fresh demo database: the verification code of the first Situbondo
# certificate, and the access code of its holder (who downloads it at /sertifikat/unduh/ with their NIK).
DEMO_VERIFICATION_CODE = "UPTKDEMA4789"
DEMO_ACCESS_CODE = "KARTU479"  # noqa: S105 - documented demo value, refused outside DEBUG

SITUBONDO_NAME = "Angkatan I Tahun 2025 · Kabupaten Situbondo"
# The certificates were signed at the closing.
SITUBONDO_ISSUED = datetime(2025, 10, 16, 18, 0)

# The sessions around the curriculum in Situbondo; the opening was on day 2 (Selasa, 14 Oktober 2025).
SITUBONDO_CEREMONIES = [
    (date(2025, 10, 13), time(7, 15), time(8, 0), Session.Kind.PRETEST, "Registrasi dan pre-test"),
    (
        date(2025, 10, 14),
        time(7, 0),
        time(8, 0),
        Session.Kind.OPENING,
        "Pembukaan oleh Kepala Dinas Sosial Provinsi Jawa Timur dan Bupati Situbondo",
    ),
    (date(2025, 10, 16), time(16, 45), time(17, 15), Session.Kind.POSTTEST, "Post-test"),
    (date(2025, 10, 16), time(17, 15), time(18, 0), Session.Kind.CLOSING, "Penutupan"),
]

GRESIK_PREFIX = "Bimtek Penguatan Pendamping PKH · Kabupaten Gresik"

# Who was not (fully) there in Situbondo: (participant index, day index, index of the session within that day
# or None for the whole day, status, note). Participant 7 was ill for a whole day and falls below the pass rule;
# the others missed at most 2 JP and still pass.
SITUBONDO_EXCEPTIONS = [
    (3, 0, 1, "terlambat", "bus dari Situbondo terlambat"),
    (11, 1, 1, "izin", "menghadiri rapat desa"),
    (7, 1, None, "sakit", "demam"),
    (20, 3, 0, "terlambat", ""),
    (25, 2, 1, "izin", "keluarga berduka"),
    (31, 0, 2, "sakit", "periksa ke puskesmas"),
]

CURRICULUM = [
    ("Building Learning Commitment (BLC)", 3),
    ("Kebijakan Kesejahteraan Sosial dan 12 Pemerlu Atensi Sosial (PAS)", 4),
    ("Peran, Tugas Pokok dan Fungsi Pilar-pilar Sosial", 4),
    ("Pendataan PMKS dan Pemanfaatan Data Terpadu", 4),
    ("Analisis Masalah dan Penyusunan Program Kerja", 5),
    ("Pendekatan Berbasis Kebutuhan Masyarakat", 4),
    ("Strategi Intervensi Sosial", 4),
    ("Jejaring Kerja dan Sinergi Antarpilar", 4),
    ("Simulasi Penanganan Kasus", 6),
    ("Evaluasi dan Rencana Tindak Lanjut", 2),
]

FACILITATORS = [
    # name, NIP, institution, kind
    ("Bambang Sutrisno", "197203152000031002", "UPT PTKS Malang", Facilitator.Kind.WIDYAISWARA),
    ("Dwi Retno Wulandari", "198109262005022001", "UPT PTKS Malang", Facilitator.Kind.WIDYAISWARA),
    ("Agus Setiawan", "197908112006041003", "UPT PTKS Malang", Facilitator.Kind.WIDYAISWARA),
    ("Rina Kusumawati", "", "Politeknik Kesejahteraan Sosial Bandung", Facilitator.Kind.NARASUMBER),
    ("Yusuf Hidayat", "", "Dinas Sosial Provinsi Jawa Timur", Facilitator.Kind.FASILITATOR),
]


class Command(BaseCommand):
    help = "Load realistic demo data and the demo accounts (password: sinergi-demo). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with a public password; run it with DEBUG=1 or --force.")
        # On the folder broker of `make run` the worker starts only after this command: render the demo certificates
        # here, so that the documented demo certificate exists as soon as the site is up.
        in_process = celery_app.conf.task_always_eager or celery_app.conf.broker_url.startswith("filesystem://")
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = in_process
        try:
            job = self._load()
            # The job is queued on commit: in-process it has run by now, unless an outer transaction (a test)
            # holds the commit back; then it runs here.
            if job is not None:
                self._finish_certificates(job, in_process=in_process)
        finally:
            celery_app.conf.task_always_eager = eager
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Accounts: staf, operator.situbondo, operator.gresik, "
                f"widyaiswara (password {DEMO_PASSWORD})."
            )
        )
        self._print_demo_codes()

    def _load(self) -> DocumentJob | None:
        with transaction.atomic():
            organiser = self._organiser()
            program = self._program(organiser)
            facilitators = self._facilitators(organiser)
            staff, situbondo = self._accounts(organiser, facilitators[0])
            self._situbondo(organiser, program, facilitators, staff=staff, operator=situbondo)
            self._upcoming(organiser, program, facilitators, operator=situbondo)
            self._probolinggo(organiser, program, facilitators)
            self._running_today(organiser, program, facilitators, staff=staff)
            return self._situbondo_certificates(organiser, staff)

    def _situbondo_certificates(self, organiser, staff) -> DocumentJob | None:
        """Issue the Situbondo certificates once, with the documented demo codes, and queue the job that renders
        them; if a former job failed before every PDF was there, run it again. Otherwise nothing to do."""
        from certificates import services as certificate_services  # WeasyPrint: imported only when needed

        batch = Batch.objects.filter(organiser=organiser, name=SITUBONDO_NAME, status=Batch.Status.FINISHED).first()
        if batch is None:
            return None
        valid = Certificate.objects.filter(enrollment__batch=batch, revoked_at__isnull=True)
        if not valid.exists():
            issued = certificate_services.certificates_issue(
                actor=staff,
                batch=batch,
                enrollments=eligible_enrollments(batch=batch),
                now=timezone.make_aware(SITUBONDO_ISSUED),
            )
            first = min(issued, key=lambda certificate: certificate.seq)
            if not Certificate.objects.filter(verification_code=DEMO_VERIFICATION_CODE).exists():
                Certificate.objects.filter(pk=first.pk).update(verification_code=DEMO_VERIFICATION_CODE)
            if not Enrollment.objects.filter(access_code=DEMO_ACCESS_CODE).exists():
                Enrollment.objects.filter(pk=first.enrollment_id).update(access_code=DEMO_ACCESS_CODE)
            return certificate_services.document_job_certificates(actor=staff, batch=batch)
        jobs = batch.document_jobs.filter(kind=DocumentJob.Kind.CERTIFICATES)
        busy = jobs.filter(status__in=[DocumentJob.Status.QUEUED, DocumentJob.Status.RUNNING]).exists()
        failed = jobs.filter(status=DocumentJob.Status.FAILED).first()
        if valid.filter(pdf="").exists() and failed is not None and not busy:
            return certificate_services.document_job_retry(actor=staff, job=failed)
        return None

    def _finish_certificates(self, job: DocumentJob, *, in_process: bool) -> None:
        from certificates import tasks as certificate_tasks

        if not in_process:
            self.stdout.write(
                f"Certificates of the Situbondo batch queued (job {job.pk}): a Celery worker (make worker) "
                "renders them; their PDFs appear once it has run."
            )
            return
        job.refresh_from_db()
        if job.status in (DocumentJob.Status.QUEUED, DocumentJob.Status.RUNNING):
            certificate_tasks.document_job_run.apply(args=[job.pk])
            job.refresh_from_db()
        missing = Certificate.objects.filter(enrollment__batch=job.batch, revoked_at__isnull=True, pdf="").count()
        if job.status != DocumentJob.Status.DONE or missing:
            raise CommandError(
                f"The Situbondo certificates job {job.pk} did not finish ({job.get_status_display()}, "
                f"{missing} PDFs missing): {job.error or 'no error recorded'}. Run seed_demo again to retry."
            )
        self.stdout.write(f"Certificates of the Situbondo batch rendered: {job.done} PDFs.")

    def _print_demo_codes(self) -> None:
        """Only the documented demo values, never another participant's codes."""
        certificate = Certificate.objects.filter(verification_code=DEMO_VERIFICATION_CODE).first()
        if certificate is not None:
            self.stdout.write(f"Demo certificate: {settings.SITE_URL}/v/{DEMO_VERIFICATION_CODE}")
        holder = Enrollment.objects.select_related("person").filter(access_code=DEMO_ACCESS_CODE).first()
        if holder is not None:
            self.stdout.write(
                f"Demo participant download: {settings.SITE_URL}/sertifikat/unduh/ with NIK {holder.person.nik} "
                f"and access code {DEMO_ACCESS_CODE} ({holder.person.full_name})"
            )

    def _organiser(self) -> Organiser:
        organiser, _ = Organiser.objects.update_or_create(
            code="UPT-PTKS",
            defaults={
                "name": "UPT Pelatihan dan Pengembangan Tenaga Kesejahteraan Sosial Malang",
                "city": "Malang",
                "address": "Jl. Raya Sengkaling, Kecamatan Dau, Kabupaten Malang, Jawa Timur",
                "region": Region.objects.get(code="35.07"),
                "head_name": "Sri Wahyuningsih",
                "head_title": "Kepala UPT PTKS Malang",
                "head_nip": "197105121998032004",
            },
        )
        # The defaults and the provincial header, for staff to adjust.
        CertificateLayout.objects.get_or_create(
            organiser=organiser, defaults={"header": "PEMERINTAH PROVINSI JAWA TIMUR\nDINAS SOSIAL"}
        )
        return organiser

    def _program(self, organiser) -> Program:
        program, created = Program.objects.get_or_create(
            organiser=organiser,
            title="Pelatihan Sinergitas Pilar-pilar dalam Penanganan 12 Pemerlu Atensi Sosial (PAS)",
            defaults={
                "description": "Peningkatan kapasitas SDM kesejahteraan sosial: PSM, TKSK, LKS, Karang Taruna, "
                "Pendamping PKH, Tagana, Pendamping Disabilitas dan Pekerja Sosial.",
            },
        )
        if created:
            Module.objects.bulk_create(
                Module(program=program, order=i, title=title, jp=jp) for i, (title, jp) in enumerate(CURRICULUM, 1)
            )
        return program

    def _facilitators(self, organiser) -> list[Facilitator]:
        return [
            Facilitator.objects.get_or_create(
                organiser=organiser,
                name=name,
                defaults={"nip": nip, "institution": institution, "kind": kind},
            )[0]
            for name, nip, institution, kind in FACILITATORS
        ]

    def _user(self, username, *, first_name, last_name="", **fields) -> User:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "is_active": True, **fields},
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _accounts(self, organiser, teaching: Facilitator) -> tuple[User, User]:
        """The demo accounts; returns the staff member and the Situbondo operator."""
        staff = self._user(
            "staf",
            first_name="Staf",
            last_name="UPT PTKS",
            role=Role.STAFF,
            organiser=organiser,
            is_staff=True,
        )
        situbondo = self._user(
            "operator.situbondo",
            first_name="Operator",
            last_name="Dinsos Situbondo",
            role=Role.OPERATOR,
            organiser=organiser,
            kabupaten=Region.objects.get(code="35.12"),
        )
        self._user(
            "operator.gresik",
            first_name="Operator",
            last_name="Dinsos Gresik",
            role=Role.OPERATOR,
            organiser=organiser,
            kabupaten=Region.objects.get(code="35.25"),
        )
        widyaiswara = self._user("widyaiswara", first_name=teaching.name, role=Role.FACILITATOR, organiser=organiser)
        if teaching.user_id != widyaiswara.pk:
            Facilitator.objects.filter(user=widyaiswara).update(user=None)
            teaching.user = widyaiswara
            teaching.save(update_fields=["user"])
        return staff, situbondo

    @staticmethod
    def _assign(session, facilitators) -> None:
        """Give a drafted materi session its facilitators, through the clash-checking service."""
        services.session_save(
            batch=session.batch,
            session=session,
            day=session.date,
            start_time=session.start_time,
            end_time=session.end_time,
            kind=session.kind,
            module=session.module,
            jp=session.jp,
            facilitators=facilitators,
        )

    def _timetable(self, batch, facilitators) -> None:
        """Draft the timetable from the curriculum and give each materi a facilitator in turn."""
        services.schedule_from_curriculum(batch=batch)
        sessions = list(batch.sessions.select_related("module").order_by("date", "start_time"))
        for session in sessions:
            self._assign(session, [facilitators[session.module.order % len(facilitators)]])

    def _situbondo(self, organiser, program, facilitators, *, staff, operator) -> None:
        name = SITUBONDO_NAME
        if Batch.objects.filter(organiser=organiser, name=name).exists():
            return
        batch = services.batch_create(
            organiser=organiser,
            program=program,
            name=name,
            start_date=date(2025, 10, 13),
            end_date=date(2025, 10, 16),
            venue="UPT PTKS Malang",
            nomination_deadline=date(2025, 10, 3),
            quota_total=40,
        )
        services.allocation_save(
            batch=batch,
            kind=QuotaAllocation.Kind.KABUPATEN,
            seats=40,
            region=Region.objects.get(code="35.12"),
        )
        self._timetable(batch, facilitators)
        for day, start, end, kind, title in SITUBONDO_CEREMONIES:
            services.session_save(batch=batch, day=day, start_time=start, end_time=end, kind=kind, title=title)
        services.batch_open_nominations(batch=batch, today=date(2025, 9, 22))
        nominated = [
            nomination_submit(
                actor=operator, batch=batch, kabupaten=operator.kabupaten, data=person, today=date(2025, 9, 29)
            )[0].pk
            for person in demo_people(kabupaten_code="35.12", pillars=SITUBONDO_PILLARS, seed=2025)
        ]
        nominations_decide(actor=staff, batch=batch, nomination_ids=nominated, decision=Decision.ACCEPT)
        services.batch_close_nominations(batch=batch)
        services.batch_start(batch=batch, today=date(2025, 10, 13))
        self._attendance(batch, staff, exceptions=SITUBONDO_EXCEPTIONS, until=None)
        services.batch_finish(batch=batch, today=date(2025, 10, 16))

    def _attendance(self, batch, staff, *, exceptions, until) -> None:
        """Everyone present at every session (held before `until`, if given), then the exceptions."""
        sessions = list(batch.sessions.order_by("date", "start_time"))
        enrollments = list(batch.enrollments.order_by("person__full_name", "pk"))
        for session in sessions:
            held_at = timezone.make_aware(datetime.combine(session.date, session.end_time))
            if until is not None and held_at > until:
                continue
            services.attendance_mark_all_present(actor=staff, session=session, now=held_at)
            day = batch.days.index(session.date)
            of_day = [s.pk for s in sessions if s.date == session.date and s.jp]
            position = of_day.index(session.pk) if session.pk in of_day else -1
            for index, on_day, nth, status, note in exceptions:
                if on_day == day and nth in (None, position):
                    services.attendance_record(
                        actor=staff,
                        session=session,
                        enrollment=enrollments[index],
                        status=status,
                        note=note,
                        now=held_at,
                    )

    def _upcoming(self, organiser, program, facilitators, *, operator) -> None:
        name = "Angkatan Sinergitas Pilar Sosial · Situbondo, Gresik, Probolinggo"
        if Batch.objects.filter(organiser=organiser, name=name).exists():
            return
        today = timezone.localdate()
        start = today + timedelta(days=28 + (7 - today.weekday()) % 7)  # a Monday four to five weeks ahead
        batch = services.batch_create(
            organiser=organiser,
            program=program,
            name=name,
            start_date=start,
            end_date=start + timedelta(days=3),
            venue="UPT PTKS Malang",
            nomination_deadline=start - timedelta(days=10),
            quota_total=40,
        )
        for code, seats in (("35.12", 15), ("35.25", 15), ("35.13", 10)):
            services.allocation_save(
                batch=batch,
                kind=QuotaAllocation.Kind.KABUPATEN,
                seats=seats,
                region=Region.objects.get(code=code),
            )
        for code, seats in (("psm", 16), ("tksk", 8), ("karang-taruna", 8)):
            services.allocation_save(
                batch=batch,
                kind=QuotaAllocation.Kind.PILLAR,
                seats=seats,
                pillar_type=PillarType.objects.get(code=code),
            )
        self._timetable(batch, facilitators[1:] + facilitators[:1])
        services.batch_open_nominations(batch=batch)
        pending = demo_people(
            kabupaten_code="35.12", pillars=[("psm", 3), ("tksk", 2), ("karang-taruna", 1)], seed=2026, first_serial=101
        )
        for person in pending:
            nomination_submit(actor=operator, batch=batch, kabupaten=operator.kabupaten, data=person)

    def _probolinggo(self, organiser, program, facilitators) -> None:
        """A two-day bimtek at two venues with quotas per pillar and kecamatan (Probolinggo, December 2019)."""
        name = "Bimtek PSKS Kabupaten Probolinggo"
        if Batch.objects.filter(organiser=organiser, name=name).exists():
            return
        year = timezone.localdate().year + 1
        batch = services.batch_create(
            organiser=organiser,
            program=program,
            name=name,
            start_date=date(year, 12, 8),
            end_date=date(year, 12, 9),
            venue="Lila Catering, Kecamatan Dringu",
            quota_total=264,
        )
        services.batch_set_day_venue(
            batch=batch, day=date(year, 12, 9), venue="Gedung Joyolelono, Kabupaten Probolinggo"
        )
        services.allocation_save(
            batch=batch,
            kind=QuotaAllocation.Kind.KABUPATEN,
            seats=264,
            region=Region.objects.get(code="35.13"),
        )
        for code, seats in (("kasi-kesra", 24), ("tksk", 24), ("psm", 216)):
            services.allocation_save(
                batch=batch,
                kind=QuotaAllocation.Kind.PILLAR,
                seats=seats,
                pillar_type=PillarType.objects.get(code=code),
            )
        for kecamatan in Region.objects.filter(parent__code="35.13").order_by("code"):
            services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, seats=11, region=kecamatan)
        sessions = [
            (0, time(8, 0), time(9, 30), "Building Learning Commitment (BLC)", 2),
            (0, time(9, 45), time(12, 0), "Peran, Tugas Pokok dan Fungsi Pilar-pilar Sosial", 3),
            (1, time(8, 0), time(10, 15), "Pendataan PMKS dan Pemanfaatan Data Terpadu", 3),
            (1, time(10, 30), time(12, 0), "Jejaring Kerja dan Sinergi Antarpilar", 2),
        ]
        modules = {m.title: m for m in program.modules.all()}
        for offset, start, end, title, jp in sessions:
            services.session_save(
                batch=batch,
                day=batch.start_date + timedelta(days=offset),
                start_time=start,
                end_time=end,
                module=modules[title],
                jp=jp,
                facilitators=[facilitators[1]],
            )

    def _running_today(self, organiser, program, facilitators, *, staff) -> None:
        """A batch for Kabupaten Gresik that runs today, whenever the demo is started, so that the widyaiswara
        account has sessions to record on the phone and the staff see a batch in progress."""
        today = timezone.localdate()
        gresik_batches = Batch.objects.filter(organiser=organiser, name__startswith=GRESIK_PREFIX)
        for ended in gresik_batches.filter(status=Batch.Status.RUNNING, end_date__lt=today):
            services.batch_finish(batch=ended, today=today)
        current = gresik_batches.filter(start_date__lte=today, end_date__gte=today).first()
        if current is not None:
            self._teach_today(current, facilitators[0], today)
            return
        start = today - timedelta(days=1)
        batch = services.batch_create(
            organiser=organiser,
            program=program,
            name=f"{GRESIK_PREFIX} · {start:%d-%m-%Y}",
            start_date=start,
            end_date=start + timedelta(days=3),
            venue="UPT PTKS Malang",
            nomination_deadline=start - timedelta(days=7),
            quota_total=12,
        )
        gresik = Region.objects.get(code="35.25")
        services.allocation_save(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, seats=12, region=gresik)
        # The widyaiswara account (the first facilitator) teaches the materi of today.
        services.schedule_from_curriculum(batch=batch)
        for session in batch.sessions.select_related("module").order_by("date", "start_time"):
            teacher = facilitators[0] if session.date == today else facilitators[1 + session.module.order % 4]
            self._assign(session, [teacher])
        services.batch_open_nominations(batch=batch, today=start - timedelta(days=14))
        operator = User.objects.get(username="operator.gresik")
        people = demo_people(
            kabupaten_code="35.25",
            pillars=[("pendamping-pkh", 8), ("psm", 2), ("tksk", 2)],
            seed=start.toordinal(),
            first_serial=201,
        )
        nominated = [
            nomination_submit(
                actor=operator, batch=batch, kabupaten=gresik, data=person, today=start - timedelta(days=10)
            )[0].pk
            for person in people
        ]
        nominations_decide(actor=staff, batch=batch, nomination_ids=nominated, decision=Decision.ACCEPT)
        services.batch_close_nominations(batch=batch)
        services.batch_start(batch=batch, today=start)
        # Yesterday is on record: one participant missed the afternoon.
        self._attendance(
            batch, staff, exceptions=[(4, 0, 2, "alpa", ""), (9, 0, 0, "terlambat", "")], until=timezone.now()
        )

    def _teach_today(self, batch, widyaiswara, today) -> None:
        """On a later day of the running batch, today's materi go to the widyaiswara account too."""
        for session in batch.sessions.filter(date=today, kind=Session.Kind.MATERI).select_related("module"):
            if widyaiswara in session.facilitators.all():
                continue
            self._assign(session, [widyaiswara])
