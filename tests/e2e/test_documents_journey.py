"""The certificates of the demo in a real browser: the staff issue the certificates of the finished Situbondo
batch and watch the job reach 100%; a participant downloads their own certificate with their NIK and access
code; anyone sees it valid on its verification page; the staff revoke it, and the page says so, with the reason.

The data is the real demo (seed_demo). seed_demo issues the Situbondo certificates itself, so before the browser
part the test removes them and their job: the batch is then as seed_demo leaves it just before issuing
(finished, attendance recorded, every participant's access code set, the documented KARTU479 included), and
the staff issue the certificates through the page. Deleting is possible because nothing refers to the demo
certificates (`replaced_by` is empty) and a document job may be deleted; patching seed_demo instead would skip
the step that gives the documented holder their documented access code.

Selectors use hrefs, ids and names rather than visible text: the UI texts are translated."""

import io
import re
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from certificates.models import Certificate, CertificateCounter, DocumentJob
from certificates.services import certificate_number
from participants.models import Enrollment
from trainings.management.commands.seed_demo import (
    DEMO_ACCESS_CODE,
    DEMO_PASSWORD,
    DEMO_VERIFICATION_CODE,
    SITUBONDO_NAME,
)
from trainings.models import Batch
from trainings.selectors import attendance_matrix

# The reference data (regions, pillars) comes from migrations; a transactional test flushes the tables
# afterwards, so ask for the serialized copy to be restored before this test runs.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("django_db_serialized_rollback")]

# As documented in README.md: the holder of the first Situbondo certificate.
DEMO_NIK = "3512011703980001"
DEMO_FIRST_NUMBER = "001/UPT-PTKS/X/2025"
ELIGIBLE = 39  # of the 40 Situbondo participants, one falls below the pass rule
REVOKE_REASON = "Data peserta keliru (uji e2e 4711)"
JOB_TIMEOUT = 60_000


def _submit(page, scope="main"):
    """The submit button of the page's form (the navbar's log-out button is a submit button too)."""
    page.locator(f"{scope} form[method=post] button[type=submit]").first.click()


def _at(path: str) -> re.Pattern:
    """The whole URL of a path on the server, with no query: a login page's ?next=<path> does not match."""
    return re.compile(r"^https?://[^/?]+" + re.escape(path) + "$")


@pytest.fixture
def demo(transactional_db):
    """The demo, with the Situbondo certificates taken back out (see the module docstring)."""
    call_command("seed_demo", force=True, stdout=io.StringIO())
    batch = Batch.objects.select_related("organiser").get(name=SITUBONDO_NAME, status=Batch.Status.FINISHED)
    # The documented values are there as seed_demo made them.
    first = Certificate.objects.get(verification_code=DEMO_VERIFICATION_CODE)
    assert first.number == DEMO_FIRST_NUMBER
    holder = Enrollment.objects.select_related("person").get(access_code=DEMO_ACCESS_CODE)
    assert (holder.batch_id, holder.person.nik, first.enrollment_id) == (batch.pk, DEMO_NIK, holder.pk)

    demo_certificates = Certificate.objects.filter(enrollment__batch=batch)
    assert demo_certificates.count() == ELIGIBLE and not demo_certificates.filter(replaced_by__isnull=False).exists()
    for name in demo_certificates.exclude(pdf="").values_list("pdf", flat=True):
        default_storage.delete(name)
    demo_certificates.delete()
    DocumentJob.objects.filter(batch=batch).delete()
    return {"batch": batch, "holder": holder}


def test_staff_issue_participant_downloads_and_a_revocation_shows(browser_page, live_server, demo):
    page = browser_page
    url = live_server.url
    batch, holder = demo["batch"], demo["holder"]
    eligible = {row.enrollment.pk for row in attendance_matrix(batch=batch).rows if row.eligible}
    assert len(eligible) == ELIGIBLE and holder.pk in eligible
    year = timezone.localdate().year
    counter = CertificateCounter.objects.filter(organiser=batch.organiser, year=year).first()
    last_seq = counter.last if counter else 0

    # The staff log in and open the Situbondo batch from the batch list.
    list_path = reverse("trainings:batch_list")
    batch_path = reverse("trainings:batch_detail", args=[batch.pk])
    documents_path = reverse("certificates:batch_documents", args=[batch.pk])
    page.goto(url + list_path)
    page.wait_for_url(re.compile(r"/akun/masuk/"))
    page.fill("#id_username", "staf")
    page.fill("#id_password", DEMO_PASSWORD)
    _submit(page)
    page.wait_for_url(_at(list_path))
    page.locator(f'main a[href="{batch_path}"]').first.click()
    page.wait_for_url(_at(batch_path))

    # Its documents page: nobody has a certificate yet.
    page.locator(f'#documents-link[href="{documents_path}"]').click()
    page.wait_for_url(_at(documents_path))
    expect(page.locator("#participants tbody tr[id^=enrollment-]")).to_have_count(batch.enrollments.count())
    expect(page.locator("#participants .certificate")).to_have_count(0)
    expect(page.locator("#zip-link")).to_have_count(0)

    # Issue: the job page shows the progress bar, which reaches 100% with the job done and its downloads.
    # Without a broker the job runs in the request, so the answer may take as long as the rendering.
    page.locator("#issue-form button[type=submit]").click(timeout=JOB_TIMEOUT)
    page.wait_for_url(re.compile(r"^https?://[^/?]+/sertifikat/dokumen/\d+/$"), timeout=JOB_TIMEOUT)
    job = DocumentJob.objects.get(batch=batch)
    assert page.url.endswith(reverse("certificates:job_detail", args=[job.pk]))
    progress = page.locator("#job-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=JOB_TIMEOUT)
    expect(page.locator("#job-status")).to_have_attribute("data-status", DocumentJob.Status.DONE, timeout=JOB_TIMEOUT)
    downloads = page.locator("#job-downloads")
    expect(downloads.locator(f'a[href="{reverse("certificates:batch_zip", args=[batch.pk])}"]')).to_be_visible()
    expect(downloads.locator(f'a[href="{reverse("certificates:batch_print", args=[batch.pk])}"]')).to_be_visible()
    job.refresh_from_db()
    assert (job.kind, job.status, job.done, job.total, job.created_by.username) == (
        DocumentJob.Kind.CERTIFICATES,
        DocumentJob.Status.DONE,
        ELIGIBLE,
        ELIGIBLE,
        "staf",
    )

    # One valid certificate with a PDF for each participant who meets the rule, numbered without gaps.
    issued = list(Certificate.objects.filter(enrollment__batch=batch).order_by("seq"))
    assert {c.enrollment_id for c in issued} == eligible
    assert [c.seq for c in issued] == list(range(last_seq + 1, last_seq + 1 + ELIGIBLE))
    for certificate in issued:
        assert certificate.is_valid and certificate.pdf and certificate.issued_by.username == "staf"
        assert certificate.number == certificate_number(
            seq=certificate.seq, organiser_code="UPT-PTKS", issued=timezone.localtime(certificate.issued_at)
        )
    mine = next(c for c in issued if c.enrollment_id == holder.pk)
    assert mine.seq == last_seq + 1  # the holder comes first, as in the demo
    with default_storage.open(mine.pdf.name, "rb") as handle:
        stored = handle.read()
    assert stored.startswith(b"%PDF-")

    # The documents page lists them, with the downloads of the whole batch.
    page.goto(url + documents_path)
    expect(page.locator("#participants .certificate")).to_have_count(ELIGIBLE)
    expect(page.locator(f"#certificate-{mine.pk} .font-monospace")).to_have_text(mine.number)
    expect(page.locator("#zip-link")).to_be_visible()

    # The participant, on their own device, downloads their certificate with the NIK and the access code.
    participant_context = page.context.browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta")
    participant_context.set_default_timeout(10_000)
    visited = []
    participant_context.on("request", lambda request: visited.append(request.url))
    try:
        public = participant_context.new_page()
        download_path = reverse("certificates:participant_download")
        public.goto(url + download_path)
        public.fill("#id_nik", DEMO_NIK)
        public.fill("#id_access_code", DEMO_ACCESS_CODE.lower())
        public.locator("#access-form button[type=submit]").click()
        listed = public.locator("#my-certificates li[id^=certificate-]")
        expect(listed).to_have_count(1)
        expect(listed.first).to_have_attribute("id", f"certificate-{mine.pk}")
        expect(listed.first.locator(".font-monospace")).to_have_text(mine.number)
        expect(listed.first).to_contain_text(batch.name)
        assert public.url == url + download_path
        certificate_path = reverse("certificates:participant_certificate", args=[mine.pk])
        with public.expect_download() as download_info:
            listed.first.locator(f'a[href="{certificate_path}"]').click()
        download = download_info.value
        assert download.suggested_filename == f"sertifikat-{re.sub(r'[^A-Za-z0-9]+', '-', mine.number)}.pdf"
        assert Path(download.path()).read_bytes() == stored
        assert DEMO_NIK not in public.url

        # Anyone with the code (from the QR) sees it valid.
        verify_path = reverse("verify_certificate", args=[mine.verification_code])
        public.goto(url + verify_path)
        expect(public.locator("#status-valid")).to_be_visible()
        expect(public.locator("#status-revoked")).to_have_count(0)
        expect(public.locator("main")).to_contain_text(mine.number)
        expect(public.locator("main")).to_contain_text(holder.person.full_name)

        # The staff revoke it on the documents page, with a reason.
        row = page.locator(f"#certificate-{mine.pk}")
        row.locator("summary").click()
        row.locator("form.revoke-form input[name=reason]").fill(REVOKE_REASON)
        row.locator("form.revoke-form button[type=submit]").click()
        page.wait_for_url(_at(documents_path))
        expect(page.locator(f"#certificate-{mine.pk} form.revoke-form")).to_have_count(0)
        mine.refresh_from_db()
        assert mine.revoked_at is not None and mine.revoke_reason == REVOKE_REASON
        assert mine.revoked_by.username == "staf"

        # The same verification page now says revoked, with the reason; the participant has nothing to download.
        public.reload()
        expect(public.locator("#status-revoked")).to_be_visible()
        expect(public.locator("#status-revoked")).to_contain_text(REVOKE_REASON)
        expect(public.locator("#status-valid")).to_have_count(0)
        public.goto(url + download_path)
        expect(public.locator("#no-certificates")).to_be_visible()
        assert not any(DEMO_NIK in visited_url for visited_url in visited), visited
    finally:
        participant_context.close()
