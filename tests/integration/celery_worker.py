"""A real Celery worker for the integration tests: a `celery worker` subprocess on the suite's test database,
Redis and media folder, in its own process group so a test can stop it cleanly or kill it as a crash would.
Every wait is bounded; on a timeout the worker's log is part of the failure message."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app

QUEUES = ("documents", "celery")


def database_url() -> str:
    """The URL of the database this process uses now: inside a test, the test database."""
    db = connection.settings_dict
    auth = urllib.parse.quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + urllib.parse.quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_broker() -> None:
    """Empty our queues and forget unacknowledged deliveries, so nothing leaks from one test into the next. Only
    called while no worker of ours runs."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            channel.queue_purge(queue)
        channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def broker_idle() -> bool:
    """No message waiting in our queues and none taken but not yet acknowledged (tasks acknowledge late, so a
    task still running counts)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        client = channel.client
        waiting = sum(client.llen(queue) for queue in QUEUES)
        return waiting == 0 and client.hlen(channel.unacked_key) == 0


class Worker:
    """`celery -A config worker` on the documents and default queues. `start()` returns once it answers a
    ping; `stop()` shuts it down warmly (SIGTERM, then SIGKILL); `kill()` kills its whole process group at once,
    leaving its unacknowledged messages in Redis as a lost machine would."""

    def __init__(self, *, log_dir: Path, concurrency: int = 1, env: dict | None = None, loglevel: str = "warning"):
        self.concurrency = concurrency
        self.loglevel = loglevel
        self.extra_env = env or {}
        self.name = f"test-{uuid.uuid4().hex[:10]}@{socket.gethostname()}"
        self.log_path = Path(log_dir) / f"{self.name.split('@')[0]}.log"
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SINERGI_TESTING": "1",
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def start(self, timeout: float = 60) -> "Worker":
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(QUEUES),
            "--concurrency",
            str(self.concurrency),
            "--pool",
            "prefork",
            "-l",
            self.loglevel,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            self.name,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
                command,
                cwd=settings.BASE_DIR,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so killpg reaches the pool children too
            )
        wait_until(self._answers_ping, timeout=timeout, what=f"worker {self.name} to start", worker=self)
        return self

    def _answers_ping(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}\n{self.log_tail()}")
        return bool(app.control.ping(destination=[self.name], timeout=0.5))

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signum)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no worker log)"
        return f"--- {self.log_path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, worker=None, interval: float = 0.2):
    """Poll `condition` until it returns something true, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            workers = worker if isinstance(worker, list | tuple) else [worker] if worker else []
            logs = "\n".join(w.log_tail() for w in workers)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(interval)
