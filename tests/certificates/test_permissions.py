"""Who gets what from the certificate pages: a matrix of roles × URL names.

Anonymous visitors are sent to the login page, except on the participant's pages, which are public. The staff of
the batch's organiser get every page. An operator whose kabupaten the batch concerns gets the batch's ZIP with
only their kabupaten's certificates and their own participants' PDFs, and a 403 for what only staff may do;
jobs and their files are the staff's alone (404). Whoever cannot find the batch or the certificate (another
organiser's staff, the operator of a kabupaten without a quota) gets 404, so ids cannot be probed; a
facilitator teaching in the batch can find it but may do nothing with its documents (403)."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from pypdf import PdfWriter

from certificates import services
from certificates.models import Certificate, DocumentFile, DocumentJob
from participants.models import Enrollment, Nomination, Person
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Attendance, QuotaAllocation

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK, SIDOARJO = "35.12", "35.25", "35.15"

ROLES = ["anonymous", "staff", "other_staff", "operator_situbondo", "operator_sidoarjo", "facilitator"]


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def give_pdf(certificate: Certificate) -> None:
    """A real (blank) PDF for the certificate, without rendering: these tests are about who gets it."""
    name = default_storage.save(f"certificates/test-{certificate.pk}.pdf", ContentFile(pdf_bytes()))
    Certificate.objects.filter(pk=certificate.pk).update(pdf=name, sha256="0" * 64)


def enrol_gresik(batch, staff) -> Enrollment:
    person = Person.objects.create(
        nik="3525011708850001",
        full_name="Peserta Gresik",
        gender="P",
        birth_place="Gresik",
        birth_date="1990-01-01",
        kabupaten=region(GRESIK),
        pillar_type=pillar("psm"),
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region(GRESIK),
        pillar_type=pillar("psm"),
        status=Nomination.Status.ACCEPTED,
        nominated_by=staff,
    )
    enrollment = Enrollment.objects.create(batch=batch, person=person, nomination=nomination)
    Attendance.objects.create(
        session=batch.sessions.get(), enrollment=enrollment, status="hadir", method="staff", recorded_at=ISSUED
    )
    return enrollment


@pytest.fixture
def world():
    """A finished batch of the UPT with quotas for Situbondo and Gresik: two Situbondo participants (the first
    with a valid certificate, the second with a revoked one not yet replaced) and a Gresik one with a valid
    certificate; a failed attendance-sheet job with one file; and a user of every role."""
    staff = StaffFactory(organiser__code="UPT-PTKS", organiser__city="Malang")
    batch = finished_batch(staff, participants=2)
    for code in (SITUBONDO, GRESIK):
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(code), seats=10)
    gresik = enrol_gresik(batch, staff)
    teacher = FacilitatorUserFactory(record__organiser=staff.organiser)
    batch.sessions.get().facilitators.add(teacher.facilitator)
    services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED)
    for certificate in Certificate.objects.all():
        give_pdf(certificate)
    situbondo_first, situbondo_second = (
        Certificate.objects.filter(enrollment__nomination__kabupaten__code=SITUBONDO)
        .order_by("enrollment__person__full_name")
        .all()
    )
    revoked = services.certificate_revoke(actor=staff, certificate=situbondo_second, reason="salah tulis")
    job = DocumentJob.objects.create(
        organiser=staff.organiser,
        batch=batch,
        kind=DocumentJob.Kind.ATTENDANCE_SHEETS,
        title="Daftar hadir",
        params={"sheets": ["session-1", "day-2025-10-13"]},
        status=DocumentJob.Status.FAILED,
        total=2,
        done=1,
        error="RuntimeError: test",
        created_by=staff,
    )
    document = DocumentFile.objects.create(
        job=job,
        key="day-2025-10-13",
        title="Daftar hadir 13 Oktober 2025",
        file=default_storage.save("documents/test.pdf", ContentFile(pdf_bytes())),
        sha256="0" * 64,
        size=100,
    )
    users = {
        "anonymous": None,
        "staff": staff,
        "other_staff": StaffFactory(organiser__code="DINSOS-SBY"),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_sidoarjo": OperatorFactory(kabupaten=region(SIDOARJO)),
        "facilitator": teacher,
    }
    return {
        "batch": batch,
        "certificate": situbondo_first,
        "gresik_certificate": Certificate.objects.get(enrollment=gresik),
        "revoked": revoked,
        "job": job,
        "file": document,
        "users": users,
    }


# name: (method, the object of the world in the URL or None, POST data). Names ending in "@…" are more cases of
# the same URL name.
URLS = {
    "batch_documents": ("get", "batch", None),
    "batch_issue": ("post", "batch", {}),
    "batch_preview": ("get", "batch", None),
    "batch_sheets": ("post", "batch", {}),
    "batch_report": ("post", "batch", {}),
    "batch_zip": ("get", "batch", None),
    "batch_print": ("get", "batch", None),
    "certificate_download": ("get", "certificate", None),
    "certificate_download@gresik": ("get", "gresik_certificate", None),
    "certificate_download@revoked": ("get", "revoked", None),
    "certificate_revoke": ("post", "certificate", {"reason": "data salah"}),
    "certificate_reissue": ("post", "revoked", {}),
    "job_detail": ("get", "job", None),
    "job_progress": ("get", "job", None),
    "job_retry": ("post", "job", {}),
    "job_zip": ("get", "job", None),
    "file_download": ("get", "file", None),
    "layout_edit": ("get", None, None),
    "layout_preview": ("get", None, {"angkatan": "batch"}),
    "participant_download": ("get", None, None),
    "participant_certificate": ("get", "certificate", None),
}
OK, DENIED, HIDDEN = "ok", 403, 404
PUBLIC = {"participant_download", "participant_certificate"}
# What an operator whose kabupaten the batch concerns may have; the batch pages only staff may use are a 403.
OPERATOR_OK = {"batch_zip", "certificate_download"}
OPERATOR_DENIED = {
    "batch_documents",
    "batch_issue",
    "batch_preview",
    "batch_sheets",
    "batch_report",
    "batch_print",
    "certificate_download@revoked",  # a revoked certificate is not handed out
    "certificate_revoke",
    "certificate_reissue",
    "layout_edit",
    "layout_preview",
}
BATCH_PAGES = {
    "batch_documents",
    "batch_issue",
    "batch_preview",
    "batch_sheets",
    "batch_report",
    "batch_zip",
    "batch_print",
}


def expected(role: str, name: str):
    if name in PUBLIC:
        return OK
    if role == "staff":
        return OK
    if role == "other_staff":
        return OK if name == "layout_edit" else HIDDEN  # their own layout; nothing of the UPT
    if role == "operator_situbondo":
        if name in OPERATOR_OK:
            return OK
        return DENIED if name in OPERATOR_DENIED else HIDDEN
    if role in ("operator_sidoarjo", "facilitator"):
        if name in ("layout_edit", "layout_preview"):
            return DENIED
        if role == "facilitator" and name in BATCH_PAGES:
            return DENIED  # finds the batch they teach in, may not use its documents
        return HIDDEN
    raise AssertionError(role)


def request(client, world, role, name):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    method, arg, data = URLS[name]
    url_name = name.split("@")[0]
    url = reverse(f"certificates:{url_name}", args=[world[arg].pk] if arg else [])
    if method == "post":
        return client.post(url, data)
    query = {key: world[value].pk for key, value in (data or {}).items()}
    return client.get(url, query)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_matrix_covers_every_certificate_url():
    from certificates.urls import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == {name.split("@")[0] for name in URLS}


@pytest.mark.parametrize("name", list(URLS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, name):
    response = request(client, world, role, name)
    content = body(response)  # read it all, so that a streamed file is closed
    if role == "anonymous" and name not in PUBLIC:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
        return
    outcome = expected(role, name)
    if outcome != OK:
        assert response.status_code == outcome
        return
    if name == "participant_certificate":  # no NIK and access code given in this session: back to the form
        assert response.status_code == 302
        assert response["Location"] == reverse("certificates:participant_download")
    elif URLS[name][0] == "post":
        assert response.status_code == 302
    else:
        assert response.status_code == 200
    if name == "batch_zip":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            # Staff: both valid certificates; the Situbondo operator: their one valid certificate only.
            assert len(archive.namelist()) == (2 if role == "staff" else 1)


def test_nothing_changes_for_those_who_may_not(client, world):
    for role in ("other_staff", "operator_situbondo", "operator_sidoarjo", "facilitator"):
        client.force_login(world["users"][role])
        for name in (
            "batch_issue",
            "batch_sheets",
            "batch_report",
            "certificate_revoke",
            "certificate_reissue",
            "job_retry",
        ):
            assert request(client, world, role, name).status_code in (403, 404)
    assert DocumentJob.objects.count() == 1
    assert Certificate.objects.filter(revoked_at__isnull=True).count() == 2
    assert not Certificate.objects.filter(replaced_by__isnull=False).exists()
    assert DocumentJob.objects.get().status == DocumentJob.Status.FAILED


def test_an_operator_guessing_another_kabupatens_certificate_gets_404(client, world):
    client.force_login(world["users"]["operator_situbondo"])
    gresik = world["gresik_certificate"]
    assert client.get(reverse("certificates:certificate_download", args=[gresik.pk])).status_code == 404
    assert client.post(reverse("certificates:certificate_revoke", args=[gresik.pk]), {"reason": "x"}).status_code == 404
    assert Certificate.objects.get(pk=gresik.pk).is_valid


def test_staff_guessing_another_organisers_job_file_and_batch_get_404(client, world):
    other_staff = world["users"]["other_staff"]
    other_batch = finished_batch(other_staff, participants=1, serial_from=50)
    other_job = DocumentJob.objects.create(
        organiser=other_staff.organiser,
        batch=other_batch,
        kind=DocumentJob.Kind.ATTENDANCE_SHEETS,
        title="Lain",
        created_by=other_staff,
    )
    other_file = DocumentFile.objects.create(
        job=other_job, key="day-2025-10-13", title="Lain", file="documents/x.pdf", sha256="0" * 64
    )
    client.force_login(world["users"]["staff"])
    for name, obj in [
        ("job_detail", other_job),
        ("job_progress", other_job),
        ("job_zip", other_job),
        ("file_download", other_file),
        ("batch_documents", other_batch),
        ("batch_zip", other_batch),
    ]:
        assert client.get(reverse(f"certificates:{name}", args=[obj.pk])).status_code == 404, name
    assert client.post(reverse("certificates:job_retry", args=[other_job.pk])).status_code == 404
    assert client.get(reverse("certificates:layout_preview"), {"angkatan": other_batch.pk}).status_code == 404


@pytest.mark.parametrize("name", [n for n, (_m, arg, _d) in URLS.items() if arg and "@" not in n])
def test_unknown_ids_are_404(client, world, name):
    client.force_login(world["users"]["staff"])
    method = URLS[name][0]
    url = reverse(f"certificates:{name}", args=[2**31 - 1])
    if name == "participant_certificate":
        session = client.session
        session["certificates_person"] = world["certificate"].enrollment.person_id
        session.save()
    response = client.post(url) if method == "post" else client.get(url)
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**40), str(2**31 - 1)])
def test_the_layout_preview_batch_must_be_an_id_of_a_batch_of_the_organiser(client, world, value):
    client.force_login(world["users"]["staff"])
    assert client.get(reverse("certificates:layout_preview"), {"angkatan": value}).status_code == 404


def test_a_batch_without_an_operator_quota_is_hidden_from_that_operator(client, world):
    other_batch = BatchFactory(organiser=world["batch"].organiser, status="finished")
    QuotaAllocation.objects.create(batch=other_batch, kind="kabupaten", region=region(GRESIK), seats=5)
    client.force_login(world["users"]["operator_situbondo"])
    assert client.get(reverse("certificates:batch_zip", args=[other_batch.pk])).status_code == 404


def test_the_downloads_only_answer_get(client, world):
    client.force_login(world["users"]["staff"])
    for name in ("batch_zip", "batch_print", "job_zip", "job_detail"):
        obj = world["job"] if name.startswith("job") else world["batch"]
        assert client.post(reverse(f"certificates:{name}", args=[obj.pk])).status_code == 405
    assert client.get(reverse("certificates:batch_issue", args=[world["batch"].pk])).status_code == 405


def test_the_operators_batch_page_links_the_zip(client, world):
    client.force_login(world["users"]["operator_situbondo"])
    page = client.get(reverse("participants:batch_nominations", args=[world["batch"].pk]))
    assert page.status_code == 200
    assert page.context["certificate_count"] == 1
    assert reverse("certificates:batch_zip", args=[world["batch"].pk]).encode() in page.content


def test_the_batch_page_links_the_documents_for_staff_only(client, world):
    url = reverse("trainings:batch_detail", args=[world["batch"].pk])
    documents = reverse("certificates:batch_documents", args=[world["batch"].pk]).encode()
    client.force_login(world["users"]["staff"])
    assert documents in client.get(url).content
    client.force_login(world["users"]["facilitator"])
    page = client.get(url)
    assert page.status_code == 200 and documents not in page.content


def test_the_layout_link_is_in_the_staff_navigation(client, world):
    layout = reverse("certificates:layout_edit").encode()
    client.force_login(world["users"]["staff"])
    assert layout in client.get(reverse("trainings:batch_list")).content
    client.force_login(world["users"]["operator_situbondo"])
    assert layout not in client.get(reverse("participants:nominations_home")).content
