"""Attendance sheets (daftar hadir): the data in a fixed number of queries, and the PDFs read back as text."""

import io
import itertools
import random
import re
import subprocess
from datetime import date, datetime, time

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image

from certificates.rendering import render_attendance_sheets
from certificates.sheets import attendance_sheets, render_attendance_sheet, sheet_keys
from participants.models import Enrollment, Nomination, Person
from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Attendance, BatchVenue, Session

pytestmark = pytest.mark.django_db

DAY = date(2025, 10, 14)  # a Tuesday
RECORDED = timezone.make_aware(datetime(2025, 10, 14, 9, 30))
NIPS = ["198609262015051001", "197503172000032002"]
# Statuses of the first participants (by name) at the session; everyone else is present.
STATUSES = ["sakit", "sakit", "izin", "alpa", "alpa", "alpa", "terlambat"]
UNIQUE = itertools.count(1)  # NIKs and phones differ across batches


def id_text(message: str, **values) -> str:
    """A message as the document (always in the site's language) writes it."""
    with translation.override("id"):
        return gettext(message) % values if values else gettext(message)


def pdf_text(pdf: bytes, tmp_path, page: int | None = None) -> str:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    result = subprocess.run(  # noqa: S603 - a fixed local tool
        ["/usr/bin/pdftotext", "-layout", *pages, str(path), "-"], capture_output=True, check=True, text=True
    )
    return result.stdout


def page_count(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(  # noqa: S603 - a fixed local tool
        ["/usr/bin/pdfinfo", str(path)], capture_output=True, check=True, text=True
    )
    return int(re.search(r"^Pages:\s+(\d+)$", result.stdout, re.M)[1])


def table_header(*, status: bool = True) -> re.Pattern:
    """The participants' table header as one line of `pdftotext -layout`."""
    with translation.override("id"):
        labels = [gettext("No."), gettext("Name"), gettext("Origin"), gettext("Pillar"), gettext("Signature")]
        if status:
            labels.append(gettext("Rem."))
    return re.compile(r"\s+".join(re.escape(label) for label in labels) + r"\s*$", re.M)


def flat(text: str) -> str:
    """The text with every run of whitespace as one space: phrases read whole whatever the layout."""
    return " ".join(text.split())


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS", organiser__name="UPT PTKS Malang")


def make_batch(staff, *, participants: int):
    """A batch whose participants, named "Peserta 001"… in shuffled order, come from two regencies and pillars."""
    batch = BatchFactory(organiser=staff.organiser, name="Angkatan I Kabupaten Situbondo", venue="Aula UPT PTKS")
    serials = list(range(1, participants + 1))
    random.Random(7).shuffle(serials)  # noqa: S311 - a fixed test order
    for serial in serials:
        unique = next(UNIQUE)
        kabupaten, kind = (region("35.12"), pillar("psm")) if serial % 2 else (region("35.79"), pillar("tksk"))
        person = Person.objects.create(
            nik=f"351241170885{unique:04d}",
            full_name=f"Peserta {serial:03d}",
            gender="P",
            birth_place="Situbondo",
            birth_date=date(1985, 8, 17),
            address=f"Jl. Melati No. {unique}",
            phone=f"0812777{unique:05d}",
            kabupaten=kabupaten,
            pillar_type=kind,
        )
        nomination = Nomination.objects.create(
            batch=batch,
            person=person,
            kabupaten=kabupaten,
            pillar_type=kind,
            status=Nomination.Status.ACCEPTED,
            nominated_by=staff,
        )
        Enrollment.objects.create(batch=batch, person=person, nomination=nomination)
    return batch


def add_session(batch, *, start: time, end: time, title: str, day: date = DAY, facilitators=(), **kwargs):
    session = SessionFactory(
        batch=batch,
        date=day,
        start_time=start,
        end_time=end,
        module=ModuleFactory(program=batch.program, title=title),
        **kwargs,
    )
    session.facilitators.set(facilitators)
    return session


def record(session, statuses=STATUSES):
    """The listed statuses for the first participants by name, hadir for the rest."""
    enrollments = session.batch.enrollments.order_by("person__full_name")
    Attendance.objects.bulk_create(
        Attendance(
            session=session,
            enrollment=enrollment,
            status=statuses[i] if i < len(statuses) else "hadir",
            method="staff",
            recorded_at=RECORDED,
        )
        for i, enrollment in enumerate(enrollments)
    )


@pytest.fixture
def batch40(staff):
    batch = make_batch(staff, participants=40)
    facilitators = [
        FacilitatorFactory(organiser=staff.organiser, name="Dra. Sri Wahyuni, M.Si.", nip=NIPS[0]),
        FacilitatorFactory(organiser=staff.organiser, name="Bambang Santoso", nip=NIPS[1]),
    ]
    session = add_session(
        batch, start=time(8, 0), end=time(9, 30), title="Peran dan Tupoksi TKSK", facilitators=facilitators
    )
    record(session)
    return batch, session


def the_sheet(batch, key, **kwargs):
    [sheet] = attendance_sheets(batch=batch, keys=[key], **kwargs)
    return sheet


def test_a_session_sheet_shows_its_header_every_participant_and_the_recorded_counts(batch40, tmp_path, poppler):
    batch, session = batch40
    sheet = the_sheet(batch, f"session-{session.pk}")
    assert sheet["filename"] == "daftar-hadir-2025-10-14-0800.pdf"
    pdf = render_attendance_sheet(sheet)
    assert pdf.startswith(b"%PDF")
    text = flat(pdf_text(pdf, tmp_path))

    assert id_text("ATTENDANCE SHEET") in text
    assert batch.program.title in text and "Angkatan I Kabupaten Situbondo" in text
    assert "Selasa, 14 Oktober 2025" in text
    assert "08.00 - 09.30 WIB" in text
    assert "Peran dan Tupoksi TKSK" in text
    assert "Aula UPT PTKS" in text
    for name in ("Dra. Sri Wahyuni, M.Si.", "Bambang Santoso"):
        assert name in text
    assert "19860926 201505 1 001" in text and "19750317 200003 2 002" in text
    for serial in range(1, 41):
        assert f"Peserta {serial:03d}" in text
    assert "Kabupaten Situbondo" in text and "Kota Batu" in text and "TKSK" in text

    # The footer counts are those recorded: 2 sakit, 1 izin, 3 alpa (the one terlambat is not among them).
    assert (
        id_text(
            "Remarks: sick %(sick)s people, excused %(excused)s people, absent %(absent)s people",
            sick=2,
            excused=1,
            absent=3,
        )
        in text
    )
    assert sheet["counts"] == {"sick": 2, "excused": 1, "absent": 3}
    assert "Malang, 14 Oktober 2025" in text
    assert id_text("Class officer / Committee") in text


def test_the_table_header_repeats_on_every_page(batch40, tmp_path, poppler):
    batch, session = batch40
    pdf = render_attendance_sheet(the_sheet(batch, f"session-{session.pk}"))
    pages = page_count(pdf, tmp_path)
    assert pages > 1
    header = table_header()
    seen = set()
    for page in range(1, pages + 1):
        text = pdf_text(pdf, tmp_path, page=page)
        assert header.search(text), f"no table header on page {page}"
        seen |= set(re.findall(r"Peserta \d{3}", text))
    assert len(seen) == 40  # and nobody was lost at a page break


def test_rows_are_numbered_by_name_with_the_signature_number_left_for_odd_and_right_for_even(
    batch40, tmp_path, poppler
):
    batch, session = batch40
    text = pdf_text(render_attendance_sheet(the_sheet(batch, f"session-{session.pk}")), tmp_path)
    lines = text.splitlines()
    offsets = {}
    for number in range(1, 41):
        # Ordered by name: row n is "Peserta 00n", whatever order they enrolled in.
        [line] = [line for line in lines if re.match(rf"^\s*{number}\s+Peserta {number:03d}\b", line)]
        offsets[number] = line.rindex(f" {number}.")
    odd = [offsets[n] for n in range(1, 41, 2)]
    even = [offsets[n] for n in range(2, 41, 2)]
    assert max(odd) < min(even)
    # The recorded statuses as letters: the first two by name were sick, then izin, alpa.
    assert re.search(r"\bS\s*$", [line for line in lines if "Peserta 001" in line][0])
    assert re.search(r"\bA\s*$", [line for line in lines if "Peserta 004" in line][0])
    assert re.search(r"\bH\s*$", [line for line in lines if "Peserta 040" in line][0])


def test_no_personal_data_of_participants_on_the_sheet(batch40, tmp_path, poppler):
    batch, session = batch40
    sheets = attendance_sheets(batch=batch, keys=sheet_keys(batch=batch))
    for sheet in sheets:
        text = pdf_text(render_attendance_sheet(sheet), tmp_path)
        digits = re.sub(r"\D", "", text)
        for person in Person.objects.all():
            assert person.nik not in digits and person.phone not in digits
            assert person.address not in text
            assert "17 Agustus 1985" not in text and "1985-08-17" not in text
        assert not re.search(r"\d{16}", text)


def test_a_future_session_has_no_status_column_and_blank_counts(staff, tmp_path, poppler):
    batch = make_batch(staff, participants=5)
    session = add_session(batch, start=time(10, 0), end=time(11, 30), title="Jejaring Kerja")
    before = timezone.make_aware(datetime(2025, 10, 14, 7, 0))
    sheet = the_sheet(batch, f"session-{session.pk}", now=before)
    assert sheet["counts"] is None and sheet["held_sessions"] == []
    layout = pdf_text(render_attendance_sheet(sheet), tmp_path)
    assert table_header(status=False).search(layout) and not table_header().search(layout)
    text = flat(layout)
    blank = "....."
    assert (
        id_text(
            "Remarks: sick %(sick)s people, excused %(excused)s people, absent %(absent)s people",
            sick=blank,
            excused=blank,
            absent=blank,
        )
        in text
    )


def test_a_day_sheet_lists_the_days_sessions_and_sums_the_held_ones(staff, tmp_path, poppler):
    batch = make_batch(staff, participants=6)
    BatchVenue.objects.create(batch=batch, date=DAY, venue="Hotel Purnama, Batu")
    widyaiswara = FacilitatorFactory(organiser=staff.organiser, name="Drs. Agus Prasetyo")
    first = add_session(batch, start=time(8, 0), end=time(9, 30), title="Kebijakan Sosial", facilitators=[widyaiswara])
    second = add_session(batch, start=time(9, 45), end=time(11, 15), title="Pendataan PMKS")
    add_session(batch, start=time(13, 0), end=time(14, 30), title="Analisis Masalah")
    add_session(batch, start=time(8, 0), end=time(9, 30), title="Simulasi", day=date(2025, 10, 15))
    record(first, ["sakit", "izin"])
    record(second, ["sakit", "alpa", "alpa"])
    noon = timezone.make_aware(datetime(2025, 10, 14, 12, 0))
    sheet = the_sheet(batch, "day-2025-10-14", now=noon)
    assert sheet["filename"] == "daftar-hadir-2025-10-14.pdf"
    assert [s["title"] for s in sheet["held_sessions"]] == ["Kebijakan Sosial", "Pendataan PMKS"]
    assert sheet["counts"] == {"sick": 2, "excused": 1, "absent": 2}

    text = flat(pdf_text(render_attendance_sheet(sheet), tmp_path))
    assert id_text("DAILY ATTENDANCE SHEET") in text and "Selasa, 14 Oktober 2025" in text
    for line in (
        "08.00 - 09.30 WIB Kebijakan Sosial Drs. Agus Prasetyo",
        "09.45 - 11.15 WIB Pendataan PMKS",
        "13.00 - 14.30 WIB Analisis Masalah",
    ):
        assert line in text
    assert "Simulasi" not in text
    assert "Hotel Purnama, Batu" in text
    assert (
        id_text(
            "Remarks: sick %(sick)s people, excused %(excused)s people, absent %(absent)s people",
            sick=2,
            excused=1,
            absent=2,
        )
        in text
    )
    for serial in range(1, 7):
        assert f"Peserta {serial:03d}" in text


def test_sheet_keys_are_sessions_in_timetable_order_then_days(staff, django_assert_max_num_queries):
    batch = make_batch(staff, participants=1)
    late = add_session(batch, start=time(13, 0), end=time(14, 0), title="B", day=date(2025, 10, 15))
    early = add_session(batch, start=time(8, 0), end=time(9, 0), title="A", day=date(2025, 10, 15))
    first = add_session(batch, start=time(10, 0), end=time(11, 0), title="C", day=DAY)
    with django_assert_max_num_queries(2):
        keys = sheet_keys(batch=batch)
    assert keys == [
        f"session-{first.pk}",
        f"session-{early.pk}",
        f"session-{late.pk}",
        "day-2025-10-14",
        "day-2025-10-15",
    ]


def query_count(batch, keys) -> int:
    with CaptureQueriesContext(connection) as queries:
        sheets = attendance_sheets(batch=batch, keys=keys)
    assert len(sheets) == len(keys)
    return len(queries)


def batch_with_days(staff, participants: int):
    batch = make_batch(staff, participants=participants)
    facilitator = FacilitatorFactory(organiser=staff.organiser)
    sessions = [
        add_session(batch, start=time(8 + 2 * i, 0), end=time(9 + 2 * i, 30), title=f"M{i}", facilitators=[facilitator])
        for i in range(participants // 5)
    ]
    add_session(batch, start=time(8, 0), end=time(9, 0), title="Besok", day=date(2025, 10, 15))
    for session in sessions:
        record(session)
    return batch


def test_the_number_of_queries_does_not_grow_with_participants_or_sessions(staff):
    small = batch_with_days(staff, participants=5)
    large = batch_with_days(staff, participants=40)
    assert query_count(small, sheet_keys(batch=small)) == query_count(large, sheet_keys(batch=large)) <= 7


def test_unknown_keys_are_ignored_and_the_order_of_the_keys_is_kept(batch40, staff):
    batch, session = batch40
    other = add_session(make_batch(staff, participants=1), start=time(8, 0), end=time(9, 0), title="Lain")
    keys = [
        "day-2025-10-14",
        "session-999999",
        f"session-{other.pk}",  # another batch's session
        "day-2025-10-20",  # a day without sessions
        "day-2025-13-45",
        "session-abc",
        "sesi-1",
        f"session-{session.pk}",
        "day-2025-10-14",
    ]
    sheets = attendance_sheets(batch=batch, keys=keys)
    assert [sheet["key"] for sheet in sheets] == ["day-2025-10-14", f"session-{session.pk}"]
    assert attendance_sheets(batch=batch, keys=["nonsense"]) == []


def test_sessions_at_the_same_time_get_distinct_filenames(staff):
    batch = make_batch(staff, participants=1)
    one = add_session(batch, start=time(8, 0), end=time(9, 0), title="Kelas A")
    two = add_session(batch, start=time(8, 0), end=time(9, 0), title="Kelas B")
    sheets = attendance_sheets(batch=batch, keys=[f"session-{one.pk}", f"session-{two.pk}"])
    names = [sheet["filename"] for sheet in sheets]
    assert len(set(names)) == 2 and all(re.fullmatch(r"daftar-hadir-2025-10-14-0800-\d+\.pdf", n) for n in names)
    assert sheets[0]["title"] == id_text(
        "Attendance sheet · %(date)s · %(time)s · %(materi)s",
        date="Selasa, 14 Oktober 2025",
        time="08.00 - 09.00 WIB",
        materi="Kelas A",
    )


def test_a_session_with_recorded_attendance_counts_as_held_before_it_ends(staff):
    batch = make_batch(staff, participants=3)
    session = add_session(batch, start=time(10, 0), end=time(11, 30), title="Komunikasi")
    record(session, ["izin"])
    during = timezone.make_aware(datetime(2025, 10, 14, 10, 15))
    sheet = the_sheet(batch, f"session-{session.pk}", now=during)
    assert [row["marks"] for row in sheet["rows"]] == [["I"], ["H"], ["H"]]
    assert sheet["counts"] == {"sick": 0, "excused": 1, "absent": 0}


def test_the_sheet_names_who_taught_once_recorded(staff):
    batch = make_batch(staff, participants=1)
    scheduled = FacilitatorFactory(organiser=staff.organiser, name="Terjadwal")
    replacement = FacilitatorFactory(organiser=staff.organiser, name="Pengganti", nip="")
    session = add_session(batch, start=time(8, 0), end=time(9, 0), title="X", facilitators=[scheduled])
    assert the_sheet(batch, f"session-{session.pk}")["session"]["facilitators"] == [{"name": "Terjadwal", "nip": ""}]
    session.taught_by.set([replacement])
    Session.objects.filter(pk=session.pk).update(taught_recorded=True)
    assert the_sheet(batch, f"session-{session.pk}")["session"]["facilitators"] == [{"name": "Pengganti", "nip": ""}]


def test_the_letterhead_embeds_the_logo_and_several_sheets_print_as_one_document(batch40, tmp_path, poppler):
    batch, session = batch40
    image = io.BytesIO()
    Image.new("RGB", (120, 120), (20, 80, 160)).save(image, "PNG")
    batch.organiser.logo.save("logo.png", ContentFile(image.getvalue()))
    sheets = attendance_sheets(batch=batch, keys=sheet_keys(batch=batch))
    assert [sheet["kind"] for sheet in sheets] == ["session", "day"]
    assert sheets[0]["organiser"]["logo"].startswith("data:image/png;base64,")
    files = [render_attendance_sheet(sheet) for sheet in sheets]
    assert "UPT PTKS Malang" in pdf_text(files[0], tmp_path)
    merged = render_attendance_sheets(sheets)
    assert page_count(merged, tmp_path) == sum(page_count(pdf, tmp_path) for pdf in files)


def test_a_long_materi_keeps_the_title_within_what_a_document_record_holds(staff):
    batch = make_batch(staff, participants=1)
    # A session title as long as the field allows: with the date and time in front, the sheet's title is longer.
    session = add_session(batch, start=time(8, 0), end=time(9, 0), title="Sesi " + "sangat panjang " * 16)
    title = the_sheet(batch, f"session-{session.pk}")["title"]
    assert len(title) == 250 and title.endswith("…")
