"""The certificate pages at work: issuing from the batch documents page, revoking and re-issuing, the ZIP and the
merged PDF, attendance sheet jobs and their files, a failed job run again, the progress partial, the
participant's own download with NIK and access code, and the layout settings with their preview."""

import io
import re
import zipfile

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from certificates import rendering, services
from certificates.models import DEFAULT_NUMBER_FORMAT, Certificate, CertificateLayout, DocumentJob
from tests.addresses import unique_address
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")


@pytest.fixture
def english(client):
    """Pages in English, so the test can read their texts."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def issued(staff, batch) -> list[Certificate]:
    """Certificates with their PDFs for every participant of the batch (all attended), without a job."""
    created = services.certificates_issue(
        actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED
    )
    services.certificates_render(certificate_ids=[c.pk for c in created])
    return list(Certificate.objects.filter(pk__in=[c.pk for c in created]).order_by("seq"))


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def documents_url(batch):
    return reverse("certificates:batch_documents", args=[batch.pk])


# ------------------------------------------------------------------------------------------- issuing


def test_issuing_from_the_page_gives_every_eligible_participant_a_certificate(
    client, staff, django_capture_on_commit_callbacks
):
    batch = finished_batch(staff, participants=3, attended=2)
    client.force_login(staff)
    page = client.get(documents_url(batch))
    assert page.status_code == 200
    assert b'id="issue-form"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:batch_issue", args=[batch.pk]))
    job = DocumentJob.objects.get(batch=batch)
    assert response.status_code == 302
    assert response["Location"] == reverse("certificates:job_detail", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.total, job.done) == (DocumentJob.Status.DONE, 2, 2)
    certificates = Certificate.objects.filter(enrollment__batch=batch)
    names = sorted(certificates.values_list("enrollment__person__full_name", flat=True))
    assert names == ["Peserta 001", "Peserta 002"]
    assert all(c.pdf for c in certificates)
    # The page now lists the numbers with their PDFs and the job.
    page = client.get(documents_url(batch))
    for certificate in certificates:
        assert certificate.number.encode() in page.content
        assert reverse("certificates:certificate_download", args=[certificate.pk]).encode() in page.content
        assert reverse("verify_certificate", args=[certificate.verification_code]).encode() in page.content
    assert f'id="job-{job.pk}"'.encode() in page.content


def test_the_documents_page_queries_do_not_grow_with_the_participants(client, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size, serial in ((2, 1), (5, 100)):
        batch = finished_batch(staff, participants=size, serial_from=serial)
        issued(staff, batch)
        client.force_login(staff)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(documents_url(batch)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_issuing_is_offered_only_once_the_batch_is_finished(client, staff):
    batch = finished_batch(staff, participants=2)
    batch.status = batch.Status.RUNNING
    batch.save(update_fields=["status"])
    client.force_login(staff)
    page = client.get(documents_url(batch))
    assert b'id="issue-form"' not in page.content and b'id="issue-not-yet"' in page.content
    assert b'id="sheets-all"' in page.content  # attendance sheets at any time
    response = client.post(reverse("certificates:batch_issue", args=[batch.pk]), follow=True)
    assert response.status_code == 200
    assert not DocumentJob.objects.exists()


def test_a_participant_below_the_rule_needs_a_reason(client, staff, english, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=2, attended=1)
    below = batch.enrollments.get(person__full_name="Peserta 002")
    client.force_login(staff)
    url = reverse("certificates:batch_issue", args=[batch.pk])
    response = client.post(url, {"include": [str(below.pk)], f"reason-{below.pk}": "  "})
    assert response.status_code == 200
    assert "Peserta 002 does not meet the pass rule; give a reason to include them." in response.content.decode()
    assert re.search(rf'name="include" value="{below.pk}" id="include-{below.pk}" checked', response.content.decode())
    assert not DocumentJob.objects.exists() and not Certificate.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"include": [str(below.pk)], f"reason-{below.pk}": "sakit, ada surat dokter"})
    assert response.status_code == 302
    job = DocumentJob.objects.get()
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.DONE
    assert Certificate.objects.filter(enrollment__batch=batch).count() == 2
    assert Certificate.objects.get(enrollment=below).included_reason == "sakit, ada surat dokter"


def test_ids_in_the_issue_form_that_are_not_ids_are_ignored(client, staff):
    batch = finished_batch(staff, participants=1)
    client.force_login(staff)
    response = client.post(
        reverse("certificates:batch_issue", args=[batch.pk]), {"include": ["abc", str(2**40)], "reason-x": "y"}
    )
    assert response.status_code == 302
    assert DocumentJob.objects.get().params["enrollments"] == [batch.enrollments.get().pk]


# ---------------------------------------------------------------------------------- revoke and re-issue


def test_revoking_needs_a_reason(client, staff, english):
    batch = finished_batch(staff, participants=1)
    certificate = issued(staff, batch)[0]
    client.force_login(staff)
    response = client.post(reverse("certificates:certificate_revoke", args=[certificate.pk]), {"reason": " "})
    assert response.status_code == 200
    assert "Give the reason for revoking." in response.content.decode()
    certificate.refresh_from_db()
    assert certificate.is_valid


def test_revoke_then_reissue_gives_a_new_number_and_the_old_code_says_revoked(
    client, staff, english, django_capture_on_commit_callbacks
):
    batch = finished_batch(staff, participants=2)
    old = issued(staff, batch)[0]
    client.force_login(staff)
    response = client.post(
        reverse("certificates:certificate_revoke", args=[old.pk]), {"reason": "salah tulis nama"}, follow=True
    )
    assert response.redirect_chain == [(documents_url(batch), 302)]
    assert f"Certificate {old.number} was revoked." in response.content.decode()
    old.refresh_from_db()
    assert not old.is_valid and old.revoke_reason == "salah tulis nama"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:certificate_reissue", args=[old.pk]), follow=True)
    job = DocumentJob.objects.get()
    assert response.redirect_chain == [(reverse("certificates:job_detail", args=[job.pk]), 302)]
    old.refresh_from_db()
    new = old.replaced_by
    assert new is not None and new.is_valid and new.number != old.number
    assert (job.status, job.total) == (DocumentJob.Status.DONE, 1)
    assert new.pdf and stored(new.pdf.name).startswith(b"%PDF")  # rendered by its job
    assert f"Certificate {new.number} was issued in place of {old.number}." in response.content.decode()

    verification = client.get(reverse("verify_certificate", args=[old.verification_code]))
    assert b'id="status-revoked"' in verification.content
    assert f"Replaced by certificate {new.number}.".encode() in verification.content
    # Re-issuing twice is refused with a message, not a 500.
    response = client.post(reverse("certificates:certificate_reissue", args=[old.pk]))
    assert response.status_code == 302
    assert Certificate.objects.filter(enrollment=old.enrollment).count() == 2


# ------------------------------------------------------------------------------------ ZIP and print


def test_the_zip_holds_one_pdf_per_valid_certificate_and_the_print_pdf_two_pages_each(client, staff):
    batch = finished_batch(staff, participants=3)
    certificates = issued(staff, batch)
    services.certificate_revoke(actor=staff, certificate=certificates[2], reason="ganda")
    client.force_login(staff)

    response = client.get(reverse("certificates:batch_zip", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        names = sorted(archive.namelist())
        assert names == ["sertifikat-001-UPT-PTKS-X-2025.pdf", "sertifikat-002-UPT-PTKS-X-2025.pdf"]
        assert archive.read(names[0]) == stored(certificates[0].pdf.name)

    response = client.get(reverse("certificates:batch_print", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert len(PdfReader(io.BytesIO(body(response))).pages) == 2 * 2


def test_a_certificate_downloads_with_a_filename_without_personal_data(client, staff):
    batch = finished_batch(staff, participants=1)
    certificate = issued(staff, batch)[0]
    client.force_login(staff)
    response = client.get(reverse("certificates:certificate_download", args=[certificate.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="sertifikat-001-UPT-PTKS-X-2025.pdf"'
    assert response["Cache-Control"] == "no-store"
    assert body(response) == stored(certificate.pdf.name)


# ---------------------------------------------------------------------------------- attendance sheets


def test_attendance_sheets_job_produces_files_that_download(client, staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=2)
    session = batch.sessions.get()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:batch_sheets", args=[batch.pk]))
    job = DocumentJob.objects.get(kind=DocumentJob.Kind.ATTENDANCE_SHEETS)
    assert response["Location"] == reverse("certificates:job_detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.DONE
    files = list(job.files.order_by("key"))
    assert [f.key for f in files] == [f"day-{session.date.isoformat()}", f"session-{session.pk}"]

    page = client.get(reverse("certificates:job_detail", args=[job.pk]))
    for document in files:
        url = reverse("certificates:file_download", args=[document.pk])
        assert url.encode() in page.content
        response = client.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        assert re.fullmatch(r'attachment; filename="[A-Za-z0-9-]+\.pdf"', response["Content-Disposition"])
        assert body(response) == stored(document.file.name)
    response = client.get(reverse("certificates:job_zip", args=[job.pk]))
    with zipfile.ZipFile(io.BytesIO(body(response))) as archive:
        assert len(archive.namelist()) == 2


def test_one_days_sheets(client, staff, django_capture_on_commit_callbacks):
    batch = finished_batch(staff, participants=1)
    session = batch.sessions.get()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("certificates:batch_sheets", args=[batch.pk]), {"day": session.date.isoformat()})
    assert DocumentJob.objects.get().params["sheets"] == [f"session-{session.pk}", f"day-{session.date.isoformat()}"]
    assert client.post(reverse("certificates:batch_sheets", args=[batch.pk]), {"day": "2025-13-45"}).status_code == 404
    # A day without sessions: a message on the page, no job.
    response = client.post(reverse("certificates:batch_sheets", args=[batch.pk]), {"day": "2030-01-01"})
    assert response.status_code == 302 and DocumentJob.objects.count() == 1


# ----------------------------------------------------------------------------------- failure and retry


def test_a_failed_job_shows_its_error_and_run_again_finishes_it_keeping_what_was_made(
    client, staff, english, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DOCUMENT_CHUNK_SIZE = 1
    batch = finished_batch(staff, participants=3)
    real = rendering.html_to_pdf
    failed = []

    def flaky(*args, **kwargs):
        # Fails once, after the first certificate was stored: the first run stops half-way.
        if not failed and Certificate.objects.exclude(pdf="").exists():
            failed.append(True)
            raise RuntimeError("printer on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering, "html_to_pdf", flaky)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("certificates:batch_issue", args=[batch.pk]))
    job = DocumentJob.objects.get()
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.FAILED
    first = {c.pk: c.pdf.name for c in Certificate.objects.exclude(pdf="")}
    assert len(first) == 1

    page = client.get(reverse("certificates:job_detail", args=[job.pk]))
    html = page.content.decode()
    assert re.search(r'id="job-status"[^>]*>Failed<', html)
    assert "(RuntimeError)" in html and "printer on fire" not in html  # the details go to the log
    assert 'id="job-retry"' in html
    assert "hx-trigger" not in html  # a finished job does not poll

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:job_retry", args=[job.pk]))
    assert response["Location"] == reverse("certificates:job_detail", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.done, job.error) == (DocumentJob.Status.DONE, 3, "")
    after = {c.pk: c.pdf.name for c in Certificate.objects.exclude(pdf="")}
    assert len(after) == 3 and all(after[pk] == name for pk, name in first.items())
    html = client.get(reverse("certificates:job_detail", args=[job.pk])).content.decode()
    assert re.search(r'id="job-status"[^>]*>Done<', html)
    assert reverse("certificates:batch_zip", args=[batch.pk]) in html
    assert reverse("certificates:batch_print", args=[batch.pk]) in html


def test_the_progress_partial_shows_the_percentage_and_polls_while_running(client, staff):
    batch = finished_batch(staff, participants=1)
    job = DocumentJob.objects.create(
        organiser=staff.organiser,
        batch=batch,
        kind=DocumentJob.Kind.CERTIFICATES,
        title="Sertifikat",
        status=DocumentJob.Status.RUNNING,
        total=4,
        done=1,
        created_by=staff,
    )
    client.force_login(staff)
    url = reverse("certificates:job_progress", args=[job.pk])
    html = client.get(url).content.decode()
    assert re.search(r'id="job-progress"[^>]*aria-valuenow="25"', html)
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html and 'hx-swap="outerHTML"' in html
    assert "base.html" not in [t.name for t in client.get(url).templates]
    DocumentJob.objects.filter(pk=job.pk).update(status=DocumentJob.Status.DONE, done=4)
    html = client.get(url).content.decode()
    assert re.search(r'id="job-progress"[^>]*aria-valuenow="100"', html)
    assert "hx-get" not in html


# ------------------------------------------------------------------------------- participant download


@pytest.fixture
def participant(staff):
    """Two participants with a certificate each; the first one's NIK, access code and certificate."""
    batch = finished_batch(staff, participants=2)
    certificates = issued(staff, batch)
    enrollment = certificates[0].enrollment
    return {
        "nik": enrollment.person.nik,
        "code": enrollment.access_code,
        "certificate": certificates[0],
        "other": certificates[1],
    }


DOWNLOAD = "/sertifikat/unduh/"


def test_the_download_page_is_where_the_brief_says(client):
    assert reverse("certificates:participant_download") == DOWNLOAD


def test_a_right_pair_lists_and_downloads_the_certificate(client, participant, english):
    ip = unique_address()
    # Lower case with spaces: what people type.
    code = " ".join([participant["code"][:4].lower(), participant["code"][4:]])
    response = client.post(DOWNLOAD, {"nik": participant["nik"], "access_code": code}, REMOTE_ADDR=ip)
    assert response.status_code == 302 and response["Location"] == DOWNLOAD
    assert participant["nik"] not in str(dict(client.session))
    page = client.get(DOWNLOAD, REMOTE_ADDR=ip)
    html = page.content.decode()
    certificate = participant["certificate"]
    assert certificate.number in html and participant["other"].number not in html
    url = reverse("certificates:participant_certificate", args=[certificate.pk])
    assert url in html
    response = client.get(url, REMOTE_ADDR=ip)
    content = body(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert content == stored(certificate.pdf.name)
    # The NIK never appears in a URL of the flow.
    for link in re.findall(r'(?:href|action)="([^"]*)"', html) + [url, DOWNLOAD]:
        assert participant["nik"] not in link
    # Someone else's certificate id is not found.
    other = reverse("certificates:participant_certificate", args=[participant["other"].pk])
    assert client.get(other, REMOTE_ADDR=ip).status_code == 404
    # Done: the session forgets the person.
    client.post(DOWNLOAD, {"forget": "1"}, REMOTE_ADDR=ip)
    assert client.get(url, REMOTE_ADDR=ip)["Location"] == DOWNLOAD


def test_a_wrong_nik_and_a_wrong_code_get_the_same_message(client, participant, english):
    ip = unique_address()
    wrong_nik = "3512011708859999"
    wrong_code = "AAAAAAAA" if participant["code"] != "AAAAAAAA" else "BBBBBBBB"
    first = client.post(DOWNLOAD, {"nik": wrong_nik, "access_code": participant["code"]}, REMOTE_ADDR=ip)
    second = client.post(DOWNLOAD, {"nik": participant["nik"], "access_code": wrong_code}, REMOTE_ADDR=ip)
    assert first.status_code == second.status_code == 200
    message = "NIK or access code does not match."
    assert message in first.content.decode() and message in second.content.decode()
    assert [str(e) for e in first.context["form"].non_field_errors()] == [message]
    assert [str(e) for e in second.context["form"].non_field_errors()] == [message]
    assert "certificates_person" not in client.session


def test_malformed_input_is_explained(client, english):
    response = client.post(DOWNLOAD, {"nik": "12345", "access_code": "ab"}, REMOTE_ADDR=unique_address())
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["nik"] == ["A NIK has 16 digits."]
    assert errors["access_code"] == ["The access code has 8 characters."]


def test_the_download_page_has_a_privacy_notice_and_is_linked(client, english):
    page = client.get(DOWNLOAD)
    assert page.status_code == 200
    assert b'id="privacy-notice"' in page.content and b"27/2022" in page.content
    assert DOWNLOAD.encode() in client.get(reverse("accounts:login")).content


def test_the_verification_page_links_the_participant_download(client, participant):
    code = participant["certificate"].verification_code
    assert DOWNLOAD.encode() in client.get(reverse("verify_certificate", args=[code])).content


# --------------------------------------------------------------------------------------------- layout


def image(fmt: str, name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def layout_data(**extra):
    return {
        "orientation": "landscape",
        "primary_colour": "#112233",
        "accent_colour": "#445566",
        "number_format": DEFAULT_NUMBER_FORMAT,
        "show_facilitators": "on",
        **extra,
    }


def test_the_layout_form_saves_colours_and_a_png_logo(client, staff):
    client.force_login(staff)
    url = reverse("certificates:layout_edit")
    assert client.get(url).status_code == 200
    response = client.post(url, layout_data(logo=image("PNG", "logo.png")))
    assert response.status_code == 302
    layout = CertificateLayout.objects.get(organiser=staff.organiser)
    assert (layout.orientation, layout.primary_colour, layout.accent_colour) == ("landscape", "#112233", "#445566")
    assert layout.logo.name.endswith(".png")
    # Saving again changes the same row.
    client.post(url, layout_data(primary_colour="#000000"))
    assert CertificateLayout.objects.get(organiser=staff.organiser).primary_colour == "#000000"


@pytest.mark.parametrize(
    "upload",
    [
        lambda: SimpleUploadedFile("logo.png", b"this is not an image", content_type="image/png"),
        lambda: image("GIF", "logo.png"),  # an image, but not PNG or JPEG, whatever its name says
    ],
)
def test_the_layout_form_refuses_what_is_not_a_png_or_jpeg(client, staff, english, upload):
    client.force_login(staff)
    response = client.post(reverse("certificates:layout_edit"), layout_data(signature=upload()))
    assert response.status_code == 200
    assert response.context["form"].errors["signature"] == ["Upload a PNG or JPEG image; this file is not one."]
    assert not CertificateLayout.objects.exists()


def test_the_layout_form_refuses_an_image_over_2_mb(client, staff, english):
    client.force_login(staff)
    big = io.BytesIO()
    Image.effect_noise((1100, 1100), 100).convert("RGB").save(big, format="PNG")
    assert big.tell() > 2 * 1024 * 1024
    upload = SimpleUploadedFile("bg.png", big.getvalue(), content_type="image/png")
    response = client.post(reverse("certificates:layout_edit"), layout_data(background=upload))
    assert response.context["form"].errors["background"] == ["The image may be at most 2 MB."]


def test_the_layout_page_shows_the_address_the_qr_codes_carry(client, staff, settings):
    """Issued PDFs never change: staff see which address their QR codes will carry before they issue."""
    settings.SITE_URL = "https://pelatihan.example.go.id"
    client.force_login(staff)
    page = client.get(reverse("certificates:layout_edit")).content.decode()
    assert "Alamat pada kode QR: https://pelatihan.example.go.id" in page


def test_the_layout_preview_is_a_pdf(client, staff):
    batch = finished_batch(staff, participants=1)
    client.force_login(staff)
    page = client.get(reverse("certificates:layout_edit"))
    assert f'<option value="{batch.pk}">'.encode() in page.content
    response = client.get(reverse("certificates:layout_preview"), {"angkatan": batch.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert response.content.startswith(b"%PDF")


def test_the_layout_preview_without_a_batch_says_so(client, staff, english):
    client.force_login(staff)
    response = client.get(reverse("certificates:layout_preview"), follow=True)
    assert response.redirect_chain == [(reverse("certificates:layout_edit"), 302)]
    assert "None of your batches has participants yet" in response.content.decode()


def test_the_batch_preview_is_an_inline_pdf(client, staff, english):
    batch = finished_batch(staff, participants=1)
    client.force_login(staff)
    response = client.get(reverse("certificates:batch_preview", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline;")
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 2
    empty = finished_batch(staff, participants=0)
    response = client.get(reverse("certificates:batch_preview", args=[empty.pk]), follow=True)
    assert response.redirect_chain == [(documents_url(empty), 302)]
    assert "The batch has no participants yet to show on a preview." in response.content.decode()


def test_a_participants_download_session_is_short(client, participant):
    right = {"nik": participant["nik"], "access_code": participant["code"]}
    assert client.post(DOWNLOAD, right, REMOTE_ADDR=unique_address()).status_code == 302
    assert client.session["certificates_person"] == participant["certificate"].enrollment.person_id
    assert client.session.get_expiry_age() <= 30 * 60
