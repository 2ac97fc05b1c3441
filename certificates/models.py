"""Certificates (STTP): their numbers, verification codes and revocation. The printed documents and the jobs
that render them build on these records."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
