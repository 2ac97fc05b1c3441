"""The media clean-up (certificates/cleanup.py, participants/retention.py): unconfirmed uploads past
UPLOAD_RETENTION_HOURS are deleted with their files, files no row points to are deleted once older than
ORPHAN_GRACE_HOURS, and a dry run changes nothing. Storage is reached through Django's storage API only."""

import os
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.utils import timezone

from certificates import cleanup, services
from certificates.models import Certificate
from config.celery import app
from participants.models import NominationUpload, RegistryUpload
from participants.retention import unconfirmed_uploads_delete
from tests.certificates.test_services import finished_batch
from tests.factories import BatchFactory, StaffFactory, region

# Real commits: the files of deleted uploads go once their rows are gone for good, as in production.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

OLD = timedelta(hours=100)  # past both the retention (72 h) and the grace period (24 h) by default


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")


def stored(name: str, *, age: timedelta = OLD) -> str:
    name = default_storage.save(name, ContentFile(b"data"))
    when = (timezone.now() - age).timestamp()
    os.utime(default_storage.path(name), (when, when))
    return name


def media_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def nomination_upload(staff, status=NominationUpload.Status.CHECKED, *, age: timedelta = OLD) -> NominationUpload:
    upload = NominationUpload.objects.create(
        batch=BatchFactory(organiser=staff.organiser),
        kabupaten=region("35.12"),
        file=stored(f"nominations/1/3512/{status}-peserta.xlsx", age=age),
        original_name="peserta.xlsx",
        status=status,
        uploaded_by=staff,
    )
    NominationUpload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - age)
    return upload


def registry_upload(staff, status=RegistryUpload.Status.CHECKED, *, confirmed=False, age=OLD) -> RegistryUpload:
    upload = RegistryUpload.objects.create(
        uploaded_by=staff,
        organiser=staff.organiser,
        original_name="daftar.xlsx",
        file=stored(f"registry/{status}-{confirmed}.xlsx", age=age),
        status=status,
        report={"confirmed": True} if confirmed else {},
    )
    RegistryUpload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - age)
    return upload


@pytest.fixture
def uploads(staff):
    """Three expired unconfirmed uploads (a discarded one among them), and five that stay: young, confirmed, or an
    import asked for."""
    return {
        "expired": [
            nomination_upload(staff),
            nomination_upload(staff, NominationUpload.Status.DISCARDED),
            registry_upload(staff),
        ],
        "kept": [
            nomination_upload(staff, age=timedelta(hours=1)),
            nomination_upload(staff, NominationUpload.Status.DISCARDED, age=timedelta(hours=1)),
            nomination_upload(staff, NominationUpload.Status.CONFIRMED),
            registry_upload(staff, age=timedelta(hours=1)),
            registry_upload(staff, RegistryUpload.Status.FAILED, confirmed=True),
        ],
    }


def exists(upload) -> bool:
    return type(upload).objects.filter(pk=upload.pk).exists()


def test_unconfirmed_uploads_past_their_retention_are_deleted_with_their_files(uploads, settings):
    result = unconfirmed_uploads_delete()

    assert result.count == 3
    for upload in uploads["expired"]:
        assert not exists(upload)
        assert not default_storage.exists(upload.file.name)
    for upload in uploads["kept"]:
        assert exists(upload)
        assert default_storage.exists(upload.file.name)


def test_the_retention_is_the_configured_number_of_hours(uploads, settings):
    settings.UPLOAD_RETENTION_HOURS = 200
    assert unconfirmed_uploads_delete().count == 0
    settings.UPLOAD_RETENTION_HOURS = 72
    assert unconfirmed_uploads_delete().count == 3


def test_files_no_row_points_to_are_deleted_once_past_the_grace_period(
    staff, settings, django_capture_on_commit_callbacks
):
    batch = finished_batch(staff, participants=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_job_certificates(actor=staff, batch=batch)
    certificates = [c.pdf.name for c in Certificate.objects.all()]
    assert len(certificates) == 2
    orphan = stored("certificates/2025/999.pdf")
    orphan_sheet = stored("documents/1/2/day-2025-10-13.pdf")
    young = stored("certificates/2025/1000.pdf", age=timedelta(hours=1))
    outside = stored("elsewhere/notes.txt")  # not a folder the rows point into

    result = cleanup.orphaned_files_delete(now=timezone.now() + timedelta(hours=1))

    assert sorted(result.files) == sorted([orphan, orphan_sheet])
    assert result.too_young == 1
    assert media_files(settings) == sorted([*certificates, young, outside])


def test_a_dry_run_lists_everything_and_changes_nothing(uploads, settings):
    orphan = stored("documents/9/9/report.pdf")
    before = media_files(settings)
    rows = (NominationUpload.objects.count(), RegistryUpload.objects.count())

    report = cleanup.media_cleanup(dry_run=True)

    assert report.uploads.count == 3
    assert report.orphans.files == [orphan]
    assert media_files(settings) == before
    assert (NominationUpload.objects.count(), RegistryUpload.objects.count()) == rows

    report = cleanup.media_cleanup()
    assert (report.uploads.count, report.orphans.files) == (3, [orphan])
    assert len(media_files(settings)) == len(before) - 4


def test_the_command_with_dry_run_reports_and_without_it_deletes(uploads, settings):
    orphan = stored("letters/1/3512/surat.pdf")
    before = media_files(settings)

    out = StringIO()
    call_command("cleanup_media", "--dry-run", stdout=out)
    assert "Would delete 3 unconfirmed uploads older than 72 h" in out.getvalue()
    assert f"  {orphan}" in out.getvalue()
    assert media_files(settings) == before

    out = StringIO()
    call_command("cleanup_media", stdout=out)
    assert "Deleted 3 unconfirmed uploads" in out.getvalue()
    assert "Deleted 1 files no row points to" in out.getvalue()
    assert orphan not in media_files(settings)


def test_celery_beat_runs_the_clean_up_daily(uploads, settings):
    entry = app.conf.beat_schedule["media-cleanup"]
    assert entry["task"] == "certificates.tasks.media_cleanup"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {30})
    result = app.tasks[entry["task"]].delay()  # in-process here, as without a broker
    assert result.get() == {"uploads": 3, "orphans": 0}
    assert not any(exists(upload) for upload in uploads["expired"])


class ClaimedMeanwhile(FileSystemStorage):
    """Media storage in which, while the clean-up walks it, a retry claims a certificate whose old leftover lies
    under that certificate's fixed name: the row points to the file only after the rows were read."""

    def __init__(self, *, claim, **kwargs):
        super().__init__(**kwargs)
        self.claim = claim

    def get_modified_time(self, name):
        self.claim(name)
        return super().get_modified_time(name)


def test_a_file_a_row_takes_while_the_clean_up_runs_is_kept(staff, settings):
    batch = finished_batch(staff, participants=1)
    certificate = services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()))[0]
    leftover = stored(services.certificate_pdf_name(certificate))
    claims = Certificate.objects.filter(pk=certificate.pk, pdf="")
    storage = ClaimedMeanwhile(location=settings.MEDIA_ROOT, claim=lambda name: claims.update(pdf=name))

    result = cleanup.orphaned_files_delete(storage=storage)

    assert result.files == [leftover]  # it was an orphan when the rows were read…
    assert default_storage.exists(leftover)  # …but a row points to it by the time of deleting
