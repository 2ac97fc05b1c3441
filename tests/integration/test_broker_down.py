"""The job queue (Redis) down when a job is started, or while it hands out its tasks: the broker is a real Redis
address where nothing listens (connection refused), or a server that takes the connection and never answers (a
hung Redis), or a broker folder that cannot be written; tasks are not run in-process. The job is recorded as
failed with one message that says what happened and what to do, within seconds, and the page shows that message
only, not the note that the job started."""

import contextlib
import os
import signal
import time

import pytest
from django.urls import reverse

from certificates import services, tasks
from certificates.models import DocumentJob
from config.celery import app
from config.tasks import QUEUE_UNREACHABLE
from participants.models import RegistryUpload
from tests.certificates.test_services import finished_batch
from tests.factories import StaffFactory
from tests.outages import closed_port, hung_server

# Real commits: the job is queued when the service's transaction commits, before the view answers, as in production.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

STARTED_NOTES = ("Sertifikat sedang diterbitkan", "Pekerjaan dijalankan ulang", "Impor telah dimulai")


def _reset_connections():
    # The app keeps a connection pool and a producer pool for the broker URL it first used.
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_at(settings, url: str, **transport_options):
    """Tasks go to the broker at `url` (not run in-process), with the transport options of config/settings.py
    and `transport_options` on top."""
    previous = (app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options)
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    app.conf.broker_transport_options = {**previous[2], **transport_options}
    _reset_connections()
    try:
        yield url
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options = previous
        _reset_connections()


@pytest.fixture
def broker_unreachable(settings):
    with broker_at(settings, f"redis://127.0.0.1:{closed_port()}/0") as url:
        yield url


@pytest.fixture
def broker_hung(settings):
    with hung_server() as port, broker_at(settings, f"redis://127.0.0.1:{port}/0") as url:
        yield url


@pytest.fixture
def broker_folder_unwritable(settings):
    folder = os.path.join(os.devnull, "queue")  # /dev/null is not a directory: writing there is an OSError
    with broker_at(settings, "filesystem://localhost//", data_folder_in=folder, data_folder_out=folder) as url:
        yield url


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")


def page_text(response) -> str:
    return response.content.decode()


def assert_one_message(response):
    text = page_text(response)
    message = str(QUEUE_UNREACHABLE)
    assert "antrean pekerjaan (Redis) tidak dapat dihubungi" in message  # the interface's language
    assert text.count(message) == 1, text
    for note in STARTED_NOTES:
        assert note not in text


def test_a_certificate_job_started_with_the_queue_down_fails_with_one_clear_message(client, staff, broker_unreachable):
    batch = finished_batch(staff, participants=2)
    client.force_login(staff)
    response = client.post(reverse("certificates:batch_issue", args=[batch.pk]), follow=True)

    job = DocumentJob.objects.get(batch=batch)
    assert (job.status, job.error) == (DocumentJob.Status.FAILED, str(QUEUE_UNREACHABLE))
    assert response.redirect_chain[-1][0] == reverse("certificates:job_detail", args=[job.pk])
    assert_one_message(response)


def test_running_a_job_again_with_the_queue_still_down_says_so_once(client, staff, broker_unreachable):
    batch = finished_batch(staff, participants=1)
    job = DocumentJob.objects.create(
        organiser=staff.organiser,
        batch=batch,
        kind=DocumentJob.Kind.REPORT,
        title="Laporan",
        params={},
        total=1,
        created_by=staff,
        status=DocumentJob.Status.FAILED,
        error="sebelumnya",
    )
    client.force_login(staff)
    response = client.post(reverse("certificates:job_retry", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert (job.status, job.error) == (DocumentJob.Status.FAILED, str(QUEUE_UNREACHABLE))
    assert_one_message(response)


def test_a_registry_import_confirmed_with_the_queue_down_fails_with_one_clear_message(
    client, staff, broker_unreachable
):
    upload = RegistryUpload.objects.create(
        uploaded_by=staff,
        organiser=staff.organiser,
        original_name="daftar.xlsx",
        file="registry/daftar.xlsx",
        status=RegistryUpload.Status.CHECKED,
        rows_total=1,
        rows_valid=1,
        report={"valid_rows": [2], "rows_with_problems": 0},
    )
    client.force_login(staff)
    response = client.post(reverse("participants:registry_confirm", args=[upload.pk]), follow=True)

    upload.refresh_from_db()
    assert (upload.status, upload.error) == (RegistryUpload.Status.FAILED, str(QUEUE_UNREACHABLE))
    assert_one_message(response)


def test_a_job_whose_queue_goes_away_while_it_hands_out_its_chunks_says_so(staff, broker_unreachable):
    """The first task ran (here, in this process) but the queue is gone when it sends the rendering tasks."""
    batch = finished_batch(staff, participants=2)
    job = services.document_job_certificates(actor=staff, batch=batch)  # fails at once: the queue is down
    DocumentJob.objects.filter(pk=job.pk).update(status=DocumentJob.Status.QUEUED, error="")

    tasks.document_job_run.apply(args=[job.pk])

    job.refresh_from_db()
    assert (job.status, job.error) == (DocumentJob.Status.FAILED, str(QUEUE_UNREACHABLE))


# A request waits for the broker before it answers; gunicorn kills a worker after 30 s (its default timeout).
HUNG_BROKER_BOUND = 15


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail the test, rather than hang the suite, when the block is still running after `seconds`."""

    def expire(signum, frame):
        raise AssertionError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_job_started_while_the_queue_hangs_fails_within_seconds_with_the_same_message(client, staff, broker_hung):
    """Redis takes the connection and never answers: the broker's socket timeouts and short publish retries end
    the wait, and the job takes the path of a queue that refuses the connection."""
    batch = finished_batch(staff, participants=1)
    client.force_login(staff)

    started = time.monotonic()
    with deadline(HUNG_BROKER_BOUND + 5):
        response = client.post(reverse("certificates:batch_issue", args=[batch.pk]), follow=True)
    elapsed = time.monotonic() - started

    assert elapsed < HUNG_BROKER_BOUND, f"the request waited {elapsed:.1f} s for a hung queue"
    job = DocumentJob.objects.get(batch=batch)
    assert (job.status, job.error) == (DocumentJob.Status.FAILED, str(QUEUE_UNREACHABLE))
    assert_one_message(response)


def test_a_job_started_when_the_broker_folder_cannot_be_written_fails_with_the_same_message(
    client, staff, broker_folder_unwritable
):
    batch = finished_batch(staff, participants=1)
    client.force_login(staff)
    response = client.post(reverse("certificates:batch_issue", args=[batch.pk]), follow=True)

    job = DocumentJob.objects.get(batch=batch)
    assert (job.status, job.error) == (DocumentJob.Status.FAILED, str(QUEUE_UNREACHABLE))
    assert_one_message(response)
