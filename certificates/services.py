"""Issuing and revoking certificates. Numbers are assigned in one transaction under the organiser's yearly
counter row, so they are unique and without gaps; issuing again never gives an enrolment a second certificate."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trainings.models import Batch

from .models import DEFAULT_NUMBER_FORMAT, Certificate, CertificateCounter

ROMAN_MONTHS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def certificate_number(*, seq: int, organiser_code: str, issued: datetime, fmt: str = DEFAULT_NUMBER_FORMAT) -> str:
    """`{seq:03d}/{code}/{month}/{year}` by default: 001/UPT-PTKS/X/2025."""
    return fmt.format(seq=seq, code=organiser_code, month=ROMAN_MONTHS[issued.month - 1], year=issued.year)


def _check_staff(actor, batch: Batch) -> None:
    if not (actor.is_organiser_staff and actor.organiser_id == batch.organiser_id):
        raise PermissionDenied


@transaction.atomic
def certificates_issue(*, actor, batch: Batch, enrollments, included_reasons=None, now=None) -> list[Certificate]:
    """Give each of `enrollments` (of this batch) a certificate unless it already has a valid one. Those not
    eligible by the pass rule need a written reason in `included_reasons` ({enrollment id: reason}).
    Returns the certificates created now; running it again creates none."""
    from trainings.selectors import attendance_matrix

    _check_staff(actor, batch)
    if batch.status != Batch.Status.FINISHED:
        raise ValidationError(_("Certificates are issued once the batch is finished."))
    now = now or timezone.now()
    issued = timezone.localtime(now)
    included_reasons = {int(k): (v or "").strip() for k, v in (included_reasons or {}).items()}
    wanted = {e.pk: e for e in enrollments if e.batch_id == batch.pk}
    eligible = {row.enrollment.pk for row in attendance_matrix(batch=batch).rows if row.eligible}
    missing_reason = [e for pk, e in wanted.items() if pk not in eligible and not included_reasons.get(pk)]
    if missing_reason:
        raise ValidationError(
            _("%(name)s does not meet the pass rule; give a reason to include them.")
            % {"name": missing_reason[0].person.full_name}
        )
    counter, _created = CertificateCounter.objects.get_or_create(organiser_id=batch.organiser_id, year=issued.year)
    counter = CertificateCounter.objects.select_for_update().get(pk=counter.pk)
    # Under the counter lock: who already holds a valid certificate cannot change meanwhile.
    have = set(
        Certificate.objects.filter(enrollment_id__in=wanted, revoked_at__isnull=True).values_list(
            "enrollment_id", flat=True
        )
    )
    organiser = batch.organiser
    created = []
    for pk in sorted(set(wanted) - have):
        counter.last += 1
        created.append(
            Certificate(
                enrollment_id=pk,
                organiser_id=batch.organiser_id,
                year=issued.year,
                seq=counter.last,
                number=certificate_number(seq=counter.last, organiser_code=organiser.code, issued=issued),
                issued_at=now,
                issued_by=actor,
                included_reason="" if pk in eligible else included_reasons[pk],
            )
        )
    Certificate.objects.bulk_create(created)
    counter.save(update_fields=["last"])
    return created


@transaction.atomic
def certificate_revoke(*, actor, certificate: Certificate, reason: str, now=None) -> Certificate:
    certificate = Certificate.objects.select_for_update().select_related("enrollment__batch").get(pk=certificate.pk)
    _check_staff(actor, certificate.enrollment.batch)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for revoking.")})
    if certificate.revoked_at is not None:
        raise ValidationError(_("This certificate is already revoked."))
    certificate.revoked_at = now or timezone.now()
    certificate.revoked_by = actor
    certificate.revoke_reason = reason
    certificate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    return certificate


@transaction.atomic
def certificate_reissue(*, actor, certificate: Certificate, now=None) -> Certificate:
    """A new certificate, with a new number, in place of a revoked one."""
    certificate = Certificate.objects.select_for_update().select_related("enrollment__batch").get(pk=certificate.pk)
    if certificate.revoked_at is None:
        raise ValidationError(_("Only a revoked certificate can be re-issued."))
    batch = certificate.enrollment.batch
    new = certificates_issue(
        actor=actor,
        batch=batch,
        enrollments=[certificate.enrollment],
        included_reasons={certificate.enrollment_id: certificate.included_reason or _("re-issue")},
        now=now,
    )
    if not new:
        raise ValidationError(_("This participant already has a valid certificate."))
    certificate.replaced_by = new[0]
    certificate.save(update_fields=["replaced_by"])
    return new[0]
