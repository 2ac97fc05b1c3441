"""Fixtures of the integration tests: real Celery workers (subprocesses on the test database and Redis), and a
real S3-compatible server — moto's standalone server, started once per run as a subprocess on a free port — with
a fresh bucket per test that the media storage of this process points at. Workers and web servers started by a
test reach the same bucket through the environment variables production uses (`Bucket.env()`)."""

import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import boto3
import pytest
from django.conf import settings
from django.test import override_settings

from certificates import rendering
from tests.factories import StaffFactory

from .celery_worker import Worker, purge_broker, wait_until
from .web_server import free_port

# moto accepts any credentials; the region only has to be the same on both sides of the signature.
S3_ACCESS_KEY = "sinergi-test"
S3_SECRET_KEY = "sinergi-test-secret"
S3_REGION = "ap-southeast-3"  # Jakarta


@pytest.fixture
def start_worker(transactional_db, postgres_required, redis_required, tmp_path):
    """Start real workers with `start_worker(concurrency=…, env={…})`; all are stopped and the queues emptied
    at the end, whatever happened."""
    purge_broker()
    workers = []

    def start(*, concurrency: int = 1, env: dict | None = None, loglevel: str = "warning") -> Worker:
        worker = Worker(log_dir=tmp_path, concurrency=concurrency, env=env, loglevel=loglevel)
        workers.append(worker)
        return worker.start()

    start.workers = workers
    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        purge_broker()


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")


@pytest.fixture
def no_rendering_here(monkeypatch):
    """Rendering in the test process fails the test: the PDFs must come from the worker."""

    def refuse(*args, **kwargs):
        raise AssertionError("rendered in the test process")

    monkeypatch.setattr(rendering, "html_to_pdf", refuse)


def _s3_answers(endpoint: str, process: subprocess.Popen, log_path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"the S3 server exited with {process.returncode}\n{log_path.read_text(errors='replace')}")
    try:
        urllib.request.urlopen(endpoint + "/", timeout=1).close()  # noqa: S310 - our own server on loopback
    except urllib.error.HTTPError:
        return True  # it answers, if only to say that an anonymous request may not list buckets
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of moto's S3 server, running in its own process for the whole run. moto is a dev
    dependency: without it the tests that need it fail (they are never skipped)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("s3") / "moto.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _s3_answers(endpoint, process, log_path), timeout=60, what="the S3 server to start")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Bucket:
    name: str
    endpoint: str
    client: object

    def env(self) -> dict:
        """The variables that point a worker or a web server at this bucket, as in production."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_DEFAULT_REGION": S3_REGION,
        }

    def object_names(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {item["Key"] for page in pages for item in page.get("Contents", ())}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture
def s3_bucket(s3_server):
    """A new, empty bucket on the S3 server; for the length of the test this process's default storage is
    django-storages' S3Storage on it, with the options config/settings.py sets when AWS_STORAGE_BUCKET_NAME is
    given."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name=S3_REGION,
    )
    name = f"sinergi-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    storage = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    with override_settings(
        STORAGES=storage,
        AWS_STORAGE_BUCKET_NAME=name,
        AWS_S3_ENDPOINT_URL=s3_server,
        AWS_S3_ACCESS_KEY_ID=S3_ACCESS_KEY,
        AWS_S3_SECRET_ACCESS_KEY=S3_SECRET_KEY,
        AWS_S3_REGION_NAME=S3_REGION,
        AWS_DEFAULT_ACL=None,
        AWS_QUERYSTRING_AUTH=True,
        AWS_S3_FILE_OVERWRITE=False,
    ):
        yield Bucket(name=name, endpoint=s3_server, client=client)
