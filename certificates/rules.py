"""Who may do what with certificates, document jobs and the certificate layout. Views ask these permissions
with the object; the querysets in selectors (certificates_visible_to, jobs_visible_to, files_visible_to) and
trainings.selectors.batches_visible_to decide what can be found at all."""

import rules

from participants.privacy import sees_registry_record
from trainings.rules import is_batch_operator, is_batch_staff, is_organiser_staff


@rules.predicate
def is_certificate_staff(user, certificate) -> bool:
    return certificate is not None and user.is_organiser_staff and certificate.organiser_id == user.organiser_id


@rules.predicate
def is_certificate_operator(user, certificate) -> bool:
    """An operator may download the valid certificates of the participants their kabupaten nominated who are
    registered in it: a certificate carries the registry's name and birth data, which an operator does not see
    of someone registered elsewhere (participants.privacy); that participant downloads it with their access
    code, or the staff hand it over."""
    return (
        certificate is not None
        and user.is_operator
        and certificate.revoked_at is None
        and certificate.enrollment.nomination.kabupaten_id == user.kabupaten_id
        and sees_registry_record(user, certificate.enrollment.person)
    )


@rules.predicate
def is_job_staff(user, job) -> bool:
    return job is not None and user.is_organiser_staff and job.organiser_id == user.organiser_id


# Issue, revoke and re-issue certificates, print attendance sheets, see the batch's document jobs.
rules.add_perm("certificates.batch.manage", rules.is_authenticated & is_batch_staff)
# The batch's certificates as a ZIP: its staff get all of them, an operator it concerns their kabupaten's.
rules.add_perm("certificates.batch.download", rules.is_authenticated & (is_batch_staff | is_batch_operator))
rules.add_perm("certificates.certificate.manage", rules.is_authenticated & is_certificate_staff)
rules.add_perm(
    "certificates.certificate.download", rules.is_authenticated & (is_certificate_staff | is_certificate_operator)
)
rules.add_perm("certificates.job.view", rules.is_authenticated & is_job_staff)
rules.add_perm("certificates.layout.change", is_organiser_staff)
