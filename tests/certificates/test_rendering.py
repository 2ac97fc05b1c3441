"""Certificates read back from their PDFs: the text where it should be (poppler's pdftotext), the QR code decoded
from the rendered page (zbar), the SHA-256 of the stored file, and files that never change once issued."""

import hashlib
import subprocess
from datetime import date

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from pypdf import PdfReader

from certificates import services
from certificates.models import Certificate, CertificateLayout
from participants.models import Person
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import StaffFactory
from trainings.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _poppler_and_zbar(poppler, zbar):
    """Every test here reads a PDF back; without the tools they are skipped (failed under REQUIRE_SERVICES=1)."""


@pytest.fixture
def staff():
    staff = StaffFactory(
        organiser__code="UPT-PTKS",
        organiser__name="UPT PTKS Malang",
        organiser__city="Malang",
        organiser__head_name="Sri Wahyuningsih",
        organiser__head_nip="197105121998032004",
    )
    return staff


def pdf_text(path, *, page=None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    result = subprocess.run(["pdftotext", "-layout", *pages, path, "-"], capture_output=True, check=True, text=True)
    return " ".join(result.stdout.split())


def decode_qr(path, tmp_path) -> list[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", path, str(tmp_path / "page")], check=True)
    image = next(tmp_path.glob("page*.png"))
    result = subprocess.run(["zbarimg", "--quiet", "--raw", str(image)], capture_output=True, text=True, check=False)
    return result.stdout.split()


def issued_batch(staff, *, participants=3):
    batch = finished_batch(staff, participants=participants)
    batch.name = "Angkatan I Kabupaten Situbondo"
    batch.save(update_fields=["name"])
    session = batch.sessions.get()
    Session.objects.create(
        batch=batch,
        date=date(2025, 10, 16),
        start_time=session.end_time,
        end_time=session.end_time.replace(hour=session.end_time.hour + 2),
        kind=Session.Kind.OTHER,
        title="Simulasi Penanganan Kasus",
        jp=3,
    )
    for enrollment in batch.enrollments.all():
        enrollment.attendances.update(status="hadir")
        enrollment.attendances.create(
            session=batch.sessions.get(jp=3), status="hadir", method="staff", recorded_at=ISSUED
        )
    services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED)
    services.certificates_render(certificate_ids=list(Certificate.objects.values_list("pk", flat=True)))
    return batch


def stored_path(certificate) -> str:
    return default_storage.path(certificate.pdf.name)


def test_the_front_shows_who_what_when_and_the_back_the_curriculum(staff):
    issued_batch(staff)
    certificate = Certificate.objects.select_related("enrollment__person").order_by("seq").first()
    person = certificate.enrollment.person
    path = stored_path(certificate)
    assert len(PdfReader(path).pages) == 2
    front, back = pdf_text(path, page=1), pdf_text(path, page=2)
    assert certificate.number == "001/UPT-PTKS/X/2025"
    assert certificate.number in front
    assert person.full_name in front
    assert "Situbondo, 17 Agustus 1985" in front
    assert "Kabupaten Situbondo" in front
    assert "13 s.d. 16 Oktober 2025" in front
    assert "5 JP" in front or "5 jam pelajaran" in front
    assert "Malang, 16 Oktober 2025" in front
    assert "Sri Wahyuningsih" in front and "19710512 199803 2 004" in front
    assert person.nik not in front + back
    assert "Simulasi Penanganan Kasus" in back
    assert certificate.enrollment.batch.sessions.get(jp=2).display_title in back


def test_the_qr_code_decodes_to_the_verification_page(staff, tmp_path):
    issued_batch(staff, participants=2)
    for certificate in Certificate.objects.all():
        expected = f"{settings.SITE_URL}/v/{certificate.verification_code}"
        assert decode_qr(stored_path(certificate), tmp_path / certificate.verification_code) == [expected]


def test_each_file_matches_its_recorded_sha256_and_is_its_own_participants(staff):
    issued_batch(staff, participants=3)
    seen = set()
    for certificate in Certificate.objects.select_related("enrollment__person"):
        with default_storage.open(certificate.pdf.name, "rb") as handle:
            data = handle.read()
        assert hashlib.sha256(data).hexdigest() == certificate.sha256
        text = pdf_text(stored_path(certificate), page=1)
        others = Person.objects.exclude(pk=certificate.enrollment.person_id).values_list("full_name", flat=True)
        assert certificate.enrollment.person.full_name in text
        assert not any(name in text for name in others)
        seen.add(certificate.sha256)
    assert len(seen) == 3


def test_an_issued_certificate_never_changes(staff):
    batch = issued_batch(staff, participants=1)
    certificate = Certificate.objects.get()
    before = (certificate.pdf.name, certificate.sha256)
    Person.objects.update(full_name="Nama Yang Diubah")
    CertificateLayout.objects.create(organiser=staff.organiser, orientation="landscape", signatory_name="Orang Lain")
    batch.name = "Nama Angkatan Lain"
    batch.save(update_fields=["name"])
    assert services.certificates_render(certificate_ids=[certificate.pk]) == 0
    certificate.refresh_from_db()
    assert (certificate.pdf.name, certificate.sha256) == before
    assert "Nama Yang Diubah" not in pdf_text(stored_path(certificate))


def test_the_layout_sets_orientation_signatory_and_number_format(staff):
    CertificateLayout.objects.create(
        organiser=staff.organiser,
        orientation="landscape",
        signatory_name="Budi Santoso",
        signatory_nip="198609262015051001",
        number_format="STTP-{seq:04d}/{code}/{year}",
    )
    issued_batch(staff, participants=1)
    certificate = Certificate.objects.get()
    page = PdfReader(stored_path(certificate)).pages[0]
    assert page.mediabox.width > page.mediabox.height
    front = pdf_text(stored_path(certificate), page=1)
    assert certificate.number == "STTP-0001/UPT-PTKS/2025" and certificate.number in front
    assert "Budi Santoso" in front and "19860926 201505 1 001" in front


def test_the_preview_is_marked_and_stores_nothing(staff, tmp_path):
    batch = finished_batch(staff, participants=1)
    data = services.certificate_preview(actor=staff, batch=batch)
    path = tmp_path / "preview.pdf"
    path.write_bytes(data)
    text = pdf_text(str(path), page=1)
    assert batch.enrollments.get().person.full_name in text
    assert "PRATINJAU" in text or "PREVIEW" in text
    assert not Certificate.objects.exists()
