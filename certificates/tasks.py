"""Celery tasks for documents. Thin wrappers: they take primary keys and call a service. All run on the
`documents` queue, acknowledge late (a worker lost mid-task leaves the message to another one), and retry
transient errors (database or broker connection) with backoff; any other error, or the last failed retry,
marks the job failed with its reason, and the page offers to run it again."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerError

from config.tasks import QUEUE_UNREACHABLE, TrackedTask

from . import services


class DocumentTask(TrackedTask):
    """Marks the document job (the first argument) failed when the task gives up."""

    record_argument = "job_id"

    def record_failure(self, record_id, exc):
        services.document_job_fail(job_id=record_id, error=failure_message(exc))


def failure_message(exc: BaseException) -> str:
    """What the staff read on the job's page: a broken rule as it was worded, anything else as a short note (the
    details are in the worker's log)."""
    with translation.override(settings.LANGUAGE_CODE):
        if isinstance(exc, ValidationError):
            return "; ".join(exc.messages)
        if isinstance(exc, SoftTimeLimitExceeded):
            return _("The job took too long and was stopped; run it again.")
        if isinstance(exc, BrokerError):  # the queue went away while the job was handing out its next tasks
            return str(QUEUE_UNREACHABLE)
        return _("The documents could not be made (%(error)s); run the job again or ask the administrator.") % {
            "error": type(exc).__name__
        }


@shared_task(base=DocumentTask, bind=True, queue="documents")
def document_job_run(self, job_id: int) -> int:
    """Number what needs numbers, then hand the rendering out in chunks, one task each, so that every worker
    process on every machine can take a share."""
    chunks = services.document_job_run(job_id=job_id)
    from .models import DocumentJob

    kind = DocumentJob.objects.values_list("kind", flat=True).get(pk=job_id)
    if kind == DocumentJob.Kind.REPORT:
        for _chunk in chunks:  # one file, one task
            render_batch_report.delay(job_id)
        return len(chunks)
    task = render_certificates if kind == DocumentJob.Kind.CERTIFICATES else render_attendance_sheets
    for chunk in chunks:
        task.delay(job_id, chunk)
    return len(chunks)


@shared_task(base=DocumentTask, bind=True, queue="documents")
def render_certificates(self, job_id: int, certificate_ids: list[int]) -> None:
    services.document_job_render_certificates(job_id=job_id, certificate_ids=certificate_ids)


@shared_task(base=DocumentTask, bind=True, queue="documents")
def render_attendance_sheets(self, job_id: int, keys: list[str]) -> None:
    services.document_job_render_sheets(job_id=job_id, keys=keys)


@shared_task(base=DocumentTask, bind=True, queue="documents")
def render_batch_report(self, job_id: int) -> None:
    services.document_job_render_report(job_id=job_id)


@shared_task(queue="documents", ignore_result=True)
def media_cleanup() -> dict:
    """Celery beat runs this daily (CELERY_BEAT_SCHEDULE): expired unconfirmed uploads and orphaned files."""
    from .cleanup import media_cleanup as cleanup

    report = cleanup()
    return {"uploads": report.uploads.count, "orphans": len(report.orphans.files)}
