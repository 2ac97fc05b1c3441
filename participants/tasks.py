"""Celery tasks of the registry import. Thin wrappers: they take the upload's id and call participants.registry.
Like the document tasks they run on the `documents` queue, acknowledge late and retry transient errors
(database or broker connection) with backoff; both steps are safe to run again (the check recomputes its
report, the import goes on from the rows it has done). Any other error, or the last failed retry, marks the
upload failed with its reason."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerError

from config.tasks import QUEUE_UNREACHABLE, TrackedTask

from . import registry


class RegistryTask(TrackedTask):
    """Marks the registry upload (the first argument) failed when the task gives up."""

    record_argument = "upload_id"

    def record_failure(self, record_id, exc):
        registry.registry_upload_fail(upload_id=record_id, error=failure_message(exc))


def failure_message(exc: BaseException) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        if isinstance(exc, ValidationError):
            return "; ".join(exc.messages)
        if isinstance(exc, SoftTimeLimitExceeded):
            return _("The job took too long and was stopped; upload the file again in smaller parts.")
        if isinstance(exc, BrokerError):  # the queue went away while the job was handing out its next tasks
            return str(QUEUE_UNREACHABLE)
        return _("The file could not be processed (%(error)s); upload it again or ask the administrator.") % {
            "error": type(exc).__name__
        }


@shared_task(base=RegistryTask, bind=True, queue="documents")
def registry_check(self, upload_id: int) -> None:
    registry.registry_upload_check(upload_id=upload_id)


@shared_task(base=RegistryTask, bind=True, queue="documents")
def registry_import(self, upload_id: int) -> None:
    registry.registry_upload_import(upload_id=upload_id)
