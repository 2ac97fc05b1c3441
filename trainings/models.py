"""Programs (curricula in JP), facilitators, batches with their quotas, and the session timetable."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pillars.models import nip_validator

JP_MINUTES = 45  # one jam pelajaran


class Program(models.Model):
    """A curriculum: materi with their JP and the pass rule every batch of it uses."""

    organiser = models.ForeignKey(
        "pillars.Organiser", models.PROTECT, related_name="programs", verbose_name=_("organiser")
    )
    title = models.CharField(_("title"), max_length=250)
    description = models.TextField(_("description"), blank=True)
    pass_percent = models.DecimalField(
        _("pass rule (% of scheduled JP attended)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("90"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("100"))],
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_percent__gt=0, pass_percent__lte=100), name="program_pass_percent_range"
            )
        ]

    def __str__(self):
        return self.title

    @property
    def total_jp(self) -> int:
        return sum(module.jp for module in self.modules.all())


class Module(models.Model):
    """One materi of a program's curriculum."""

    program = models.ForeignKey(Program, models.CASCADE, related_name="modules", verbose_name=_("program"))
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    title = models.CharField(_("materi"), max_length=250)
    jp = models.PositiveSmallIntegerField(_("JP"), validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["program", "order", "id"]
        verbose_name = _("materi")
        verbose_name_plural = _("materi")
        constraints = [models.CheckConstraint(condition=Q(jp__gte=1), name="module_jp_positive")]

    def __str__(self):
        return self.title


class Facilitator(models.Model):
    """A widyaiswara, narasumber or fasilitator who teaches sessions."""

    class Kind(models.TextChoices):
        WIDYAISWARA = "widyaiswara", _("Widyaiswara")
        NARASUMBER = "narasumber", _("Resource person (narasumber)")
        FASILITATOR = "fasilitator", _("Facilitator")

    organiser = models.ForeignKey(
        "pillars.Organiser", models.PROTECT, related_name="facilitators", verbose_name=_("organiser")
    )
    name = models.CharField(_("name"), max_length=150)
    nip = models.CharField(_("NIP"), max_length=18, blank=True, validators=[nip_validator])
    institution = models.CharField(_("institution"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.WIDYAISWARA)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="facilitator",
        verbose_name=_("user account"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("facilitator")
        verbose_name_plural = _("facilitators")

    def __str__(self):
        return self.name


class Batch(models.Model):
    """One run (angkatan) of a program: dates, venues, quota and timetable."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        NOMINATION_OPEN = "open", _("Open for nomination")
        NOMINATION_CLOSED = "closed", _("Nomination closed")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")

    program = models.ForeignKey(Program, models.PROTECT, related_name="batches", verbose_name=_("program"))
    organiser = models.ForeignKey(
        "pillars.Organiser", models.PROTECT, related_name="batches", verbose_name=_("organiser")
    )
    name = models.CharField(_("name"), max_length=200, help_text=_("e.g. Angkatan I Kabupaten Situbondo"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    venue = models.CharField(_("venue"), max_length=200, help_text=_("The default venue for every day."))
    nomination_deadline = models.DateField(_("nomination deadline"), null=True, blank=True)
    quota_total = models.PositiveIntegerField(_("total quota"), default=0)
    requires_assignment_letter = models.BooleanField(
        _("assignment letter required"),
        default=False,
        help_text=_("Nominations of a regency/city are accepted only once its Dinsos has uploaded the letter."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Once finished, a batch's dates, quotas and timetable are a record and no longer change.
    EDITABLE_STATUSES = frozenset({Status.DRAFT, Status.NOMINATION_OPEN, Status.NOMINATION_CLOSED, Status.RUNNING})

    class Meta:
        ordering = ["-start_date", "name"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="batch_end_after_start"),
            models.CheckConstraint(
                condition=Q(nomination_deadline__isnull=True) | Q(nomination_deadline__lte=F("end_date")),
                name="batch_deadline_before_end",
            ),
        ]
        indexes = [models.Index(fields=["organiser", "start_date"])]

    def __str__(self):
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def days(self) -> list:
        from datetime import timedelta

        return [self.start_date + timedelta(days=i) for i in range((self.end_date - self.start_date).days + 1)]


class BatchVenue(models.Model):
    """A venue for one day of a batch, overriding the batch's default venue."""

    batch = models.ForeignKey(Batch, models.CASCADE, related_name="day_venues", verbose_name=_("batch"))
    date = models.DateField(_("date"))
    venue = models.CharField(_("venue"), max_length=200)

    class Meta:
        ordering = ["date"]
        verbose_name = _("venue of the day")
        verbose_name_plural = _("venues per day")
        constraints = [models.UniqueConstraint(fields=["batch", "date"], name="batch_venue_one_per_day")]

    def __str__(self):
        return f"{self.date}: {self.venue}"


class QuotaAllocation(models.Model):
    """Seats of a batch reserved for one kabupaten/kota, one pillar type or one kecamatan."""

    class Kind(models.TextChoices):
        KABUPATEN = "kabupaten", _("Regency/city")
        PILLAR = "pillar", _("Pillar type")
        KECAMATAN = "kecamatan", _("District (kecamatan)")

    batch = models.ForeignKey(Batch, models.CASCADE, related_name="allocations", verbose_name=_("batch"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    region = models.ForeignKey(
        "pillars.Region", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("region")
    )
    pillar_type = models.ForeignKey(
        "pillars.PillarType",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pillar type"),
    )
    seats = models.PositiveIntegerField(_("seats"), validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["kind", "region__code", "pillar_type__sort_order"]
        verbose_name = _("quota allocation")
        verbose_name_plural = _("quota allocations")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="pillar", pillar_type__isnull=False, region__isnull=True)
                    | Q(kind__in=["kabupaten", "kecamatan"], pillar_type__isnull=True, region__isnull=False)
                ),
                name="allocation_target_matches_kind",
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="allocation_seats_positive"),
            models.UniqueConstraint(
                fields=["batch", "region"], condition=Q(region__isnull=False), name="allocation_region_once"
            ),
            models.UniqueConstraint(
                fields=["batch", "pillar_type"],
                condition=Q(pillar_type__isnull=False),
                name="allocation_pillar_once",
            ),
        ]

    def __str__(self):
        return f"{self.target}: {self.seats}"

    @property
    def target(self):
        return self.pillar_type if self.kind == self.Kind.PILLAR else self.region

    @classmethod
    def open_to_kabupaten(cls, allocations, kabupaten_id) -> bool:
        """The one rule of which kabupaten/kota may send participants to a batch, over the batch's allocations
        (loaded with their regions): one with a seat of its own, or any when the batch has no kabupaten quota
        and no kecamatan quota, or one of whose kecamatan has a seat when there are only kecamatan quotas.
        trainings.selectors.batches_visible_to asks the same of the database, for lists of batches."""
        kabupaten = [a for a in allocations if a.kind == cls.Kind.KABUPATEN]
        if kabupaten:
            return any(a.region_id == kabupaten_id for a in kabupaten)
        kecamatan = [a for a in allocations if a.kind == cls.Kind.KECAMATAN]
        return not kecamatan or any(a.region.parent_id == kabupaten_id for a in kecamatan)


class Session(models.Model):
    """One slot of a batch's timetable: a materi or a ceremony, taught by one or more facilitators."""

    class Kind(models.TextChoices):
        MATERI = "materi", _("Materi")
        OPENING = "opening", _("Opening ceremony (pembukaan)")
        CLOSING = "closing", _("Closing ceremony (penutupan)")
        PRETEST = "pretest", _("Pre-test")
        POSTTEST = "posttest", _("Post-test")
        OTHER = "other", _("Other")

    batch = models.ForeignKey(Batch, models.CASCADE, related_name="sessions", verbose_name=_("batch"))
    date = models.DateField(_("date"))
    start_time = models.TimeField(_("start"))
    end_time = models.TimeField(_("end"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MATERI)
    module = models.ForeignKey(
        Module, models.PROTECT, null=True, blank=True, related_name="sessions", verbose_name=_("materi")
    )
    title = models.CharField(
        _("title"), max_length=250, blank=True, help_text=_("Shown instead of the materi's title if given.")
    )
    jp = models.PositiveSmallIntegerField(_("JP"), default=0)
    facilitators = models.ManyToManyField(
        Facilitator, blank=True, related_name="sessions", verbose_name=_("facilitators")
    )
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    # Who really taught: recorded by staff; until then the scheduled facilitators count.
    taught_by = models.ManyToManyField(
        Facilitator, blank=True, related_name="sessions_taught", verbose_name=_("facilitators who taught")
    )
    taught_recorded = models.BooleanField(_("teaching recorded"), default=False)

    class Meta:
        ordering = ["date", "start_time"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="session_end_after_start"),
            models.CheckConstraint(
                condition=~Q(kind="materi") | Q(module__isnull=False), name="session_materi_has_module"
            ),
        ]
        indexes = [models.Index(fields=["date", "start_time"])]

    def __str__(self):
        return f"{self.date} {self.start_time:%H.%M} {self.display_title}"

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        if self.module_id:
            return self.module.title
        return str(self.get_kind_display())

    @property
    def time_range(self) -> str:
        """As on Indonesian forms: "08.00 - 09.30 WIB"."""
        return f"{self.start_time:%H.%M} - {self.end_time:%H.%M} WIB"

    @property
    def starts_at(self) -> datetime:
        """The start as an aware datetime in the centre's time zone."""
        return timezone.make_aware(datetime.combine(self.date, self.start_time))

    @property
    def ends_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.date, self.end_time))


class Attendance(models.Model):
    """One participant's presence at one session."""

    class Status(models.TextChoices):
        PRESENT = "hadir", _("Present (hadir)")
        LATE = "terlambat", _("Late (terlambat)")
        EXCUSED = "izin", _("Excused (izin)")
        SICK = "sakit", _("Sick (sakit)")
        ABSENT = "alpa", _("Absent without notice (alpa)")

    class Method(models.TextChoices):
        FACILITATOR = "facilitator", _("by the facilitator")
        STAFF = "staff", _("by the staff")
        SELF = "self", _("self check-in")

    # Statuses that count as attended for the pass rule.
    ATTENDED = frozenset({Status.PRESENT, Status.LATE})
    LETTERS = {"hadir": "H", "terlambat": "T", "izin": "I", "sakit": "S", "alpa": "A"}

    # PROTECT: attendance is a record; a session or an enrolment that has any can no longer be deleted.
    session = models.ForeignKey(Session, models.PROTECT, related_name="attendances", verbose_name=_("session"))
    enrollment = models.ForeignKey(
        "participants.Enrollment", models.PROTECT, related_name="attendances", verbose_name=_("participant")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    method = models.CharField(_("recorded"), max_length=12, choices=Method.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [models.UniqueConstraint(fields=["session", "enrollment"], name="attendance_once_per_session")]

    def __str__(self):
        return f"{self.enrollment} · {self.session}: {self.status}"

    @property
    def letter(self) -> str:
        return self.LETTERS[self.status]


class AttendanceChange(models.Model):
    """The history of an attendance record: every change, old → new, who, when, how and why."""

    attendance = models.ForeignKey(Attendance, models.CASCADE, related_name="changes")
    old_status = models.CharField(max_length=10, choices=Attendance.Status.choices, blank=True)
    new_status = models.CharField(max_length=10, choices=Attendance.Status.choices)
    note = models.CharField(max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    method = models.CharField(max_length=12, choices=Attendance.Method.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "pk"]
        verbose_name = _("attendance change")
        verbose_name_plural = _("attendance changes")

    def __str__(self):
        return f"{self.old_status or '—'} → {self.new_status}"
