"""Media on S3-compatible storage, against a real S3 server (moto's, see conftest.py): a real worker configured
through the production environment variables renders a batch's certificates into the bucket, with the layout's
image read from it; the staff and participant downloads stream them from it through the views that check
permission, the ZIP and the merged print PDF are built from it, a missing object is a 404, two workers racing on
one chunk leave every certificate its file, the clean-up of unconfirmed uploads and orphaned files works on the
bucket, and nothing is written to the local MEDIA_ROOT."""

import hashlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from certificates import services, tasks
from certificates.cleanup import media_cleanup
from certificates.models import Certificate, CertificateLayout
from certificates.views import certificate_filename
from participants.models import Enrollment, NominationUpload
from tests.certificates.test_services import finished_batch
from tests.factories import BatchFactory, region

from .test_documents_worker import certificates_of, wait_for_done, wait_for_idle

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def local_media_files() -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def streamed(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_storage_of_this_process_is_the_bucket(s3_bucket):
    """Guards the fixture: a file saved through Django's storage API lands in the bucket, not on disk."""
    name = default_storage.save("probe/hello.txt", io.BytesIO(b"halo"))
    assert name in s3_bucket.object_names()
    assert s3_bucket.read(name) == b"halo"
    assert local_media_files() == []


def signature_png() -> bytes:
    """A small image of a size no other picture on a certificate has."""
    buffer = io.BytesIO()
    Image.new("RGB", (123, 45), "#1d4ed8").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_worker_renders_from_and_into_the_bucket_and_the_views_serve_from_it(
    start_worker, s3_bucket, staff, no_rendering_here, client
):
    batch = finished_batch(staff, participants=12)
    # The layout's signature image is in the bucket too: the worker reads it from there.
    layout = CertificateLayout(organiser=staff.organiser)
    layout.signature.save("ttd.png", ContentFile(signature_png()))
    assert layout.signature.name in s3_bucket.object_names()
    worker = start_worker(concurrency=2, env={**s3_bucket.env(), "DOCUMENT_CHUNK_SIZE": "5"})
    job = services.document_job_certificates(actor=staff, batch=batch)
    wait_for_done(job, [worker])
    wait_for_idle([worker])

    certificates = certificates_of(batch)
    assert len(certificates) == 12
    # Exactly one object per certificate, holding the bytes its row's hash names; no stray copies.
    assert s3_bucket.object_names() == {c.pdf.name for c in certificates} | {layout.signature.name}
    for certificate in certificates:
        assert hashlib.sha256(s3_bucket.read(certificate.pdf.name)).hexdigest() == certificate.sha256
    front = pypdf.PdfReader(io.BytesIO(s3_bucket.read(certificates[0].pdf.name))).pages[0]
    assert [image.image.size for image in front.images] == [(123, 45)]
    assert local_media_files() == []

    # Staff: one certificate, then the ZIP and the merged PDF, all read from the bucket.
    client.force_login(staff)
    first = certificates[0]
    response = client.get(reverse("certificates:certificate_download", args=[first.pk]))
    assert response.status_code == 200
    assert streamed(response) == s3_bucket.read(first.pdf.name)

    response = client.get(reverse("certificates:batch_zip", args=[batch.pk]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(streamed(response))) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert members == {certificate_filename(c): s3_bucket.read(c.pdf.name) for c in certificates}

    response = client.get(reverse("certificates:batch_print", args=[batch.pk]))
    assert response.status_code == 200
    merged = pypdf.PdfReader(io.BytesIO(response.content))
    pages = [len(pypdf.PdfReader(io.BytesIO(s3_bucket.read(c.pdf.name))).pages) for c in certificates]
    assert len(merged.pages) == sum(pages)
    assert "Peserta 001" in merged.pages[0].extract_text()
    assert "Peserta 012" in merged.pages[sum(pages[:-1])].extract_text()

    # The participant, after their NIK and access code, on a client of their own.
    client.logout()
    enrollment = Enrollment.objects.select_related("person").get(pk=certificates[-1].enrollment_id)
    response = client.post(
        reverse("certificates:participant_download"),
        {"nik": enrollment.person.nik, "access_code": enrollment.access_code},
    )
    assert response.status_code == 302
    response = client.get(reverse("certificates:participant_certificate", args=[certificates[-1].pk]))
    assert response.status_code == 200
    assert streamed(response) == s3_bucket.read(certificates[-1].pdf.name)
    # Someone else's certificate stays out of reach for them.
    response = client.get(reverse("certificates:participant_certificate", args=[first.pk]))
    assert response.status_code == 404

    # An object gone from the bucket is a 404 for a download, not a server error.
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=first.pdf.name)
    client.force_login(staff)
    assert client.get(reverse("certificates:certificate_download", args=[first.pk])).status_code == 404
    assert local_media_files() == []


def test_two_workers_racing_on_one_chunk_leave_every_certificate_its_object(
    start_worker, s3_bucket, staff, no_rendering_here
):
    """The two worker processes render the same chunk at once; the conditional update lets one copy of each PDF
    win and the loser deletes its own object from the bucket: afterwards the bucket holds exactly the files the
    rows point to, each with the bytes its hash names."""
    batch = finished_batch(staff, participants=10)
    worker = start_worker(concurrency=2, env={**s3_bucket.env(), "DOCUMENT_CHUNK_SIZE": "10"})
    job = services.document_job_certificates(actor=staff, batch=batch)
    tasks.document_job_run.delay(job.pk)  # a duplicate delivery, taken by the other worker process
    wait_for_done(job, [worker])
    wait_for_idle([worker])
    job.refresh_from_db()
    assert job.runs == 2

    certificates = certificates_of(batch)
    assert len(certificates) == 10
    keys = s3_bucket.object_names()
    for certificate in certificates:
        assert certificate.pdf.name in keys, f"{certificate.number}: its file is gone from the bucket"
        assert hashlib.sha256(s3_bucket.read(certificate.pdf.name)).hexdigest() == certificate.sha256
    assert keys == {c.pdf.name for c in certificates}
    assert Certificate.objects.count() == 10
    assert local_media_files() == []


def test_the_clean_up_works_on_the_bucket(s3_bucket, staff):
    """Point 6 on S3: the clean-up walks the bucket through the storage API; a dry run deletes nothing, then an
    expired unconfirmed upload goes with its object and an object no row points to is deleted, while the files
    rows point to stay."""

    def upload(status, name):
        return NominationUpload.objects.create(
            batch=BatchFactory(organiser=staff.organiser),
            kabupaten=region("35.12"),
            file=default_storage.save(name, ContentFile(b"xlsx")),
            original_name="peserta.xlsx",
            status=status,
            uploaded_by=staff,
        )

    expired = upload(NominationUpload.Status.CHECKED, "nominations/1/3512/peserta.xlsx")
    confirmed = upload(NominationUpload.Status.CONFIRMED, "nominations/1/3512/dikonfirmasi.xlsx")
    NominationUpload.objects.update(created_at=timezone.now() - timedelta(hours=100))
    orphan = default_storage.save("certificates/2025/999.pdf", ContentFile(b"%PDF-1.7 orphan"))
    outside = default_storage.save("elsewhere/notes.txt", ContentFile(b"not ours"))
    before = s3_bucket.object_names()
    assert {expired.file.name, confirmed.file.name, orphan, outside} <= before
    later = timezone.now() + timedelta(hours=100)  # past the grace period of the objects just written

    dry = media_cleanup(now=later, dry_run=True)
    assert dry.uploads.count == 1
    assert dry.orphans.files == [orphan]
    assert s3_bucket.object_names() == before

    media_cleanup(now=later)
    assert s3_bucket.object_names() == {confirmed.file.name, outside}
    assert not NominationUpload.objects.filter(pk=expired.pk).exists()
    assert local_media_files() == []
