"""A real web server for the integration tests: `gunicorn config.wsgi` as a subprocess on a free port, in its
own process group, configured only through the environment it is given. Every wait is bounded; on a timeout its
log is part of the failure message."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from django.conf import settings

from tests.outages import closed_port as free_port  # a port nothing listens on yet, for a server to bind

from .celery_worker import wait_until

__all__ = ["WebServer", "free_port"]


class WebServer:
    """`gunicorn config.wsgi` on a port of its own, in its own process group."""

    def __init__(self, *, log_dir: Path, env: dict):
        self.port = free_port()
        self.env = env
        self.log_path = Path(log_dir) / f"gunicorn-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 60) -> "WebServer":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy, timeout=timeout, what=f"gunicorn on port {self.port} to answer", worker=self)
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}\n{self.log_tail()}")
        try:
            return requests.get(self.url("/healthz"), timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still loading the site
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no gunicorn log)"
        return f"--- {self.log_path.name} ---\n" + "\n".join(text.splitlines()[-lines:])
