"""The job queue (Redis) down when a job is started, or while it hands out its tasks: the broker is a real Redis
address where nothing listens (connection refused), tasks are not run in-process. The job is recorded as failed
with one message that says what happened and what to do, and the page shows that message only, not the note that
the job started."""

import socket

import pytest
from django.urls import reverse

from certificates import services, tasks
from certificates.models import DocumentJob
from config.celery import app
from config.tasks import QUEUE_UNREACHABLE
from participants.models import RegistryUpload
from tests.certificates.test_services import finished_batch
from tests.factories import StaffFactory

# Real commits: the job is queued when the service's transaction commits, before the view answers, as in production.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

STARTED_NOTES = ("Sertifikat sedang diterbitkan", "Pekerjaan dijalankan ulang", "Impor telah dimulai")


def closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _reset_connections():
    # The app keeps a connection pool and a producer pool for the broker URL it first used.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_unreachable(settings):
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    _reset_connections()
    yield url
    app.conf.broker_url, app.conf.task_always_eager = previous
    _reset_connections()


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
