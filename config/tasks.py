"""What every background job's tasks share: late acknowledgement (a worker lost mid-task leaves its message to
another one), retries with backoff for transient errors (the database or the broker out of reach), and, when a
task gives up, the failure recorded on the row that tracks its job, so that its page can say why. Also how a
job is queued: on commit, and with one message for the staff when the queue (Redis, or the broker folder) cannot
take it."""

import logging
from collections.abc import Callable

from celery import Task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
# What sending a message raises when the queue cannot take it: kombu's error once its retries are spent (Redis
# refused, or timed out), Redis's own errors, and OSError (the folder broker's folder cannot be written).
QUEUE_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, OSError)


class TrackedTask(Task):
    """A task whose first argument (or keyword `record_argument`) is the id of the row tracking its job;
    subclasses say how a failure is recorded there."""

    abstract = True
    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 5
    acks_late = True
    record_argument = ""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        record_id = kwargs.get(self.record_argument, args[0] if args else None)
        if record_id is not None:
            # The kind of error only: a message may quote personal data, which never goes to a log.
            logger.error("%s %s failed: %s", self.name, record_id, type(exc).__name__)
            self.record_failure(record_id, exc)

    def record_failure(self, record_id: int, exc: BaseException) -> None:
        raise NotImplementedError


# What the staff read on the job's page when it could not be queued; the page shows nothing else.
QUEUE_UNREACHABLE = _(
    "The job did not start: the job queue (Redis) cannot be reached. Try again in a moment; if it still does not "
    "start, tell the administrator that the job queue (Redis) is not reachable."
)


def enqueue_on_commit(task, record_id: int, *, on_unreachable: Callable[[int, str], None]) -> None:
    """Send `task(record_id)` once the transaction commits. A broker that cannot be reached, hangs (its timeouts
    in config/settings.py end the wait within seconds) or cannot be written does not break the request:
    `on_unreachable(record_id, message)` records the failure on the job's row, with the message in the
    interface's default language."""

    def send():
        try:
            task.delay(record_id)
        except QUEUE_ERRORS as exc:
            logger.error("%s %s could not be queued: %s", task.name, record_id, type(exc).__name__)
            with translation.override(settings.LANGUAGE_CODE):
                on_unreachable(record_id, str(QUEUE_UNREACHABLE))

    transaction.on_commit(send)
