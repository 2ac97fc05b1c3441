"""Scale-out as production runs it: two gunicorn web servers and two Celery workers, each its own process, on one
PostgreSQL database, one Redis and one S3 bucket, all configured through environment variables only. Staff log in
on the first web server and start a certificate job; both workers render chunks of it; the second web server
shows it finished and serves the ZIP and a certificate with the bytes that are in the bucket."""

import io
import os
import re
import urllib.parse
import zipfile
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.urls import resolve, reverse

from certificates.views import certificate_filename
from tests.certificates.test_services import finished_batch
from tests.factories import PASSWORD

from .celery_worker import database_url, wait_until
from .test_documents_worker import certificates_of, wait_for_idle
from .web_server import WebServer

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PARTICIPANTS = 40
CHUNK_SIZE = 5  # 8 chunks: enough for both workers to take some
JOB_TIMEOUT = 240
RENDERED_A_CHUNK = re.compile(r"Task certificates\.tasks\.render_certificates\[[0-9a-f-]+\] succeeded")


@pytest.fixture
def environment(s3_bucket, tmp_path):
    """What every process of the site gets, as production sets it: the same database, Redis, bucket and secret
    key (sessions started on one web server are valid on the other)."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SINERGI_TESTING": "1",  # plain HTTP on loopback, as for the test suite
        "DEBUG": "0",
        "SECRET_KEY": "topology-test-secret-key-shared-by-every-process",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SINERGI_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATABASE_URL": database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "DOCUMENT_CHUNK_SIZE": str(CHUNK_SIZE),
        "LOG_LEVEL": "WARNING",
        **s3_bucket.env(),
    }


@pytest.fixture
def start_web_server(environment, tmp_path):
    servers = []

    def start() -> WebServer:
        server = WebServer(log_dir=tmp_path, env=environment)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def log_in(session: requests.Session, server: WebServer, username: str) -> None:
    login = server.url(reverse("accounts:login"))
    session.get(login, timeout=10).raise_for_status()
    response = session.post(
        login,
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, f"login refused ({response.status_code})\n{server.log_tail()}"


def rendered_chunks(worker) -> int:
    return len(RENDERED_A_CHUNK.findall(worker.log_path.read_text(errors="replace")))


def test_a_job_started_on_one_web_server_is_rendered_by_two_workers_and_served_by_the_other(
    start_worker, start_web_server, environment, s3_bucket, staff, no_rendering_here
):
    batch = finished_batch(staff, participants=PARTICIPANTS)
    # Workers log each task they finish ("-l info"): which one rendered which chunk, from their own logs.
    workers = [start_worker(env=environment, loglevel="info") for _ in range(2)]
    first, second = start_web_server(), start_web_server()
    browser = requests.Session()
    log_in(browser, first, staff.username)

    browser.get(first.url(reverse("certificates:batch_documents", args=[batch.pk])), timeout=10).raise_for_status()
    response = browser.post(
        first.url(reverse("certificates:batch_issue", args=[batch.pk])),
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, first.log_tail()
    job_pk = resolve(urllib.parse.urlsplit(response.headers["Location"]).path).kwargs["pk"]

    # The second web server reports the progress the workers write to the shared database.
    progress = second.url(reverse("certificates:job_progress", args=[job_pk]))

    def finished() -> bool:
        page = browser.get(progress, timeout=10)
        page.raise_for_status()
        status = re.search(r'id="job-status" data-status="(\w+)"', page.text)[1]
        if status == "failed":
            raise AssertionError("the job failed: " + page.text)
        return status == "done"

    wait_until(finished, timeout=JOB_TIMEOUT, what=f"job {job_pk} to be done", worker=workers)
    wait_for_idle(workers)

    chunks = [rendered_chunks(worker) for worker in workers]
    assert sum(chunks) == PARTICIPANTS // CHUNK_SIZE, chunks
    assert all(chunks), f"one worker rendered nothing: {chunks}"

    certificates = certificates_of(batch)
    assert len(certificates) == PARTICIPANTS
    assert s3_bucket.object_names() == {c.pdf.name for c in certificates}

    response = browser.get(second.url(reverse("certificates:batch_zip", args=[batch.pk])), timeout=60)
    assert response.status_code == 200, second.log_tail()
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert members == {certificate_filename(c): s3_bucket.read(c.pdf.name) for c in certificates}

    last = certificates[-1]
    response = browser.get(second.url(reverse("certificates:certificate_download", args=[last.pk])), timeout=30)
    assert response.status_code == 200
    assert response.content == s3_bucket.read(last.pdf.name)
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []
