"""Issuing, rendering and revoking certificates, and the document jobs that render certificates, attendance
sheets and the batch report. Numbers are assigned in one transaction under the organiser's yearly counter row,
so they are unique and without gaps; issuing again never gives an enrolment a second certificate. A
certificate's PDF is written once (a conditional update claims the empty field), so re-running a job or two
workers on one chunk never changes a certificate that was handed out."""

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.tasks import enqueue_on_commit
from config.throttle import CACHE_ERRORS
from trainings.models import Batch
from trainings.services import batch_lock

from . import rendering, selectors
from .models import DEFAULT_NUMBER_FORMAT, Certificate, CertificateCounter, CertificateLayout, DocumentFile, DocumentJob

logger = logging.getLogger(__name__)

ROMAN_MONTHS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def certificate_number(*, seq: int, organiser_code: str, issued: datetime, fmt: str = DEFAULT_NUMBER_FORMAT) -> str:
    """`{seq:03d}/{code}/{month}/{year}` by default: 001/UPT-PTKS/X/2025."""
    return fmt.format(seq=seq, code=organiser_code, month=ROMAN_MONTHS[issued.month - 1], year=issued.year)


def _check_staff(actor, batch: Batch) -> None:
    if not (actor.is_organiser_staff and actor.organiser_id == batch.organiser_id):
        raise PermissionDenied


@transaction.atomic
def certificates_issue(
    *, actor, batch: Batch, enrollments, included_reasons=None, now=None, reissue: bool = False
) -> list[Certificate]:
    """Give each of `enrollments` (of this batch) a certificate unless it already has a valid one. Those not
    eligible by the pass rule need a written reason in `included_reasons` ({enrollment id: reason}). A participant
    whose certificate was revoked gets a new one only through a re-issue (`reissue=True`), never by issuing the
    batch again. Returns the certificates created now; running it again creates none."""
    from trainings.selectors import attendance_matrix

    _check_staff(actor, batch)
    if batch.status != Batch.Status.FINISHED:
        raise ValidationError(_("Certificates are issued once the batch is finished."))
    now = now or timezone.now()
    issued = timezone.localtime(now)
    included_reasons = {int(k): (v or "").strip() for k, v in (included_reasons or {}).items()}
    wanted = {e.pk: e for e in enrollments if e.batch_id == batch.pk}
    batch_lock(batch)  # who holds which certificate of a batch changes only under its lock
    held = Certificate.objects.filter(enrollment_id__in=wanted)
    have = set(held.filter(revoked_at__isnull=True).values_list("enrollment_id", flat=True))
    revoked = set(held.filter(revoked_at__isnull=False).values_list("enrollment_id", flat=True)) - have
    to_issue = sorted(set(wanted) - have - (set() if reissue else revoked))
    eligible = {row.enrollment.pk for row in attendance_matrix(batch=batch).rows if row.eligible}
    missing_reason = [wanted[pk] for pk in to_issue if pk not in eligible and not included_reasons.get(pk)]
    if missing_reason:
        raise ValidationError(
            _("%(name)s does not meet the pass rule; give a reason to include them.")
            % {"name": missing_reason[0].person.full_name}
        )
    if not to_issue:
        return []
    counter, _created = CertificateCounter.objects.get_or_create(organiser_id=batch.organiser_id, year=issued.year)
    counter = CertificateCounter.objects.select_for_update().get(pk=counter.pk)
    organiser = batch.organiser
    number_format = selectors.layout_for(organiser).number_format
    created = []
    for pk in to_issue:
        counter.last += 1
        created.append(
            Certificate(
                enrollment_id=pk,
                organiser_id=batch.organiser_id,
                year=issued.year,
                seq=counter.last,
                number=certificate_number(
                    seq=counter.last, organiser_code=organiser.code, issued=issued, fmt=number_format
                ),
                issued_at=now,
                issued_by=actor,
                included_reason="" if pk in eligible else included_reasons[pk],
            )
        )
    try:
        with transaction.atomic():
            Certificate.objects.bulk_create(created)
    except IntegrityError as exc:
        # A number format that repeats numbers (e.g. without the year) runs into an earlier certificate.
        raise ValidationError(
            _("Certificate number %(number)s is already taken: check the number format of the certificate layout.")
            % {"number": created[0].number}
        ) from exc
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
        included_reasons={certificate.enrollment_id: certificate.included_reason},
        now=now,
        reissue=True,
    )
    if not new:
        raise ValidationError(_("This participant already has a valid certificate."))
    certificate.replaced_by = new[0]
    certificate.save(update_fields=["replaced_by"])
    return new[0]


def certificate_layout_update(*, actor, layout: CertificateLayout) -> CertificateLayout:
    """Save the organiser's certificate layout, recording who changed it last."""
    if not (actor.is_organiser_staff and actor.organiser_id == layout.organiser_id):
        raise PermissionDenied
    layout.updated_by = actor
    layout.full_clean()
    layout.save()
    return layout


# ------------------------------------------------------------------------------------------- rendering


def _shared_pages(shared: rendering.CertificateBatch) -> tuple[bytes, bytes]:
    """The batch's shared front layer and back page, rendered once and kept in the cache; the key follows
    their content, so any change to the training or the layout gives new ones. The cache only saves time: when it
    cannot be reached the pages are rendered again, and the chunk goes on."""
    key = "certificate-pages:" + hashlib.sha256(repr(shared).encode()).hexdigest()
    try:
        pages = cache.get(key)
    except CACHE_ERRORS:
        pages = None
    if pages is None:
        pages = (rendering.render_certificate_static(shared), rendering.render_certificate_back(shared))
        try:
            cache.set(key, pages, timeout=24 * 3600)
        except CACHE_ERRORS:
            logger.warning("the cache is unreachable; certificate pages are rendered without it")
    return pages


def _store_claimed(name: str, data: bytes, *, claim: Callable[[], bool]) -> bool:
    """Write `data` as `name` only once `claim()` (a conditional update or a unique insert that records `name`)
    succeeded, inside the same transaction: a worker that loses the claim writes nothing, and the row lock holds
    back any other until the file is there. Whatever fails after the write and before the commit (the database
    connection lost, the storage failing) removes the file again, so no file is left that no row points to. A
    failure of the commit itself leaves the file: the commit may have gone through with its answer lost, and a
    file a row points to is never deleted on a guess; if it did not, the retry overwrites the file (its name
    depends only on what it is) or the orphan clean-up removes it. Returns whether this call stored it."""
    written = None
    committing = False
    try:
        with transaction.atomic():
            if not claim():
                return False
            if default_storage.exists(name):
                # Left by a run killed between writing and committing: no committed row points to it.
                default_storage.delete(name)
            written = name  # from here on, whatever is there under this name is this call's (or part of it)
            saved = default_storage.save(name, ContentFile(data))
            if saved != name:
                written = saved
                raise RuntimeError(f"storage saved {saved} instead of {name}")
            committing = True
    except BaseException:
        if committing:
            logger.warning("stored file %s left to its retry or the orphan clean-up: its commit failed", name)
        elif written is not None:
            _delete_quietly(written)
        raise
    return True


def _delete_quietly(name: str) -> None:
    """Remove a file whose claim did not commit (a no-op when nothing was written); a storage that fails here
    leaves it to the orphan clean-up."""
    try:
        default_storage.delete(name)
    except Exception:  # any storage's error: the failure being handled is the one to report
        logger.warning("stored file %s left to the orphan clean-up: the storage could not delete it", name)


def certificates_render(*, certificate_ids) -> int:
    """Render and store the PDFs of those certificates (of one batch) that have none yet; returns how many this
    call stored. The PDF is claimed with a conditional update: whoever stores first wins and the file never
    changes afterwards."""
    certificates = list(
        selectors.with_print_data(
            Certificate.objects.filter(pk__in=certificate_ids, pdf="", revoked_at__isnull=True)
        ).order_by("seq")
    )
    if not certificates:
        return 0
    batch = Batch.objects.select_related("program", "organiser").get(pk=certificates[0].enrollment.batch_id)
    shared = selectors.certificate_batch(batch)
    entries = [selectors.certificate_entry(c, issue_place=shared.look.issue_place) for c in certificates]
    static_pdf, back_pdf = _shared_pages(shared)
    files = rendering.render_certificates(shared, entries, static_pdf=static_pdf, back_pdf=back_pdf)
    stored = 0
    for certificate, data in zip(certificates, files, strict=True):
        name = certificate_pdf_name(certificate)
        unclaimed = Certificate.objects.filter(pk=certificate.pk, pdf="", revoked_at__isnull=True)
        stored += _store_claimed(
            name,
            data,
            claim=lambda rows=unclaimed, name=name, data=data: bool(
                rows.update(pdf=name, sha256=hashlib.sha256(data).hexdigest())
            ),
        )
    return stored


def certificate_pdf_name(certificate: Certificate) -> str:
    """One name per certificate: a retry writes the same name again instead of adding a file."""
    return f"certificates/{certificate.year}/{certificate.pk}.pdf"


def certificate_preview(*, actor, batch: Batch, layout: CertificateLayout | None = None) -> bytes:
    """A certificate of the batch's first participant with the layout as it is now, marked as a preview;
    nothing is stored or numbered."""
    _check_staff(actor, batch)
    enrollment = (
        batch.enrollments.select_related("person", "nomination__pillar_type", "nomination__kabupaten")
        .order_by("person__full_name")
        .first()
    )
    if enrollment is None:
        raise ValidationError(_("The batch has no participants yet to show on a preview."))
    layout = layout or selectors.layout_for(batch.organiser)
    shared = selectors.certificate_batch(batch, layout)
    issued = timezone.now()
    sample = Certificate(
        enrollment=enrollment,
        number=certificate_number(
            seq=0, organiser_code=batch.organiser.code, issued=timezone.localtime(issued), fmt=layout.number_format
        ),
        verification_code="PREVIEW00000",
        issued_at=issued,
    )
    entry = selectors.certificate_entry(sample, issue_place=shared.look.issue_place, preview=True)
    return rendering.render_certificates(
        shared,
        [entry],
        static_pdf=rendering.render_certificate_static(shared),
        back_pdf=rendering.render_certificate_back(shared),
    )[0]


# ---------------------------------------------------------------------------------------- document jobs


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _enqueue_run(job: DocumentJob) -> None:
    """Send the job's first task once the transaction commits. A broker that cannot be reached fails the job with
    a message that says so (it can be run again from its page) instead of failing the request."""
    from . import tasks

    enqueue_on_commit(
        tasks.document_job_run, job.pk, on_unreachable=lambda pk, error: document_job_fail(job_id=pk, error=error)
    )


def _in_indonesian(text, **values) -> str:
    """Stored texts (job titles, errors) are in the documents' language, whoever asked for them."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text) % values if values else str(text)


@transaction.atomic
def document_job_certificates(*, actor, batch: Batch, enrollments=None, included_reasons=None) -> DocumentJob:
    """Queue a job that numbers and renders certificates: for `enrollments` (by default every participant who
    meets the pass rule). Those below the rule need a written reason in `included_reasons` ({id: reason}).
    Participants whose certificate was revoked are left out: they get a new one by a re-issue only."""
    from participants.models import Enrollment
    from trainings.selectors import attendance_matrix

    _check_staff(actor, batch)
    if batch.status != Batch.Status.FINISHED:
        raise ValidationError(_("Certificates are issued once the batch is finished."))
    reasons = {int(k): (v or "").strip() for k, v in (included_reasons or {}).items()}
    eligible = {row.enrollment.pk for row in attendance_matrix(batch=batch).rows if row.eligible}
    if enrollments is None:
        wanted = sorted(eligible | {pk for pk, reason in reasons.items() if reason})
    else:
        wanted = sorted({e.pk for e in enrollments if e.batch_id == batch.pk})
    certificates = Certificate.objects.filter(enrollment__batch=batch)
    holding = set(certificates.filter(revoked_at__isnull=True).values_list("enrollment_id", flat=True))
    revoked_only = set(certificates.filter(revoked_at__isnull=False).values_list("enrollment_id", flat=True)) - holding
    wanted = list(
        Enrollment.objects.filter(batch=batch, pk__in=wanted)
        .exclude(pk__in=revoked_only)
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    if not wanted:
        raise ValidationError(_("No participant meets the pass rule; choose participants and give a reason."))
    for pk in wanted:
        if pk not in eligible and pk not in holding and not reasons.get(pk):
            name = Enrollment.objects.select_related("person").get(pk=pk).person.full_name
            raise ValidationError(
                _("%(name)s does not meet the pass rule; give a reason to include them.") % {"name": name}
            )
    job = DocumentJob.objects.create(
        organiser_id=batch.organiser_id,
        batch=batch,
        kind=DocumentJob.Kind.CERTIFICATES,
        title=_in_indonesian(gettext_lazy("Certificates · %(batch)s"), batch=batch.name),
        params={"enrollments": wanted, "reasons": {str(pk): reasons[pk] for pk in wanted if reasons.get(pk)}},
        total=len(wanted),
        created_by=actor,
    )
    _enqueue_run(job)
    return job


@transaction.atomic
def document_job_attendance_sheets(*, actor, batch: Batch, keys=None) -> DocumentJob:
    """Queue a job that renders attendance sheets: those named by `keys` ("session-<id>", "day-<date>"), or every
    session's and every day's sheet of the batch."""
    from .sheets import sheet_keys

    _check_staff(actor, batch)
    available = sheet_keys(batch=batch)
    keys = available if keys is None else [key for key in available if key in set(keys)]
    if not keys:
        raise ValidationError(_("The batch has no sessions to print attendance sheets for."))
    if len(keys) == 1 and keys[0].startswith("day-"):
        title = _in_indonesian(
            gettext_lazy("Attendance sheets · %(batch)s · %(day)s"), batch=batch.name, day=keys[0][4:]
        )
    else:
        title = _in_indonesian(gettext_lazy("Attendance sheets · %(batch)s"), batch=batch.name)
    job = DocumentJob.objects.create(
        organiser_id=batch.organiser_id,
        batch=batch,
        kind=DocumentJob.Kind.ATTENDANCE_SHEETS,
        title=title,
        params={"sheets": keys},
        total=len(keys),
        created_by=actor,
    )
    _enqueue_run(job)
    return job


@transaction.atomic
def document_job_batch_report(*, actor, batch: Batch) -> DocumentJob:
    """Queue a job that renders the batch report (laporan penyelenggaraan): one PDF, made at any stage once the
    batch is out of draft, so a report can be drafted while the batch runs and printed again once finished."""
    _check_staff(actor, batch)
    if batch.status == Batch.Status.DRAFT:
        raise ValidationError(_("A batch report is made once the batch is no longer a draft."))
    job = DocumentJob.objects.create(
        organiser_id=batch.organiser_id,
        batch=batch,
        kind=DocumentJob.Kind.REPORT,
        title=_in_indonesian(gettext_lazy("Batch report · %(batch)s"), batch=batch.name),
        params={},
        total=1,
        created_by=actor,
    )
    _enqueue_run(job)
    return job


def document_job_run(*, job_id: int) -> list[list]:
    """The first step of a job: claim it (queued or running → running), number the certificates, and return the
    chunks still to render. Safe to run again: what is done is never done twice."""
    claimed = DocumentJob.objects.filter(
        pk=job_id, status__in=[DocumentJob.Status.QUEUED, DocumentJob.Status.RUNNING]
    ).update(
        status=DocumentJob.Status.RUNNING, runs=F("runs") + 1, started_at=timezone.now(), progressed_at=timezone.now()
    )
    if not claimed:
        return []
    job = DocumentJob.objects.select_related("batch__organiser", "created_by").get(pk=job_id)
    if job.kind == DocumentJob.Kind.CERTIFICATES:
        from participants.models import Enrollment

        ids = job.params["enrollments"]
        certificates_issue(
            actor=job.created_by,
            batch=job.batch,
            enrollments=Enrollment.objects.filter(pk__in=ids),
            included_reasons=job.params.get("reasons") or {},
        )
        chunks = _chunks(_pending_certificates(job), settings.DOCUMENT_CHUNK_SIZE)
    elif job.kind == DocumentJob.Kind.REPORT:
        chunks = _chunks(_pending_report(job), 1)
    else:
        chunks = _chunks(_pending_sheets(job), settings.SHEET_CHUNK_SIZE)
    document_job_progress(job_id=job_id)
    return chunks


def _pending_certificates(job: DocumentJob) -> list[int]:
    """The job's valid certificates still without a PDF, in number order."""
    return list(
        Certificate.objects.filter(enrollment_id__in=job.params["enrollments"], revoked_at__isnull=True, pdf="")
        .order_by("seq")
        .values_list("pk", flat=True)
    )


def _pending_sheets(job: DocumentJob) -> list[str]:
    """The job's sheets not yet stored that the batch still has (a session moved or removed meanwhile has none)."""
    from .sheets import sheet_keys

    produced = set(job.files.values_list("key", flat=True))
    existing = set(sheet_keys(batch=job.batch))
    return [key for key in job.params["sheets"] if key not in produced and key in existing]


def _pending_report(job: DocumentJob) -> list[str]:
    """The report's one file, unless it is stored already."""
    from .reports import REPORT_KEY

    return [] if job.files.filter(key=REPORT_KEY).exists() else [REPORT_KEY]


def document_job_progress(*, job_id: int) -> None:
    """Count what the job has produced. The job is done when nothing is left to make: everything is there, or
    what is missing no longer exists (a certificate revoked, a session removed while the job ran); the total
    then shrinks to what was made."""
    job = DocumentJob.objects.select_related("batch").get(pk=job_id)
    if job.kind == DocumentJob.Kind.CERTIFICATES:
        produced = (
            Certificate.objects.filter(enrollment_id__in=job.params["enrollments"], revoked_at__isnull=True)
            .exclude(pdf="")
            .count()
        )
        left = bool(_pending_certificates(job))
    elif job.kind == DocumentJob.Kind.REPORT:
        produced = job.files.count()
        left = bool(_pending_report(job))
    else:
        produced = job.files.count()
        left = bool(_pending_sheets(job))
    running = DocumentJob.objects.filter(pk=job_id, status=DocumentJob.Status.RUNNING)
    now = timezone.now()
    if not left:
        running.update(
            status=DocumentJob.Status.DONE,
            done=min(produced, job.total),
            total=min(produced, job.total),
            finished_at=now,
            progressed_at=now,
            error="",
        )
    else:
        # Two chunks finishing at once: the higher count stands.
        running.update(done=Greatest(F("done"), Value(min(produced, job.total))), progressed_at=now)


def _store_document(job: DocumentJob, *, key: str, title: str, data: bytes) -> bool:
    """Store one file of a job once: the row (unique per job and key) is the claim; a run that finds it taken
    (another run stored this file first) writes nothing."""
    name = f"documents/{job.batch_id}/{job.pk}/{key}.pdf"

    def claim() -> bool:
        try:
            with transaction.atomic():
                DocumentFile.objects.create(
                    job=job, key=key, title=title, file=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
                )
        except IntegrityError:
            return False
        return True

    return _store_claimed(name, data, claim=claim)


def document_job_render_certificates(*, job_id: int, certificate_ids) -> None:
    if not DocumentJob.objects.filter(pk=job_id, status=DocumentJob.Status.RUNNING).exists():
        return
    certificates_render(certificate_ids=certificate_ids)
    document_job_progress(job_id=job_id)


def document_job_render_sheets(*, job_id: int, keys) -> None:
    from .sheets import attendance_sheets, render_attendance_sheet

    job = DocumentJob.objects.select_related("batch").filter(pk=job_id, status=DocumentJob.Status.RUNNING).first()
    if job is None:
        return
    produced = set(job.files.values_list("key", flat=True))
    for sheet in attendance_sheets(batch=job.batch, keys=[key for key in keys if key not in produced]):
        _store_document(job, key=sheet["key"], title=sheet["title"], data=render_attendance_sheet(sheet))
        document_job_progress(job_id=job_id)
    document_job_progress(job_id=job_id)


def document_job_render_report(*, job_id: int) -> None:
    """Render and store the batch report of a running job, once: a second run (or a second worker) finds the
    file there, or loses the unique claim on it and drops its copy."""
    from .reports import REPORT_KEY, batch_report, render_batch_report

    job = DocumentJob.objects.select_related("batch").filter(pk=job_id, status=DocumentJob.Status.RUNNING).first()
    if job is None:
        return
    if not job.files.filter(key=REPORT_KEY).exists():
        report = batch_report(batch=job.batch)
        _store_document(job, key=REPORT_KEY, title=report["title"], data=render_batch_report(report))
    document_job_progress(job_id=job_id)


def document_job_fail(*, job_id: int, error: str) -> None:
    """Record why a job stopped (a text for the staff, in Indonesian); what it produced so far stays."""
    DocumentJob.objects.filter(pk=job_id, status__in=[DocumentJob.Status.QUEUED, DocumentJob.Status.RUNNING]).update(
        status=DocumentJob.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


@transaction.atomic
def document_job_retry(*, actor, job: DocumentJob) -> DocumentJob:
    """Run a failed or stalled job again; the files it already produced are kept and not made again."""
    job = DocumentJob.objects.select_for_update().select_related("batch").get(pk=job.pk)
    _check_staff(actor, job.batch)
    if not (job.status == DocumentJob.Status.FAILED or job.is_stalled):
        raise ValidationError(_("Only a failed or stalled job can be run again."))
    job.status = DocumentJob.Status.QUEUED
    job.error = ""
    job.finished_at = None
    job.progressed_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at", "progressed_at"])
    _enqueue_run(job)
    return job
