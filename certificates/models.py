"""Certificates (STTP) with their numbers, verification codes and revocation; the organiser's certificate layout;
and the document jobs that render certificates and attendance sheets to PDF."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pillars.models import nip_validator

# Verification codes avoid characters that are easily confused (0/O, 1/I/L, 5/S, 2/Z); 12 of them give
# 27**12 ≈ 1.5e17 codes, not guessable, and unrelated to the NIK.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"
CODE_LENGTH = 12
DEFAULT_NUMBER_FORMAT = "{seq:03d}/{code}/{month}/{year}"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class CertificateCounter(models.Model):
    """The last certificate sequence number an organiser used in a year; its row is locked while numbers are
    assigned, so numbers are unique and without gaps."""

    organiser = models.ForeignKey("pillars.Organiser", models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organiser", "year"], name="certificate_counter_once")]

    def __str__(self):
        return f"{self.organiser} {self.year}: {self.last}"


class Certificate(models.Model):
    enrollment = models.ForeignKey(
        "participants.Enrollment", models.PROTECT, related_name="certificates", verbose_name=_("participant")
    )
    organiser = models.ForeignKey("pillars.Organiser", models.PROTECT, related_name="certificates")
    year = models.PositiveSmallIntegerField(_("year"))
    seq = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("certificate number"), max_length=80, unique=True)
    verification_code = models.CharField(
        _("verification code"), max_length=CODE_LENGTH, unique=True, default=new_verification_code
    )
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    included_reason = models.TextField(
        _("reason for including"), blank=True, help_text=_("Why a participant below the pass rule gets one.")
    )
    pdf = models.FileField(_("PDF"), upload_to="certificates/%Y/", blank=True)
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    revoke_reason = models.TextField(_("reason for revoking"), blank=True)
    replaced_by = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="replaces", verbose_name=_("replaced by")
    )

    class Meta:
        ordering = ["organiser", "year", "seq"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        constraints = [
            models.UniqueConstraint(fields=["organiser", "year", "seq"], name="certificate_seq_once"),
            models.UniqueConstraint(
                fields=["enrollment"], condition=Q(revoked_at__isnull=True), name="certificate_one_valid"
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoke_reason=""), name="certificate_revoke_reason"
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #14532d."))


def validate_number_format(value: str) -> None:
    """A number format may use {seq}, {code}, {month} and {year}. Numbers are unique across all organisers and
    years, so it must tell apart the sequence, the organiser and the year; and it must fit the number's field."""

    def sample(seq=1, code="UPT-A", month="X", year=2025):
        return value.format(seq=seq, code=code, month=month, year=year)

    try:
        first = sample()
        others = [sample(seq=2), sample(code="UPT-B"), sample(year=2026)]
        longest = sample(seq=99999, code="X" * 20, month="VIII", year=2025)
    except Exception as exc:  # noqa: BLE001 - any formatting error is the staff's typo, never a crash
        raise ValidationError(_("Use only {seq}, {code}, {month} and {year} in the number format.")) from exc
    if any(other == first for other in others) or len(longest) > 80:
        raise ValidationError(
            _("The number format must contain {seq}, {code} and {year} and give at most 80 characters.")
        )


class CertificateLayout(models.Model):
    """How an organiser's certificates look, set by its staff without code. Issued certificates keep the
    layout they were printed with: changes here apply to the next ones only."""

    class Orientation(models.TextChoices):
        PORTRAIT = "portrait", _("Portrait")
        LANDSCAPE = "landscape", _("Landscape")

    organiser = models.OneToOneField(
        "pillars.Organiser", models.CASCADE, related_name="certificate_layout", verbose_name=_("organiser")
    )
    orientation = models.CharField(
        _("orientation"), max_length=10, choices=Orientation.choices, default=Orientation.PORTRAIT
    )
    primary_colour = models.CharField(_("main colour"), max_length=7, default="#14532d", validators=[hex_colour])
    accent_colour = models.CharField(_("accent colour"), max_length=7, default="#a16207", validators=[hex_colour])
    header = models.TextField(
        _("header"),
        blank=True,
        help_text=_("Lines above the organiser's name, e.g. PEMERINTAH PROVINSI JAWA TIMUR / DINAS SOSIAL."),
    )
    logo = models.ImageField(
        _("logo"), upload_to="layouts/", blank=True, help_text=_("Leave empty to use the organiser's logo.")
    )
    background = models.ImageField(_("background image"), upload_to="layouts/", blank=True)
    signature = models.ImageField(_("signature image"), upload_to="layouts/", blank=True)
    signatory_name = models.CharField(
        _("signatory's name"),
        max_length=120,
        blank=True,
        help_text=_("Without academic titles. Leave empty to use the head of the organiser."),
    )
    signatory_title = models.CharField(_("signatory's position"), max_length=120, blank=True)
    signatory_nip = models.CharField(_("signatory's NIP"), max_length=18, blank=True, validators=[nip_validator])
    issue_place = models.CharField(
        _("place of issue"), max_length=80, blank=True, help_text=_("Leave empty to use the organiser's city.")
    )
    number_format = models.CharField(
        _("number format"),
        max_length=80,
        default=DEFAULT_NUMBER_FORMAT,
        validators=[validate_number_format],
        help_text=_(
            "{seq:03d} the sequence in the year, {code} the organiser's code, {month} in Roman numerals, {year}."
        ),
    )
    result_text = models.CharField(
        _("result"),
        max_length=200,
        blank=True,
        help_text=_('Leave empty for "has completed the training well".'),
    )
    show_facilitators = models.BooleanField(_("list the facilitators on the back"), default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("certificate layout")
        verbose_name_plural = _("certificate layouts")

    def __str__(self):
        return str(self.organiser)


class DocumentJob(models.Model):
    """One request for documents ("certificates for batch X", "attendance sheets for day 2"): queued, run by
    Celery in chunks, with its progress and the files it produced. A failed job can be run again and keeps
    what it already produced."""

    class Kind(models.TextChoices):
        CERTIFICATES = "certificates", _("Certificates")
        ATTENDANCE_SHEETS = "attendance", _("Attendance sheets")
        REPORT = "report", _("Batch report")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organiser = models.ForeignKey("pillars.Organiser", models.PROTECT, related_name="+")
    batch = models.ForeignKey("trainings.Batch", models.PROTECT, related_name="document_jobs", verbose_name=_("batch"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    # What to produce: {"enrollments": [...]} for certificates, {"sheets": ["session-12", "day-2025-10-14"]};
    # nothing for the batch report (one file, "report").
    params = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(_("error"), blank=True)
    runs = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life: claimed by a worker or a chunk finished.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("document job")
        verbose_name_plural = _("document jobs")
        constraints = [models.CheckConstraint(condition=Q(done__lte=models.F("total")), name="job_done_le_total")]

    def __str__(self):
        return self.title

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_stalled(self) -> bool:
        """Waiting or running without any progress for longer than a task may take: its worker was probably
        lost, and staff may run it again (what it produced is kept)."""
        from datetime import timedelta

        from django.utils import timezone

        if self.is_finished:
            return False
        last = self.progressed_at or self.created_at
        return last is not None and timezone.now() - last > timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def _document_path(instance, filename):
    return f"documents/{instance.job.batch_id}/{instance.job_id}/{secrets.token_hex(6)}-{filename}"


class DocumentFile(models.Model):
    """A file a job produced (an attendance sheet). Certificates keep their own file on the certificate."""

    job = models.ForeignKey(DocumentJob, models.CASCADE, related_name="files")
    key = models.CharField(max_length=40)  # what it is within the job: "session-12", "day-2025-10-14"
    title = models.CharField(_("title"), max_length=250)
    file = models.FileField(upload_to=_document_path)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "key"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="document_file_once_per_job")]

    def __str__(self):
        return self.title
