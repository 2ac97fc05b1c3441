"""Reads for certificates and document jobs: what a certificate prints (in a fixed number of queries per
chunk), and which certificates, jobs and files a user may find at all."""

from collections import defaultdict

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from participants.privacy import registry_scope
from trainings.models import Batch, Session

from .formatting import date_span, format_nip, long_date
from .models import Certificate, CertificateLayout, DocumentFile, DocumentJob
from .rendering import CertificateBatch, CertificateEntry, CertificateLook, file_data_uri


def verification_url(code: str) -> str:
    return f"{settings.SITE_URL}{reverse('verify_certificate', args=[code])}"


def layout_for(organiser) -> CertificateLayout:
    """The organiser's layout, or an unsaved one with the defaults."""
    try:
        return organiser.certificate_layout
    except CertificateLayout.DoesNotExist:
        return CertificateLayout(organiser=organiser)


def certificate_look(organiser, layout: CertificateLayout | None = None) -> CertificateLook:
    layout = layout or layout_for(organiser)
    with translation.override(settings.LANGUAGE_CODE):
        result_text = layout.result_text or _("has completed the training well")
    return CertificateLook(
        orientation=layout.orientation,
        header=[line.strip() for line in layout.header.splitlines() if line.strip()],
        primary_colour=layout.primary_colour,
        accent_colour=layout.accent_colour,
        logo=file_data_uri(layout.logo or organiser.logo),
        background=file_data_uri(layout.background),
        signature=file_data_uri(layout.signature),
        signatory_name=layout.signatory_name or organiser.head_name,
        signatory_title=layout.signatory_title or organiser.head_title,
        signatory_nip=format_nip(layout.signatory_nip or organiser.head_nip),
        issue_place=layout.issue_place or organiser.city,
        result_text=result_text,
        show_facilitators=layout.show_facilitators,
    )


def certificate_batch(batch: Batch, layout: CertificateLayout | None = None) -> CertificateBatch:
    """What all certificates of a batch share: the curriculum as scheduled (materi and their JP, in timetable
    order), the facilitators who taught, the venues and dates. Four queries."""
    organiser = batch.organiser
    sessions = list(
        Session.objects.filter(batch=batch).select_related("module").prefetch_related("facilitators", "taught_by")
    )
    curriculum: dict[str, int] = {}
    facilitators: dict[int, str] = {}
    for session in sessions:
        if session.jp:
            curriculum[session.display_title] = curriculum.get(session.display_title, 0) + session.jp
        for facilitator in session.taught_by.all() if session.taught_recorded else session.facilitators.all():
            facilitators.setdefault(facilitator.pk, facilitator.name)
    venues = [batch.venue]
    for day_venue in batch.day_venues.all():
        if day_venue.venue not in venues:
            venues.append(day_venue.venue)
    with translation.override(settings.LANGUAGE_CODE):
        dates = date_span(batch.start_date, batch.end_date)
        venue = _(" and ").join(venues)
    return CertificateBatch(
        organiser_name=organiser.name,
        organiser_address=organiser.address,
        program_title=batch.program.title,
        batch_name=batch.name,
        dates=dates,
        venue=venue,
        total_jp=sum(session.jp for session in sessions),
        curriculum=list(curriculum.items()),
        facilitators=list(facilitators.values()),
        look=certificate_look(organiser, layout),
    )


def with_print_data(certificates: QuerySet[Certificate]) -> QuerySet[Certificate]:
    return certificates.select_related(
        "enrollment__person", "enrollment__nomination__pillar_type", "enrollment__nomination__kabupaten"
    )


def certificate_entry(certificate: Certificate, *, issue_place: str, preview: bool = False) -> CertificateEntry:
    """One certificate's printed facts; `certificate` comes from with_print_data()."""
    person = certificate.enrollment.person
    nomination = certificate.enrollment.nomination
    origin = nomination.kabupaten.name
    if person.pillar_detail:
        origin = f"{person.pillar_detail}, {origin}"
    with translation.override(settings.LANGUAGE_CODE):
        return CertificateEntry(
            number=certificate.number,
            verification_url=verification_url(certificate.verification_code),
            full_name=person.full_name,
            birth=f"{person.birth_place}, {long_date(person.birth_date)}",
            pillar=nomination.pillar_type.name,
            origin=origin,
            issued=f"{issue_place}, {long_date(timezone.localtime(certificate.issued_at).date())}",
            preview=preview,
        )


def certificates_visible_to(user) -> QuerySet[Certificate]:
    """Staff: their organiser's certificates. Operators: those of their kabupaten's participants registered in
    it (participants.privacy: a certificate shows the registry's record)."""
    certificates = Certificate.objects.all()
    if not user.is_authenticated:
        return certificates.none()
    if user.is_organiser_staff:
        return certificates.filter(organiser_id=user.organiser_id)
    if user.is_operator:
        return certificates.filter(
            registry_scope(user, "enrollment__person__"), enrollment__nomination__kabupaten_id=user.kabupaten_id
        )
    return certificates.none()


def jobs_visible_to(user) -> QuerySet[DocumentJob]:
    """Document jobs are the staff's: those of their organiser."""
    if not (user.is_authenticated and user.is_organiser_staff):
        return DocumentJob.objects.none()
    return DocumentJob.objects.filter(organiser_id=user.organiser_id)


def files_visible_to(user) -> QuerySet[DocumentFile]:
    return DocumentFile.objects.filter(job__in=jobs_visible_to(user))


def batch_certificates(*, batch: Batch, user) -> dict:
    """The certificates page of a batch: each visible enrolment with its eligibility and its certificates
    (valid first), in a fixed number of queries."""
    from participants.selectors import enrollments_visible_to
    from trainings.selectors import attendance_matrix

    enrollments = enrollments_visible_to(user).filter(batch=batch)
    matrix = attendance_matrix(batch=batch, enrollments=enrollments)
    by_enrollment = defaultdict(list)
    for certificate in (
        Certificate.objects.filter(enrollment__in=enrollments)
        .select_related("replaced_by")
        .order_by("revoked_at", "-issued_at")
    ):
        by_enrollment[certificate.enrollment_id].append(certificate)
    rows = []
    for row in matrix.rows:
        certificates = by_enrollment.get(row.enrollment.pk, [])
        valid = next((c for c in certificates if c.revoked_at is None), None)
        rows.append({"row": row, "certificates": certificates, "valid": valid})
    return {"matrix": matrix, "rows": rows}
