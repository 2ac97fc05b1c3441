"""What every background job's tasks share: late acknowledgement (a worker lost mid-task leaves its message to
another one), retries with backoff for transient errors (the database or the broker out of reach), and, when a
task gives up, the failure recorded on the row that tracks its job, so that its page can say why."""

import logging

from celery import Task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


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
