"""People (the NIK registry), their nominations by Dinsos operators, and the enrolments staff accept.

Personal data (NIK, birth date, phone, address) lives here and is shown only to staff and the nominating
operator (see rules.py); lists mask the NIK."""

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .nik import FEMALE, MALE, mask_nik

nik_format = RegexValidator(r"^\d{16}$", _("NIK must be 16 digits."))

# Access codes avoid characters that are easily confused on paper or a phone keyboard (0/O, 1/I/L, 5/S, 2/Z).
ACCESS_CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"
ACCESS_CODE_LENGTH = 8


def new_access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


class Person(models.Model):
    """Someone of the social-welfare workforce, identified across batches by their NIK."""

    class Gender(models.TextChoices):
        MALE = MALE, _("Male")
        FEMALE = FEMALE, _("Female")

    class Education(models.TextChoices):
        SD = "sd", _("Primary school (SD)")
        SMP = "smp", _("Junior high school (SMP)")
        SMA = "sma", _("Senior high school (SMA/SMK)")
        DIPLOMA = "diploma", _("Diploma (D1–D3)")
        S1 = "s1", _("Bachelor (D4/S1)")
        S2 = "s2", _("Master (S2)")
        S3 = "s3", _("Doctorate (S3)")

    nik = models.CharField(_("NIK"), max_length=16, unique=True, validators=[nik_format])
    full_name = models.CharField(_("full name (as on the KTP)"), max_length=150)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_place = models.CharField(_("place of birth"), max_length=80)
    birth_date = models.DateField(_("date of birth"))
    address = models.CharField(_("address"), max_length=250, blank=True)
    village = models.CharField(_("desa/kelurahan"), max_length=100, blank=True)
    kecamatan = models.ForeignKey(
        "pillars.Region",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("kecamatan"),
        limit_choices_to={"level": 3},
    )
    kabupaten = models.ForeignKey(
        "pillars.Region",
        models.PROTECT,
        related_name="+",
        verbose_name=_("regency/city"),
        limit_choices_to={"level": 2},
    )
    phone = models.CharField(_("phone/WhatsApp"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    pillar_type = models.ForeignKey(
        "pillars.PillarType", models.PROTECT, related_name="people", verbose_name=_("pillar type")
    )
    pillar_detail = models.CharField(
        _("pillar details"),
        max_length=200,
        blank=True,
        help_text=_("e.g. the kecamatan a TKSK serves, the name of the LKS or Karang Taruna unit"),
    )
    education = models.CharField(_("last education"), max_length=10, choices=Education.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [models.Index(fields=["kabupaten", "pillar_type"])]

    def __str__(self):
        return self.full_name

    def save(self, *args, **kwargs):
        # A stand-in showing an operator what they typed (privacy.person_as_submitted) must never overwrite
        # the registry record it stands for.
        if getattr(self, "shielded", False):
            raise RuntimeError("A person as submitted by an operator is for display only.")
        super().save(*args, **kwargs)

    @property
    def masked_nik(self) -> str:
        return mask_nik(self.nik)


class Nomination(models.Model):
    """A Dinsos operator's proposal of a person for a batch, and the staff's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        ACCEPTED = "accepted", _("Accepted")
        REPLACEMENT_REQUESTED = "replace", _("Replacement requested")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        REPLACED = "replaced", _("Replaced")

    # A nomination in one of these holds a seat of the quota, and may be withdrawn or replaced.
    ACTIVE = frozenset({Status.PENDING, Status.ACCEPTED, Status.REPLACEMENT_REQUESTED})

    batch = models.ForeignKey("trainings.Batch", models.PROTECT, related_name="nominations", verbose_name=_("batch"))
    person = models.ForeignKey(Person, models.PROTECT, related_name="nominations", verbose_name=_("person"))
    kabupaten = models.ForeignKey(
        "pillars.Region", models.PROTECT, related_name="+", verbose_name=_("nominating regency/city")
    )
    pillar_type = models.ForeignKey(
        "pillars.PillarType", models.PROTECT, related_name="+", verbose_name=_("pillar type")
    )
    kecamatan = models.ForeignKey(
        "pillars.Region", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("kecamatan")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    # The person's data as the nominating operator or staff member submitted it: what an operator is shown of
    # someone registered in another kabupaten, and what staff compare with the registry to see a conflict.
    submitted = models.JSONField(_("data as submitted"), default=dict, blank=True)
    replaces = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="replaced_by", verbose_name=_("replaces")
    )
    upload = models.ForeignKey(
        "NominationUpload", models.SET_NULL, null=True, blank=True, related_name="nominations", verbose_name=_("upload")
    )
    nominated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "kabupaten__code", "person__full_name"]
        verbose_name = _("nomination")
        verbose_name_plural = _("nominations")
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "person"],
                condition=Q(status__in=["pending", "accepted", "replace"]),
                name="nomination_one_active_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "replace"]) | ~Q(reason=""), name="nomination_reason_required"
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self):
        return f"{self.person} → {self.batch}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class EnrollmentQuerySet(models.QuerySet):
    def locked(self):
        """The one lock on enrolments. Whoever adds attendance to an enrolment (a check-in, a facilitator's tap,
        “semua hadir”) and whoever withdraws or replaces its participant (which deletes an enrolment without
        attendance) holds these rows first, so one of them waits for the other: attendance is never recorded for
        a participant being removed, and a participant is never removed while their attendance is being saved.
        Rows are locked in primary-key order, so two writers locking several never wait for each other in a
        circle."""
        return self.select_for_update(of=("self",)).order_by("pk")


class Enrollment(models.Model):
    """An accepted nomination: the person is a participant of the batch, with a personal access code for
    check-in and certificate download."""

    batch = models.ForeignKey("trainings.Batch", models.PROTECT, related_name="enrollments", verbose_name=_("batch"))
    person = models.ForeignKey(Person, models.PROTECT, related_name="enrollments", verbose_name=_("person"))
    nomination = models.OneToOneField(Nomination, models.PROTECT, related_name="enrollment")
    access_code = models.CharField(
        _("access code"), max_length=ACCESS_CODE_LENGTH, unique=True, default=new_access_code
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["batch", "person__full_name"]
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints = [models.UniqueConstraint(fields=["batch", "person"], name="enrollment_once_per_batch")]

    def __str__(self):
        return f"{self.person} @ {self.batch}"


def _upload_path(instance, filename):
    return f"nominations/{instance.batch_id}/{instance.kabupaten.code}/{secrets.token_hex(8)}-{filename[-60:]}"


class NominationUpload(models.Model):
    """A spreadsheet an operator uploaded, with the row-by-row report; kept with the nominations it made."""

    class Status(models.TextChoices):
        CHECKED = "checked", _("Checked, not yet confirmed")
        CONFIRMED = "confirmed", _("Confirmed")
        DISCARDED = "discarded", _("Discarded")

    batch = models.ForeignKey("trainings.Batch", models.PROTECT, related_name="nomination_uploads")
    kabupaten = models.ForeignKey("pillars.Region", models.PROTECT, related_name="+")
    file = models.FileField(_("file"), upload_to=_upload_path)
    original_name = models.CharField(max_length=200)
    report = models.JSONField(_("report"), default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("nomination upload")
        verbose_name_plural = _("nomination uploads")

    def __str__(self):
        return self.original_name


def _letter_path(instance, filename):
    return f"letters/{instance.batch_id}/{instance.kabupaten.code}/{secrets.token_hex(8)}-{filename[-60:]}"


class AssignmentLetter(models.Model):
    """The Dinsos office's assignment letter (surat tugas) for its participants of a batch."""

    batch = models.ForeignKey("trainings.Batch", models.PROTECT, related_name="assignment_letters")
    kabupaten = models.ForeignKey("pillars.Region", models.PROTECT, related_name="+")
    file = models.FileField(_("file"), upload_to=_letter_path)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("assignment letter")
        verbose_name_plural = _("assignment letters")
        constraints = [models.UniqueConstraint(fields=["batch", "kabupaten"], name="letter_one_per_kabupaten")]

    def __str__(self):
        return self.original_name


class NominationEvent(models.Model):
    """The audit trail of a nomination: who did what, when, and what changed."""

    class Action(models.TextChoices):
        CREATED = "created", _("nominated")
        CHANGED = "changed", _("changed")
        PERSON_CHANGED = "person", _("personal data corrected")
        WITHDRAWN = "withdrawn", _("withdrawn")
        REPLACED = "replaced", _("replaced")
        ACCEPTED = "accepted", _("accepted")
        REJECTED = "rejected", _("rejected")
        REPLACEMENT_REQUESTED = "replace", _("replacement requested")
        MERGED = "merged", _("moved from a duplicate record")

    nomination = models.ForeignKey(Nomination, models.CASCADE, related_name="events")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("nomination event")
        verbose_name_plural = _("nomination events")

    def __str__(self):
        return f"{self.get_action_display()} ({self.at:%Y-%m-%d %H:%M})"


def _registry_upload_path(instance, filename):
    # No name from the uploader in the path: it often carries a kabupaten's or a person's name.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "xlsx"
    return f"registry/{secrets.token_hex(12)}.{extension}"


class RegistryUpload(models.Model):
    """A spreadsheet of pillar members for the registry (no nomination): checked and imported by Celery jobs,
    with its progress and the row-by-row report."""

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked, not yet imported")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    # An operator's kabupaten, or the one staff chose; None for staff's whole-province files.
    kabupaten = models.ForeignKey("pillars.Region", models.PROTECT, null=True, blank=True, related_name="+")
    organiser = models.ForeignKey("pillars.Organiser", models.PROTECT, null=True, blank=True, related_name="+")
    file = models.FileField(_("file"), upload_to=_registry_upload_path, blank=True)
    original_name = models.CharField(max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CHECKING)
    valid_only = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(_("report"), default=dict)
    error = models.TextField(_("error"), blank=True)
    runs = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("registry upload")
        verbose_name_plural = _("registry uploads")
        constraints = [
            models.CheckConstraint(
                condition=Q(organiser__isnull=False) | Q(kabupaten__isnull=False), name="registry_upload_has_scope"
            ),
        ]

    def __str__(self):
        return self.original_name


class PersonMerge(models.Model):
    """The audit record of two registry records found to be one person (a duplicate registered with a mistyped
    NIK): the duplicate's nominations and enrolments were moved to the kept person and the duplicate deleted.
    The duplicate's NIK is kept masked only; which of its fields replaced the kept ones is kept by name."""

    person = models.ForeignKey(Person, models.PROTECT, related_name="merges", verbose_name=_("kept person"))
    duplicate_masked_nik = models.CharField(_("NIK of the duplicate (masked)"), max_length=16)
    duplicate_full_name = models.CharField(_("name of the duplicate"), max_length=150)
    fields_from_duplicate = models.JSONField(_("fields taken from the duplicate"), default=list, blank=True)
    nominations_moved = models.PositiveIntegerField(_("nominations moved"), default=0)
    enrollments_moved = models.PositiveIntegerField(_("enrolments moved"), default=0)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)

    class Meta:
        ordering = ["-merged_at", "-pk"]
        verbose_name = _("merge of person records")
        verbose_name_plural = _("merges of person records")

    def __str__(self):
        return f"{self.duplicate_full_name} ({self.duplicate_masked_nik}) → {self.person}"
