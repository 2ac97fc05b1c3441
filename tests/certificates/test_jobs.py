"""Certificate jobs in-process (no broker): numbering, rendering, progress, frozen files, failure and retry."""

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from certificates import services
from certificates.models import Certificate, DocumentJob
from tests.certificates.test_services import finished_batch
from tests.factories import StaffFactory
from tests.outages import cache_down

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
    with pytest.raises(ValidationError, match="belum memenuhi syarat kelulusan"):
        services.document_job_certificates(actor=staff, batch=batch, enrollments=[below])
    job = services.document_job_certificates(
        actor=staff, batch=batch, enrollments=[below], included_reasons={below.pk: "sakit, dirawat di RS"}
    )
    assert job.params["reasons"] == {str(below.pk): "sakit, dirawat di RS"}


def test_a_stalled_job_can_be_run_again_and_keeps_what_it_made(staff, settings, django_capture_on_commit_callbacks):
    """A job whose worker was lost (no progress for longer than a task may take) is offered again; one that is
    still making progress is not."""
    from datetime import timedelta

    from django.utils import timezone

    batch = finished_batch(staff, participants=4)
    job = services.document_job_certificates(actor=staff, batch=batch)  # queued; its task never ran
    services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()))
    first = Certificate.objects.order_by("seq").first()
    services.certificates_render(certificate_ids=[first.pk])
    kept = (first.pk, first.number)
    DocumentJob.objects.filter(pk=job.pk).update(status=DocumentJob.Status.RUNNING, progressed_at=timezone.now())
    job.refresh_from_db()
    assert not job.is_stalled
    with pytest.raises(ValidationError, match="Hanya pekerjaan yang gagal atau macet"):
        services.document_job_retry(actor=staff, job=job)
    late = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    DocumentJob.objects.filter(pk=job.pk).update(progressed_at=late)
    job.refresh_from_db()
    assert job.is_stalled
    with django_capture_on_commit_callbacks(execute=True):
        services.document_job_retry(actor=staff, job=job)
    job.refresh_from_db()
    first.refresh_from_db()
    assert (job.status, job.done) == (DocumentJob.Status.DONE, 4)
    assert (first.pk, first.number) == kept and first.pdf.name
    assert sorted(Certificate.objects.values_list("seq", flat=True)) == [1, 2, 3, 4]


def test_issuing_again_never_brings_back_a_revoked_certificate(staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_job_certificates(actor=staff, batch=batch)
    revoked = Certificate.objects.order_by("seq").first()
    services.certificate_revoke(actor=staff, certificate=revoked, reason="salah tulis nama")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_certificates(actor=staff, batch=batch)
    job.refresh_from_db()
    assert revoked.enrollment_id not in job.params["enrollments"]
    assert (job.status, job.total, job.done) == (DocumentJob.Status.DONE, 2, 2)
    assert not Certificate.objects.filter(enrollment=revoked.enrollment, revoked_at__isnull=True).exists()
    assert services.certificates_issue(actor=staff, batch=batch, enrollments=[revoked.enrollment]) == []
    new = services.certificate_reissue(actor=staff, certificate=revoked)
    assert new.seq == 4 and new.enrollment_id == revoked.enrollment_id


def test_a_certificate_revoked_while_its_job_runs_does_not_keep_the_job_running(staff):
    batch = finished_batch(staff, participants=3)
    job = services.document_job_certificates(actor=staff, batch=batch)  # queued; its task runs below
    chunks = services.document_job_run(job_id=job.pk)
    assert [len(chunk) for chunk in chunks] == [3]
    first = Certificate.objects.order_by("seq").first()
    services.certificate_revoke(actor=staff, certificate=first, reason="ganda")
    services.document_job_render_certificates(job_id=job.pk, certificate_ids=chunks[0])
    job.refresh_from_db()
    first.refresh_from_db()
    assert (job.status, job.done, job.total) == (DocumentJob.Status.DONE, 2, 2)
    assert not first.pdf  # a revoked certificate is not printed any more


REPEATS = "harus memuat"  # the format would give two certificates the same number, or a number too long
BREAKS = "Gunakan hanya"  # the format cannot be filled in at all


@pytest.mark.parametrize(
    ("number_format", "rule"),
    [
        ("{seq}", REPEATS),
        ("{seq}/{code}", REPEATS),
        ("{seq}/{year}", REPEATS),
        ("{{seq}}/{code}/{year}", REPEATS),
        ("{seq[0]}/{code}/{year}", BREAKS),
        ("{sequence}", BREAKS),
        ("{", BREAKS),
    ],
)
def test_number_formats_that_would_repeat_or_break_are_refused(number_format, rule):
    from certificates.models import validate_number_format

    with pytest.raises(ValidationError, match=rule):
        validate_number_format(number_format)


@pytest.mark.parametrize("number_format", ["{seq:03d}/{code}/{month}/{year}", "STTP-{seq:05d}/{code}/{year}"])
def test_number_formats_with_sequence_organiser_and_year_are_accepted(number_format):
    from certificates.models import validate_number_format

    validate_number_format(number_format)


def stored_files() -> list[str]:
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_a_file_left_by_a_run_killed_before_its_commit_is_overwritten_not_kept_beside(staff):
    """A worker killed between writing a PDF and committing its row leaves the file; the retry writes the same
    name again instead of adding a second copy."""
    from django.core.files.base import ContentFile

    batch = finished_batch(staff, participants=2)
    certificates = services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()))
    leftover = services.certificate_pdf_name(certificates[0])
    assert default_storage.save(leftover, ContentFile(b"half written")) == leftover

    assert services.certificates_render(certificate_ids=[c.pk for c in certificates]) == 2

    rows = list(Certificate.objects.order_by("seq"))
    assert stored_files() == sorted(c.pdf.name for c in rows)
    assert rows[0].pdf.name == leftover
    with default_storage.open(leftover, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == rows[0].sha256


def test_a_chunk_whose_storage_fails_midway_leaves_no_file_and_no_claim(staff, monkeypatch):
    """The storage (a full disk, an S3 error) fails after part of the file was written: the claim rolls back
    and the part is removed; the retry then stores every certificate once."""
    from django.core.files.storage import FileSystemStorage

    batch = finished_batch(staff, participants=3)
    certificates = services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()))
    real_save = FileSystemStorage._save
    calls = []

    def save_then_fail(self, name, content):
        calls.append(name)
        written = real_save(self, name, content)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return written

    monkeypatch.setattr(FileSystemStorage, "_save", save_then_fail)
    with pytest.raises(OSError, match="No space left"):
        services.certificates_render(certificate_ids=[c.pk for c in certificates])
    rows = list(Certificate.objects.order_by("seq"))
    assert [bool(c.pdf) for c in rows] == [True, False, False]
    assert stored_files() == [rows[0].pdf.name]

    monkeypatch.setattr(FileSystemStorage, "_save", real_save)
    assert services.certificates_render(certificate_ids=[c.pk for c in certificates]) == 2
    rows = list(Certificate.objects.order_by("seq"))
    assert stored_files() == sorted(c.pdf.name for c in rows) and all(c.pdf for c in rows)


def test_attendance_sheets_and_reports_are_stored_under_one_name_per_file(staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=2)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_attendance_sheets(actor=staff, batch=batch)
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.DONE
    names = sorted(job.files.values_list("file", flat=True))
    assert names == sorted(f"documents/{batch.pk}/{job.pk}/{key}.pdf" for key in job.params["sheets"])
    assert stored_files() == names


def test_a_job_renders_its_certificates_when_the_cache_is_down(staff, django_capture_on_commit_callbacks):
    """The cache only keeps the batch's shared pages between chunks: without it the chunk renders them itself."""
    batch = finished_batch(staff, participants=2)
    with cache_down(), django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_certificates(actor=staff, batch=batch)
    job.refresh_from_db()
    assert (job.status, job.done, job.error) == (DocumentJob.Status.DONE, 2, "")
    assert all(c.pdf for c in Certificate.objects.filter(enrollment__batch=batch))
