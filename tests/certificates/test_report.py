"""The batch report (laporan penyelenggaraan): made by a job from the batch documents page, read back from the
PDF as text; its figures are the attendance recap's; its data in a fixed number of queries; staff only."""

import itertools
import re
from datetime import date, time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates import services
from certificates.models import Certificate, DocumentFile, DocumentJob
from certificates.reports import batch_report
from participants.models import Enrollment, Nomination, Person
from tests.certificates.test_services import ISSUED
from tests.certificates.test_sheets import flat, id_text, pdf_text
from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OperatorFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Attendance, Batch, QuotaAllocation
from trainings.selectors import attendance_matrix

pytestmark = pytest.mark.django_db

SITUBONDO, BATU = "35.12", "35.79"
# (name, kabupaten, pillar, gender): three from each regency, four PSM and two TKSK.
PEOPLE = [
    ("Ahmad Fauzi", SITUBONDO, "psm", "L"),
    ("Bambang Sutrisno", SITUBONDO, "psm", "L"),
    ("Citra Lestari", SITUBONDO, "tksk", "P"),
    ("Dewi Anggraini", BATU, "psm", "P"),
    ("Eko Prasetyo", BATU, "psm", "L"),
    ("Fitri Handayani", BATU, "tksk", "P"),
]
BELOW = "Eko Prasetyo"  # absent from the longest session
LATE = "Citra Lestari"  # late counts as attended
NIK_PREFIX = "3512411708850"
PHONE_PREFIX = "0812555"
UNIQUE = itertools.count(1)  # NIKs and phones differ across batches


@pytest.fixture
def staff():
    return StaffFactory(
        organiser__code="UPT-PTKS",
        organiser__name="UPT PTKS Malang",
        organiser__head_name="Sri Wahyuni",
        organiser__head_title="Kepala UPT Pelatihan dan Pengembangan Tenaga Kesejahteraan Sosial Malang",
        organiser__head_nip="197001011995031001",
    )


def enrol(batch, staff, *, name, kabupaten, kind, gender):
    serial = next(UNIQUE)
    person = Person.objects.create(
        nik=f"{NIK_PREFIX}{serial:03d}",
        full_name=name,
        gender=gender,
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        address=f"Jl. Melati No. {serial}",
        phone=f"{PHONE_PREFIX}{serial:05d}",
        kabupaten=region(kabupaten),
        pillar_type=pillar(kind),
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region(kabupaten),
        pillar_type=pillar(kind),
        status=Nomination.Status.ACCEPTED,
        nominated_by=staff,
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


def make_batch(staff, *, people=PEOPLE):
    """A finished batch of three sessions on three days (2 + 3 + 3 JP) with quotas for both regencies; everybody
    attended everything but BELOW, absent from the last session. Sessions 1 and 2 keep their scheduled
    facilitators; session 3 was taught by someone else, as recorded."""
    batch = BatchFactory(
        organiser=staff.organiser,
        status=Batch.Status.FINISHED,
        name="Angkatan I Kabupaten Situbondo",
        venue="Aula UPT PTKS Malang",
        start_date=date(2025, 10, 13),
        end_date=date(2025, 10, 15),
        quota_total=40,
    )
    for code in (SITUBONDO, BATU):
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(code), seats=20)
    budi = FacilitatorFactory(organiser=staff.organiser, name="Drs. Budi Santoso", nip="198609262015051001")
    siti = FacilitatorFactory(organiser=staff.organiser, name="Siti Aminah, S.Sos.")
    rahmat = FacilitatorFactory(organiser=staff.organiser, name="Rahmat Hidayat, M.Si.")
    pengganti = FacilitatorFactory(organiser=staff.organiser, name="Yuliana Kartika")
    plan = [
        (date(2025, 10, 13), time(8, 0), time(9, 30), "Kebijakan Kesejahteraan Sosial", 2, [budi]),
        (date(2025, 10, 14), time(8, 0), time(10, 15), "Sinergitas Pilar Sosial", 3, [siti, budi]),
        (date(2025, 10, 15), time(13, 0), time(15, 15), "Pemetaan Sosial", 3, [rahmat]),
    ]
    sessions = []
    for day, start, end, title, jp, facilitators in plan:
        session = SessionFactory(
            batch=batch,
            date=day,
            start_time=start,
            end_time=end,
            module=ModuleFactory(program=batch.program, title=title, jp=jp),
            jp=jp,
        )
        session.facilitators.set(facilitators)
        sessions.append(session)
    sessions[2].taught_by.set([pengganti])
    sessions[2].taught_recorded = True
    sessions[2].save(update_fields=["taught_recorded"])
    for name, kabupaten, kind, gender in people:
        enrollment = enrol(batch, staff, name=name, kabupaten=kabupaten, kind=kind, gender=gender)
        for session in sessions:
            status = "hadir"
            if name == BELOW and session == sessions[2]:
                status = "alpa"
            elif name == LATE and session == sessions[1]:
                status = "terlambat"
            Attendance.objects.create(
                session=session, enrollment=enrollment, status=status, method="staff", recorded_at=ISSUED
            )
    return batch


def issue_and_revoke(staff, batch):
    """Three certificates issued, the last one revoked: two valid and one revoked."""
    enrollments = list(batch.enrollments.exclude(person__full_name=BELOW).order_by("person__full_name")[:3])
    issued = services.certificates_issue(actor=staff, batch=batch, enrollments=enrollments, now=ISSUED)
    services.certificate_revoke(actor=staff, certificate=issued[-1], reason="salah tulis nama")


@pytest.fixture
def batch(staff):
    batch = make_batch(staff)
    issue_and_revoke(staff, batch)
    return batch


def report_pdf(client, staff, batch, django_capture_on_commit_callbacks) -> tuple[DocumentJob, bytes]:
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:batch_report", args=[batch.pk]), {"batch_report": "1"})
    job = DocumentJob.objects.get(batch=batch, kind=DocumentJob.Kind.REPORT)
    assert response.status_code == 302
    assert response["Location"] == reverse("certificates:job_detail", args=[job.pk])
    assert (job.status, job.total, job.done, job.error) == (DocumentJob.Status.DONE, 1, 1, "")
    document = job.files.get()
    assert document.key == "report"
    with default_storage.open(document.file.name, "rb") as handle:
        return job, handle.read()


def count_row(label: str, male: int, female: int, total: int) -> re.Pattern:
    return re.compile(rf"^\s*\d+\s+{re.escape(label)}\s+{male}\s+{female}\s+{total}\s*$", re.M)


def total_row(male: int, female: int, total: int) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(id_text('Total'))}\s+{male}\s+{female}\s+{total}\s*$", re.M)


def percent_text(value: float) -> str:
    """As the Indonesian document writes a percentage: one decimal, decimal comma."""
    return f"{value:.1f}".replace(".", ",")


def test_the_report_pdf_carries_the_batchs_figures(client, staff, batch, tmp_path, django_capture_on_commit_callbacks):
    _job, pdf = report_pdf(client, staff, batch, django_capture_on_commit_callbacks)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    words = flat(text)

    # The facts.
    assert "13 s.d. 15 Oktober 2025" in words
    assert "Aula UPT PTKS Malang" in words
    assert "Kabupaten Situbondo, Kota Batu" in words
    assert "UPT PTKS Malang" in words

    # By pillar and by regency/city, with the men and women and the totals.
    assert count_row("Pekerja Sosial Masyarakat", 3, 1, 4).search(text)
    assert count_row("Tenaga Kesejahteraan Sosial Kecamatan", 0, 2, 2).search(text)
    assert count_row("Kabupaten Situbondo", 2, 1, 3).search(text)
    assert count_row("Kota Batu", 1, 2, 3).search(text)
    assert len(total_row(3, 3, 6).findall(text)) == 2

    # The timetable: the facilitators who taught once recorded, else those scheduled; the total JP.
    assert re.search(r"13 Oktober 2025\s+08\.00 - 09\.30 WIB\s+Kebijakan Kesejahteraan Sosial", text)
    assert re.search(r"14 Oktober 2025\s+08\.00 - 10\.15 WIB\s+Sinergitas Pilar Sosial", text)
    assert re.search(r"15 Oktober 2025\s+13\.00 - 15\.15 WIB\s+Pemetaan Sosial\s+Yuliana Kartika\s+3\s*$", text, re.M)
    for name in ("Drs. Budi Santoso", "Siti Aminah, S.Sos."):
        assert name in words
    assert "Rahmat Hidayat" not in words
    assert re.search(rf"{re.escape(id_text('Total JP'))}\s+8\s*$", text, re.M)

    # Every participant with the recap's JP and percentage, and whether they meet the rule.
    matrix = attendance_matrix(batch=batch)
    assert matrix.jp_scheduled == 8
    for row in matrix.rows:
        name = row.enrollment.person.full_name
        rule = id_text("Meets the rule") if row.eligible else id_text("Below the rule")
        line = re.search(rf"^.*{re.escape(name)}.*$", text, re.M)[0]
        assert re.search(rf"\b{row.jp_attended}\s*/\s*8\s+{re.escape(percent_text(row.percent))}\s+{rule}", line), line
    below = next(row for row in matrix.rows if row.enrollment.person.full_name == BELOW)
    assert (below.jp_attended, below.percent, below.eligible) == (5, 62.5, False)

    # The pass rate exactly as the recap counts it; the average; the certificates.
    passed = sum(1 for row in matrix.rows if row.eligible)
    assert passed == 5
    rate = percent_text(round(passed * 100 / len(matrix.rows), 1))
    assert f"{id_text('Participants who meet the pass rule')} {passed} / 6 ({rate}%)" in words
    average = percent_text(round(sum(row.jp_attended for row in matrix.rows) * 100 / (8 * 6), 1))
    assert f"{id_text('Average attendance')} {average}%" in words
    assert f"{id_text('Certificates issued (valid)')} 2" in words
    assert f"{id_text('Certificates revoked')} 1" in words
    assert Certificate.objects.filter(enrollment__batch=batch, revoked_at__isnull=True).count() == 2

    # Room for the committee, and the head's approval.
    for label in ("Chair of the committee", "Secretary", "Approved by"):
        assert id_text(label) in words
    assert "Sri Wahyuni" in words
    assert "19700101 199503 1 001" in words


def test_the_report_never_prints_personal_data(client, staff, batch, tmp_path, django_capture_on_commit_callbacks):
    _job, pdf = report_pdf(client, staff, batch, django_capture_on_commit_callbacks)
    text = pdf_text(pdf, tmp_path)
    digits = re.sub(r"\s", "", text)
    assert NIK_PREFIX not in digits
    assert PHONE_PREFIX not in digits
    assert "Melati" not in text
    assert "1985" not in text and "17 Agustus" not in text


def test_the_page_numbers_read_page_x_of_y(client, staff, tmp_path, django_capture_on_commit_callbacks):
    people = [(f"Peserta {i:03d}", SITUBONDO, "psm", "L") for i in range(1, 61)]
    batch = make_batch(staff, people=people)
    _job, pdf = report_pdf(client, staff, batch, django_capture_on_commit_callbacks)
    text = flat(pdf_text(pdf, tmp_path))
    label = re.escape(id_text("Page %(page)s of %(pages)s", page="§", pages="¤"))
    found = re.findall(label.replace("§", r"(\d+)").replace("¤", r"(\d+)"), text)
    assert len(found) >= 2
    total = int(found[0][1])
    assert [int(page) for page, _of in found] == list(range(1, total + 1))
    # The recap's header is repeated on every page it runs over.
    assert text.count(id_text("JP attended")) >= 2


def test_the_job_page_lists_the_report_and_it_downloads(client, staff, batch, django_capture_on_commit_callbacks):
    job, pdf = report_pdf(client, staff, batch, django_capture_on_commit_callbacks)
    document = job.files.get()
    assert job.title == id_text("Batch report · %(batch)s", batch=batch.name)
    assert document.title == job.title
    page = client.get(reverse("certificates:job_detail", args=[job.pk])).content.decode()
    assert reverse("certificates:file_download", args=[document.pk]) in page
    response = client.get(reverse("certificates:file_download", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="laporan-angkatan-{batch.pk}.pdf"'
    assert b"".join(response.streaming_content) == pdf


def test_the_documents_page_has_the_report_button(client, staff, batch):
    client.force_login(staff)
    page = client.get(reverse("certificates:batch_documents", args=[batch.pk])).content.decode()
    assert f'action="{reverse("certificates:batch_report", args=[batch.pk])}"' in page
    assert 'name="batch_report"' in page


def test_running_the_report_again_makes_no_second_file(staff, batch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_batch_report(actor=staff, batch=batch)
    first = job.files.get()
    DocumentJob.objects.filter(pk=job.pk).update(status=DocumentJob.Status.RUNNING)
    assert services.document_job_run(job_id=job.pk) == []
    services.document_job_render_report(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.DONE
    assert list(DocumentFile.objects.filter(job=job)) == [first]


def test_a_draft_batch_has_no_report(staff):
    draft = BatchFactory(organiser=staff.organiser, status=Batch.Status.DRAFT)
    with pytest.raises(ValidationError, match="setelah angkatan tidak lagi berstatus draf"):
        services.document_job_batch_report(actor=staff, batch=draft)
    assert not DocumentJob.objects.exists()


@pytest.mark.parametrize("status", [Batch.Status.NOMINATION_OPEN, Batch.Status.RUNNING])
def test_a_report_can_be_made_before_the_batch_is_finished(staff, status, django_capture_on_commit_callbacks):
    batch = make_batch(staff, people=PEOPLE[:2])
    Batch.objects.filter(pk=batch.pk).update(status=status)
    batch.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.document_job_batch_report(actor=staff, batch=batch)
    job.refresh_from_db()
    assert job.status == DocumentJob.Status.DONE
    assert job.files.count() == 1


def queries_for(batch) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        batch_report(batch=batch)
    return [query["sql"] for query in queries]


def test_the_report_reads_a_fixed_number_of_queries(staff):
    small = make_batch(staff, people=PEOPLE[:3])
    many = [
        (f"Peserta {i:03d}", SITUBONDO if i % 2 else BATU, "psm" if i % 3 else "tksk", "LP"[i % 2]) for i in range(12)
    ]
    large = make_batch(staff, people=many)
    few, more = queries_for(small), queries_for(large)
    assert len(few) == len(more) == 9
    # Personal data is not even read.
    for column in ("nik", "birth_date", "phone", "address"):
        assert not any(f'"participants_person"."{column}"' in sql for sql in more), column
    assert any('"participants_person"."full_name"' in sql for sql in more)


def test_who_may_ask_for_the_report(client, staff, batch):
    url = reverse("certificates:batch_report", args=[batch.pk])
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))

    teacher = FacilitatorUserFactory(record__organiser=staff.organiser)
    batch.sessions.first().facilitators.add(teacher.facilitator)
    outcomes = {
        "other_staff": (StaffFactory(organiser__code="DINSOS-SBY"), 404),
        "operator": (OperatorFactory(kabupaten=region(SITUBONDO)), 403),
        "operator_elsewhere": (OperatorFactory(kabupaten=region("35.15")), 404),
        "facilitator": (teacher, 403),
    }
    for role, (user, status) in outcomes.items():
        client.force_login(user)
        assert client.post(url).status_code == status, role
        assert client.get(url).status_code == 405, role
    assert not DocumentJob.objects.exists()
    with pytest.raises(PermissionDenied):
        services.document_job_batch_report(actor=outcomes["operator"][0], batch=batch)
