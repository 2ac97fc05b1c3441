"""Certificate jobs in-process (no broker): numbering, rendering, progress, frozen files, failure and retry."""

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from certificates import services
from certificates.models import Certificate, DocumentJob
from tests.certificates.test_services import finished_batch
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")


def test_job_numbers_and_renders_every_eligible_participant(staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=6, attended=5)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_certificates(actor=staff, batch=batch)
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.error) == (DocumentJob.Status.DONE, 5, 5, "")
    certificates = list(Certificate.objects.filter(enrollment__batch=batch).order_by("seq"))
    assert [c.seq for c in certificates] == [1, 2, 3, 4, 5]
    for certificate in certificates:
        with default_storage.open(certificate.pdf.name, "rb") as handle:
            data = handle.read()
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == certificate.sha256


def test_running_a_job_again_changes_nothing(staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=3)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_certificates(actor=staff, batch=batch)
    before = {c.pk: (c.number, c.pdf.name, c.sha256) for c in Certificate.objects.all()}
    DocumentJob.objects.filter(pk=job.pk).update(status=DocumentJob.Status.RUNNING)
    assert services.document_job_run(job_id=job.pk) == []
    with django_capture_on_commit_callbacks(execute=True):
        services.document_job_certificates(actor=staff, batch=batch)
    after = {c.pk: (c.number, c.pdf.name, c.sha256) for c in Certificate.objects.all()}
    assert after == before


def test_below_the_pass_rule_needs_a_reason(staff):
    batch = finished_batch(staff, participants=2, attended=1)
    below = batch.enrollments.order_by("person__full_name").last()
    with pytest.raises(ValidationError):
        services.document_job_certificates(actor=staff, batch=batch, enrollments=[below])
    job = services.document_job_certificates(
        actor=staff, batch=batch, enrollments=[below], included_reasons={below.pk: "sakit, dirawat di RS"}
    )
    assert job.params["reasons"] == {str(below.pk): "sakit, dirawat di RS"}
