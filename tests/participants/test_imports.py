"""Nominating from a spreadsheet: the template, reading .xlsx and .csv, the row-by-row check (each problem at
its row and column, warnings that do not block, quotas counted in file order), the refusals of a whole file,
the confirmation (valid rows only, once, re-checked) and who may see which upload."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override
from openpyxl import Workbook, load_workbook

from participants import services
from participants.imports import COLUMNS, MAX_ROWS, SHEET_INSTRUCTIONS, SHEET_PARTICIPANTS, SHEET_REFERENCE
from participants.models import Enrollment, Nomination, NominationEvent, NominationUpload, Person
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

HEADERS = [column.header for column in COLUMNS]
SITUBONDO, GRESIK, PROBOLINGGO = "35.12", "35.25", "35.13"


# ------------------------------------------------------------------------------------------------ helpers


def make_nik(birth: date, *, female=False, region_code="351201", serial=1) -> str:
    day = birth.day + (40 if female else 0)
    return f"{region_code}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def row(serial=1, **values) -> dict:
    """A valid Situbondo participant; keyword arguments replace cells (by column key)."""
    birth = date(1985, 10, 13)
    cells = {
        "nik": make_nik(birth, serial=serial),
        "full_name": f"Peserta {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": "13-10-1985",
        "address": "Jl. Anggrek 1",
        "village": "Sumberanyar",
        "kecamatan": "35.12.01",
        "phone": "081234567890",
        "email": "",
        "pillar_type": "PSM",
        "pillar_detail": "",
        "education": "SMA/SMK",
    }
    cells.update(values)
    return cells


def xlsx(rows, *, headers=HEADERS, title=SHEET_PARTICIPANTS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(headers)
    keys = [column.key for column in COLUMNS]
    for cells in rows:
        sheet.append([cells.get(key, "") for key in keys] if isinstance(cells, dict) else cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, *, delimiter=";", bom=True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(HEADERS)
    for cells in rows:
        writer.writerow([cells.get(column.key, "") for column in COLUMNS])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def upload_file(content: bytes, name="peserta.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def problems_of(upload) -> set:
    return {(p["row"], p["column"], p["code"]) for p in upload.report["problems"]}


def enroll(person, batch, kabupaten):
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=kabupaten,
        pillar_type=person.pillar_type,
        status=Nomination.Status.ACCEPTED,
        nominated_by=batch.organiser.users.first(),
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


def registry_person(nik, **fields) -> Person:
    values = {
        "full_name": "Nama Lama",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": date(1985, 10, 13),
        "kabupaten": region(SITUBONDO),
        "kecamatan": region("35.12.01"),
        "pillar_type": pillar("psm"),
        "phone": "081111111111",
    }
    values.update(fields)
    return Person.objects.create(nik=nik, **values)


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def organiser():
    return OrganiserFactory(code="UPT-PTKS")


@pytest.fixture
def staff(organiser):
    return StaffFactory(organiser=organiser)


@pytest.fixture
def operator():
    return OperatorFactory(kabupaten=region(SITUBONDO))


@pytest.fixture
def gresik_operator():
    return OperatorFactory(kabupaten=region(GRESIK))


@pytest.fixture
def batch(organiser, staff):
    """Open for nomination until ten days from now, 40 seats for Situbondo and 40 for Gresik."""
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=organiser,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=today + timedelta(days=30),
        end_date=today + timedelta(days=33),
        nomination_deadline=today + timedelta(days=10),
        quota_total=80,
    )
    for code in (SITUBONDO, GRESIK):
        QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=region(code), seats=40)
    return batch


def check(operator, batch, content, name="peserta.xlsx", kabupaten=None):
    return services.nomination_upload_check(
        actor=operator, batch=batch, kabupaten=kabupaten or operator.kabupaten, file=upload_file(content, name)
    )


def refusal(operator, batch, content, name="peserta.xlsx") -> ValidationError:
    with pytest.raises(ValidationError) as caught, override("en"):
        check(operator, batch, content, name)
    return caught.value.error_dict["file"][0]


# ----------------------------------------------------------------------------------------------- template


def test_template_has_the_columns_instructions_and_the_kabupatens_reference_values(client, operator, batch):
    client.force_login(operator)
    response = client.get(reverse("participants:import_template", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [SHEET_PARTICIPANTS, SHEET_INSTRUCTIONS, SHEET_REFERENCE]
    sheet = workbook[SHEET_PARTICIPANTS]
    assert [cell.value for cell in sheet[1]] == [
        "NIK",
        "Nama Lengkap",
        "Jenis Kelamin (L/P)",
        "Tempat Lahir",
        "Tanggal Lahir (DD-MM-YYYY)",
        "Alamat",
        "Desa/Kelurahan",
        "Kode Kecamatan",
        "No. HP/WA",
        "Email",
        "Pilar Sosial",
        "Keterangan Pilar",
        "Pendidikan Terakhir",
    ]
    # Excel turns a 16-digit number into 3.51E+15 and drops the last digit: the NIK column is text.
    assert sheet.column_dimensions["A"].number_format == "@"
    assert sheet.max_row == 1  # no example row that would be imported by mistake
    assert "NIK" in " ".join(str(c.value) for c in workbook[SHEET_INSTRUCTIONS]["A"])
    reference = workbook[SHEET_REFERENCE]
    pillars = {c.value for c in reference["A"][1:] if c.value}
    abbreviations = {c.value for c in reference["B"][1:] if c.value}
    assert {"Pekerja Sosial Masyarakat", "Tenaga Kesejahteraan Sosial Kecamatan"} <= pillars
    assert {"PSM", "TKSK"} <= abbreviations
    codes = [c.value for c in reference["D"][1:] if c.value]
    assert len(codes) == 17 and all(code.startswith("35.12.") for code in codes)  # Situbondo's only
    assert (reference["D2"].value, reference["E2"].value) == ("35.12.01", "Sumbermalang")
    assert {"SD", "SMA/SMK", "D4/S1"} <= {c.value for c in reference["G"][1:] if c.value}


def test_template_round_trip_to_nominations(client, operator, batch):
    client.force_login(operator)
    template = client.get(reverse("participants:import_template", args=[batch.pk])).content
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook[SHEET_PARTICIPANTS]
    keys = [column.key for column in COLUMNS]
    for serial in (1, 2, 3):
        cells = row(serial, pillar_type=["PSM", "tksk", "Karang Taruna"][serial - 1])
        sheet.append([cells[key] for key in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)

    response = client.post(
        reverse("participants:import_upload", args=[batch.pk]), {"file": upload_file(buffer.getvalue(), "isi.xlsx")}
    )
    upload = NominationUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("participants:import_preview", args=[batch.pk, upload.pk])
    assert Nomination.objects.count() == 0  # nothing before the confirmation

    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert upload.report["problems"] == []
    assert (upload.rows_total, upload.rows_valid) == (3, 3)
    content = preview.content.decode()
    assert "3512••••••••0001" in content and make_nik(date(1985, 10, 13), serial=1) not in content
    assert reverse("participants:import_confirm", args=[batch.pk, upload.pk]) in content

    response = client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("participants:batch_nominations", args=[batch.pk])
    nominations = Nomination.objects.filter(batch=batch).order_by("person__full_name")
    assert [(n.person.full_name, n.pillar_type.code) for n in nominations] == [
        ("Peserta 1", "psm"),
        ("Peserta 2", "tksk"),
        ("Peserta 3", "karang-taruna"),
    ]
    assert all(n.upload_id == upload.pk and n.kabupaten.code == SITUBONDO for n in nominations)
    assert all(n.nominated_by == operator and n.status == Nomination.Status.PENDING for n in nominations)
    assert NominationEvent.objects.filter(action=NominationEvent.Action.CREATED).count() == 3
    person = Person.objects.get(full_name="Peserta 1")
    assert (person.kecamatan.code, person.education, person.phone) == ("35.12.01", "sma", "081234567890")
    upload.refresh_from_db()
    assert (upload.status, upload.rows_imported) == (NominationUpload.Status.CONFIRMED, 3)


# ------------------------------------------------------------------------------------------------ the check


def test_every_kind_of_mistake_is_reported_at_its_row_and_column_and_nothing_is_written(operator, batch, organiser):
    birth = date(1985, 10, 13)
    already = registry_person(make_nik(birth, serial=50), full_name="Sudah Diusulkan")
    Nomination.objects.create(
        batch=batch, person=already, kabupaten=region(SITUBONDO), pillar_type=pillar("psm"), nominated_by=operator
    )
    # Enrolled in another batch at the same dates, and one who finished this program before.
    clash = BatchFactory(organiser=organiser, start_date=batch.start_date, end_date=batch.end_date)
    busy = registry_person(make_nik(birth, serial=51), full_name="Sedang Pelatihan")
    enroll(busy, clash, region(SITUBONDO))
    earlier = BatchFactory(
        organiser=organiser,
        program=batch.program,
        start_date=date(2024, 5, 6),
        end_date=date(2024, 5, 9),
        status=Batch.Status.FINISHED,
    )
    graduate = registry_person(make_nik(birth, serial=52), full_name="Alumni")
    enroll(graduate, earlier, region(SITUBONDO))
    QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.PILLAR, pillar_type=pillar("tagana"), seats=1)

    rows = [
        row(1),  # 2: valid
        row(2, nik="3512019910850002"),  # 3: no such date in the NIK
        row(3, nik=make_nik(birth, serial=3)),  # 4: the same NIK twice …
        row(4, nik=make_nik(birth, serial=3)),  # 5: … here again
        row(5, nik=already.nik),  # 6: already nominated
        row(6, pillar_type="Relawan"),  # 7: no such pillar
        row(7, kecamatan="35.25.01"),  # 8: a Gresik kecamatan
        row(8, full_name=""),  # 9: required
        row(9, nik=busy.nik),  # 10: enrolled elsewhere at the same time
        row(10, pillar_type="Tagana"),  # 11: takes the one Tagana seat
        row(11, pillar_type="tagana"),  # 12: … so this one exceeds the pillar quota
        row(12, birth_date="14-10-1985"),  # 13: the NIK says the 13th
        row(13, gender="P"),  # 14: the NIK is a man's
        row(14, nik=graduate.nik, full_name="Alumni"),  # 15: valid, with a warning
        row(15, nik=make_nik(birth, region_code="351301", serial=15)),  # 16: valid, NIK of Probolinggo: warning
        row(16, nik=make_nik(birth, region_code="351299", serial=16)),  # 17: valid, unknown kecamatan: warning
        row(17, birth_date="31-02-1985"),  # 18: not a date
        row(18, email="bukan-email"),  # 19
        row(19, education="Kuliah"),  # 20
    ]
    people_before = Person.objects.count()
    with override("en"):
        upload = check(operator, batch, xlsx(rows))
    assert problems_of(upload) == {
        (3, "NIK", "nik"),
        (4, "NIK", "duplicate"),
        (5, "NIK", "duplicate"),
        (6, "NIK", "nominated"),
        (7, "Pilar Sosial", "pillar"),
        (8, "Kode Kecamatan", "kecamatan"),
        (9, "Nama Lengkap", "required"),
        (10, "NIK", "overlap"),
        (12, "Pilar Sosial", "quota"),
        (13, "Tanggal Lahir (DD-MM-YYYY)", "nik"),
        (14, "Jenis Kelamin (L/P)", "nik"),
        (18, "Tanggal Lahir (DD-MM-YYYY)", "format"),
        (19, "Email", "format"),
        (20, "Pendidikan Terakhir", "format"),
    }
    messages = {(p["row"], p["column"]): p["message"] for p in upload.report["problems"]}
    assert "digits 7–12" in messages[3, "NIK"]
    assert "rows 4, 5" in messages[4, "NIK"]
    assert "already nominated" in messages[6, "NIK"]
    assert "Relawan" in messages[7, "Pilar Sosial"]
    assert "Kabupaten Situbondo" in messages[8, "Kode Kecamatan"]
    assert "overlapping dates" in messages[10, "NIK"]
    assert "Tagana" in messages[12, "Pilar Sosial"] and "full" in messages[12, "Pilar Sosial"]
    assert "does not match the NIK" in messages[13, "Tanggal Lahir (DD-MM-YYYY)"]
    warnings = {(w["row"], w["code"]): w["message"] for w in upload.report["warnings"]}
    assert "already completed this program" in warnings[15, "completed"]
    assert "another regency/city (35.13)" in warnings[16, "nik"]
    assert "35.12.99" in warnings[17, "nik"]
    assert [v["row"] for v in upload.report["valid"]] == [2, 11, 15, 16, 17]
    assert (upload.rows_total, upload.rows_valid, upload.report["rows_with_problems"]) == (19, 5, 14)
    # Nothing written but the upload itself.
    assert Nomination.objects.filter(batch=batch).count() == 1
    assert Person.objects.count() == people_before
    assert upload.status == NominationUpload.Status.CHECKED


def test_the_preview_lists_problems_warnings_and_valid_rows(client, operator, batch):
    upload = check(operator, batch, xlsx([row(1), row(2, pillar_type="Relawan"), row(3, nik="3513011310850003")]))
    client.force_login(operator)
    response = client.get(reverse("participants:import_preview", args=[batch.pk, upload.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'id="count-total">3<', content)
    assert re.search(r'id="count-valid">2<', content)
    assert re.search(r'id="count-problems">1<', content)
    assert re.search(r'<tr data-row="3" data-code="pillar">.*?Pilar Sosial.*?Relawan', content, re.S)
    assert re.search(r'<table [^>]*id="warnings">.*?data-row="4"', content, re.S)
    assert "3513••••••••0003" in content and "3513011310850003" not in content
    assert reverse("participants:import_discard", args=[batch.pk, upload.pk]) in content


def test_quota_is_counted_in_file_order(operator, batch):
    """Situbondo has 3 seats, one taken: of the good rows the first two fit and the next one exceeds; the one
    seat of kecamatan Besuki goes to the first row that names it."""
    QuotaAllocation.objects.filter(batch=batch, region=region(SITUBONDO)).update(seats=3)
    QuotaAllocation.objects.create(batch=batch, kind=QuotaAllocation.Kind.KECAMATAN, region=region("35.12.04"), seats=1)
    registry_person(make_nik(date(1985, 10, 13), serial=90))
    Nomination.objects.create(
        batch=batch,
        person=Person.objects.get(),
        kabupaten=region(SITUBONDO),
        pillar_type=pillar("psm"),
        nominated_by=operator,
    )
    rows = [
        row(1, kecamatan="35.12.04"),
        row(2, kecamatan="351204"),  # Besuki again: its one seat is gone
        row(3, pillar_type="Relawan"),  # invalid rows take no seat
        row(4),
        row(5),
    ]
    upload = check(operator, batch, xlsx(rows))
    assert problems_of(upload) == {
        (3, "Kode Kecamatan", "quota"),
        (4, "Pilar Sosial", "pillar"),
        (6, "", "quota"),
    }
    assert [v["row"] for v in upload.report["valid"]] == [2, 5]


def test_cells_are_read_as_operators_write_them(operator, batch):
    """A NIK as a number or with spaces and dots, dates as date cells or in three spellings, genders as words,
    kecamatan codes without dots, pillar names in any case, a phone number that lost its 0."""
    birth = date(1990, 2, 1)
    rows = [
        row(1, nik=int(make_nik(birth, serial=1)), birth_date=birth, phone=81234567890),
        row(2, nik="3512 0101 0290 0002", birth_date="01/02/1990", gender="Laki-laki", kecamatan="351201"),
        row(3, nik="3512.0141.0290.0003", birth_date="1990-02-01", gender="Perempuan", pillar_type="pekerja sosial"),
        row(
            4,
            nik=make_nik(birth, serial=4),
            birth_date="01-02-1990",
            pillar_type="tenaga kesejahteraan sosial kecamatan",
        ),
    ]
    upload = check(operator, batch, xlsx(rows))
    assert upload.report["problems"] == []
    services.nomination_upload_confirm(actor=operator, upload=upload)
    people = {p.nik[-4:]: p for p in Person.objects.all()}
    assert people["0001"].phone == "081234567890"
    assert people["0003"].gender == "P" and people["0003"].pillar_type.code == "peksos-profesional"
    assert people["0004"].pillar_type.code == "tksk"
    assert {p.birth_date for p in people.values()} == {birth}


def test_a_header_row_below_a_title_and_extra_columns_are_fine(operator, batch):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["DAFTAR PESERTA DINSOS KABUPATEN SITUBONDO"])
    sheet.append([])
    sheet.append(["No.", *HEADERS])
    sheet.append([1, *[row(1)[column.key] for column in COLUMNS]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = check(operator, batch, buffer.getvalue())
    assert upload.report["problems"] == []
    assert upload.report["valid"][0]["row"] == 4  # the sheet's own row number


@pytest.mark.parametrize("bom", [True, False])
def test_csv_with_semicolons(operator, batch, bom):
    upload = check(operator, batch, csv_bytes([row(1), row(2, nik="123")], bom=bom), name="peserta.csv")
    assert [v["row"] for v in upload.report["valid"]] == [2]
    assert problems_of(upload) == {(3, "NIK", "nik")}


def test_csv_with_commas_and_an_excel_ansi_encoding(operator, batch):
    content = csv_bytes([row(1, full_name="José Pérez")], delimiter=",", bom=False).decode().encode("cp1252")
    upload = check(operator, batch, content, name="PESERTA.CSV")
    assert upload.report["valid"][0]["name"] == "José Pérez"


# -------------------------------------------------------------------------------------------- refused files


def test_a_file_over_2_mb_is_refused(operator, batch):
    error = refusal(operator, batch, b"PK\x03\x04" + b"\x00" * (3 * 1024 * 1024))
    assert error.code == "size" and "2 MB" in error.message % (error.params or {})
    assert NominationUpload.objects.count() == 0


def test_more_than_2000_rows_are_refused(operator, batch):
    rows = [[f"3512011310{n:06d}", f"Peserta {n}", "L", "Situbondo", "13-10-1985"] for n in range(MAX_ROWS + 1)]
    error = refusal(operator, batch, xlsx(rows))
    assert error.code == "rows" and "2,000" in error.message
    assert NominationUpload.objects.count() == 0


def test_exactly_2000_rows_are_read(operator, batch):
    rows = [[f"3512011310{n:06d}", f"Peserta {n}", "L", "Situbondo", "13-10-1985"] for n in range(MAX_ROWS)]
    upload = check(operator, batch, xlsx(rows))
    assert upload.rows_total == MAX_ROWS


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"%PDF-1.7\n" + b"0" * 500, "peserta.xlsx", "unreadable"),
        (b"PK\x03\x04 not really a zip", "peserta.xlsx", "unreadable"),
        (b"%PDF-1.7\n" + b"0" * 500, "peserta.pdf", "extension"),
        (b"\xd0\xcf\x11\xe0 old excel", "peserta.xls", "extension"),
        (b"\x00\x01binary\x00", "peserta.csv", "unreadable"),
    ],
)
def test_a_file_that_is_not_a_spreadsheet_is_refused(operator, batch, content, name, code):
    error = refusal(operator, batch, content, name)
    assert error.code == code
    assert NominationUpload.objects.count() == 0


def test_a_spreadsheet_with_other_columns_is_refused_naming_the_missing_ones(operator, batch):
    content = xlsx([["3512011310850001", "Peserta", "L"]], headers=["NIK", "Nama", "L/P", "Lahir"])
    error = refusal(operator, batch, content)
    assert error.code == "columns"
    for header in ("Nama Lengkap", "Jenis Kelamin (L/P)", "Tempat Lahir", "Tanggal Lahir (DD-MM-YYYY)", "Pilar Sosial"):
        assert header in error.message
    assert "NIK," not in error.message.split("missing:")[1]


def test_a_spreadsheet_without_rows_is_refused(operator, batch):
    assert refusal(operator, batch, xlsx([[], []])).code == "empty"


def test_the_refusal_is_shown_next_to_the_file_field(client, operator, batch):
    client.force_login(operator)
    url = reverse("participants:import_upload", args=[batch.pk])
    response = client.post(url, {"file": upload_file(b"%PDF-1.7\n" + b"0" * 100, "surat.xlsx")})
    assert response.status_code == 200
    assert response.context["form"].has_error("file", "unreadable")
    assert 'id="error_1_id_file"' in response.content.decode()  # crispy shows it under the field
    assert NominationUpload.objects.count() == 0


@pytest.mark.parametrize("as_staff", [False, True])
def test_a_request_announced_over_2_mb_is_refused_before_its_body_is_read(client, operator, staff, batch, as_staff):
    """Judged by the request's Content-Length: the test client's body is far smaller than announced, so
    reading it would fail the request."""
    client.force_login(staff if as_staff else operator)
    query = f"?kabupaten={region(SITUBONDO).pk}" if as_staff else ""
    url = reverse("participants:import_upload", args=[batch.pk]) + query
    announced = 2 * 1024 * 1024 + 64 * 1024 + 1
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(url, {"file": upload_file(xlsx([row(1)]))}, CONTENT_LENGTH=str(announced))
    assert response.status_code == 200
    [error] = response.context["form"].errors["file"]
    assert error == "The file is 2.0 MB; the limit is 2 MB. Split the participants over several files."
    assert 'id="error_1_id_file"' in response.content.decode()
    assert NominationUpload.objects.count() == 0


def test_a_file_just_under_the_limit_is_read_and_checked(client, operator, batch):
    """The early refusal leaves room for the multipart envelope: a 2 MB file reaches the check."""
    client.force_login(operator)
    content = b"PK\x03\x04" + b"\x00" * (2 * 1024 * 1024 - 4)
    response = client.post(reverse("participants:import_upload", args=[batch.pk]), {"file": upload_file(content)})
    assert response.status_code == 200
    assert response.context["form"].has_error("file", "unreadable")


@pytest.mark.parametrize("value", ["2147483648", str(2**63), str(10**30), "abc"])
def test_a_kabupaten_id_out_of_range_is_404(client, staff, batch, value):
    client.force_login(staff)
    for name in ("import_upload", "import_template"):
        assert client.get(reverse(f"participants:{name}", args=[batch.pk]), {"kabupaten": value}).status_code == 404
    response = client.post(
        reverse("participants:import_upload", args=[batch.pk]) + f"?kabupaten={value}",
        {"file": upload_file(xlsx([row(1)]))},
    )
    assert response.status_code == 404
    assert NominationUpload.objects.count() == 0


# -------------------------------------------------------------------------------------------- confirmation


def test_the_file_and_report_are_kept_and_only_valid_rows_are_imported(operator, batch):
    content = xlsx([row(1), row(2, nik="3512019910850002"), row(3)])
    upload = check(operator, batch, content)
    upload.refresh_from_db()
    with upload.file.open("rb") as stored:
        assert stored.read() == content
    assert upload.original_name == "peserta.xlsx"
    assert problems_of(upload) == {(3, "NIK", "nik")}

    services.nomination_upload_confirm(actor=operator, upload=upload)
    upload.refresh_from_db()
    assert (upload.status, upload.rows_imported) == (NominationUpload.Status.CONFIRMED, 2)
    assert upload.confirmed_at is not None
    assert sorted(upload.nominations.values_list("person__full_name", flat=True)) == ["Peserta 1", "Peserta 3"]
    assert not Person.objects.filter(nik="3512019910850002").exists()
    assert upload.report["problems"]  # the check's report is still there
    event = NominationEvent.objects.filter(action=NominationEvent.Action.CREATED).order_by("pk").first()
    assert "peserta.xlsx" in event.note and event.actor == operator


def test_confirming_twice_imports_once(client, operator, batch):
    upload = check(operator, batch, xlsx([row(1), row(2)]))
    client.force_login(operator)
    url = reverse("participants:import_confirm", args=[batch.pk, upload.pk])
    assert client.post(url).status_code == 302
    response = client.post(url)
    assert response["Location"] == reverse("participants:import_preview", args=[batch.pk, upload.pk])
    assert Nomination.objects.count() == 2
    with pytest.raises(ValidationError, match="Berkas ini sudah diimpor"):
        services.nomination_upload_confirm(actor=operator, upload=upload)
    assert Nomination.objects.count() == 2


def test_confirm_checks_again_and_keeps_why_rows_were_refused(client, operator, batch):
    QuotaAllocation.objects.filter(batch=batch, region=region(SITUBONDO)).update(seats=2)
    upload = check(operator, batch, xlsx([row(1), row(2)]))
    # Meanwhile row 2's person is nominated by hand.
    services.nomination_submit(
        actor=operator,
        batch=batch,
        kabupaten=region(SITUBONDO),
        data=services.PersonData(
            nik=make_nik(date(1985, 10, 13), serial=2),
            full_name="Peserta 2",
            gender="L",
            birth_place="Situbondo",
            birth_date=date(1985, 10, 13),
            kabupaten=region(SITUBONDO),
            pillar_type=pillar("psm"),
        ),
    )
    client.force_login(operator)
    response = client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk]))
    preview_url = reverse("participants:import_preview", args=[batch.pk, upload.pk])
    assert response["Location"] == preview_url  # back to the report, which says why
    upload.refresh_from_db()
    assert (upload.status, upload.rows_imported) == (NominationUpload.Status.CONFIRMED, 1)
    assert [(p["row"], p["code"]) for p in upload.report["refused_on_confirm"]] == [(3, "nominated")]
    assert Nomination.objects.filter(batch=batch).count() == 2
    content = client.get(preview_url).content.decode()
    assert re.search(r'<table [^>]*id="refused">.*?data-row="3" data-code="nominated"', content, re.S)
    assert 'id="confirm-button"' not in content


def test_confirm_corrects_the_registry_and_records_old_and_new(operator, batch):
    nik = make_nik(date(1985, 10, 13), serial=1)
    person = registry_person(nik, full_name="Nama Lama", pillar_type=pillar("tksk"), email="lama@example.org")
    upload = check(operator, batch, xlsx([row(1, full_name="Nama Baru", phone="", email="")]))
    assert upload.report["warnings"][0]["code"] == "registry"
    services.nomination_upload_confirm(actor=operator, upload=upload)
    person.refresh_from_db()
    assert (person.full_name, person.pillar_type.code) == ("Nama Baru", "psm")
    # Empty optional cells keep what the registry knew.
    assert (person.phone, person.email) == ("081111111111", "lama@example.org")
    event = NominationEvent.objects.get(action=NominationEvent.Action.PERSON_CHANGED)
    assert event.changes["full_name"] == ["Nama Lama", "Nama Baru"]
    assert event.changes["pillar_type"] == ["TKSK", "PSM"]
    assert Person.objects.count() == 1


def test_discarding_deletes_the_file_and_nominates_nobody(client, operator, batch, django_capture_on_commit_callbacks):
    upload = check(operator, batch, xlsx([row(1)]))
    stored = upload.file.name
    storage = upload.file.storage
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("participants:import_discard", args=[batch.pk, upload.pk]))
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == NominationUpload.Status.DISCARDED
    assert not storage.exists(stored)
    assert Nomination.objects.count() == 0
    assert client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk])).status_code == 302
    assert Nomination.objects.count() == 0


# ---------------------------------------------------------------------------------------------------- access


def test_another_kabupatens_operator_cannot_find_the_upload(client, operator, gresik_operator, batch):
    upload = check(operator, batch, xlsx([row(1)]))
    client.force_login(gresik_operator)
    for name, method in (("import_preview", "get"), ("import_confirm", "post"), ("import_discard", "post")):
        response = getattr(client, method)(reverse(f"participants:{name}", args=[batch.pk, upload.pk]))
        assert response.status_code == 404, name
    assert client.get(reverse("participants:import_preview", args=[batch.pk, upload.pk + 1000])).status_code == 404
    upload.refresh_from_db()
    assert upload.status == NominationUpload.Status.CHECKED and Nomination.objects.count() == 0


def test_who_else_cannot_find_or_use_the_pages(client, operator, batch):
    upload = check(operator, batch, xlsx([row(1)]))
    outsiders = {
        "probolinggo operator": OperatorFactory(kabupaten=region(PROBOLINGGO)),  # no quota in this batch
        "other organiser's staff": StaffFactory(organiser=OrganiserFactory(code="DINSOS-SBY")),
    }
    for who, user in outsiders.items():
        client.force_login(user)
        for name in ("import_upload", "import_template"):
            assert client.get(reverse(f"participants:{name}", args=[batch.pk])).status_code == 404, who
        assert client.get(reverse("participants:import_preview", args=[batch.pk, upload.pk])).status_code == 404, who
    client.logout()
    response = client.get(reverse("participants:import_upload", args=[batch.pk]))
    assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_a_facilitator_of_the_batch_may_not_nominate(client, batch, organiser):
    facilitator = FacilitatorUserFactory(organiser=organiser)
    SessionFactory(batch=batch).facilitators.add(facilitator.facilitator)
    client.force_login(facilitator)
    assert client.get(reverse("participants:import_upload", args=[batch.pk])).status_code == 403


def test_after_the_deadline_the_operator_is_refused_but_staff_may_still_import(client, operator, staff, batch):
    upload = check(operator, batch, xlsx([row(1)]))
    Batch.objects.filter(pk=batch.pk).update(nomination_deadline=timezone.localdate() - timedelta(days=1))
    client.force_login(operator)
    page = client.get(reverse("participants:import_upload", args=[batch.pk]))
    assert 'id="upload-closed"' in page.content.decode() and 'id="upload-form"' not in page.content.decode()
    response = client.post(
        reverse("participants:import_upload", args=[batch.pk]), {"file": upload_file(xlsx([row(2)]))}
    )
    assert response.status_code == 200 and response.context["form"].errors
    preview = client.get(reverse("participants:import_preview", args=[batch.pk, upload.pk]))
    assert 'id="confirm-button"' not in preview.content.decode()
    client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk]))
    assert Nomination.objects.count() == 0 and NominationUpload.objects.count() == 1

    client.force_login(staff)
    response = client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk]))
    assert response.status_code == 302
    assert Nomination.objects.get().nominated_by == staff


def test_staff_upload_for_a_chosen_kabupaten(client, staff, batch):
    client.force_login(staff)
    url = reverse("participants:import_upload", args=[batch.pk])
    page = client.get(url)
    assert 'id="kabupaten-picker"' in page.content.decode() and 'id="upload-form"' not in page.content.decode()
    gresik = region(GRESIK)
    template = client.get(reverse("participants:import_template", args=[batch.pk]), {"kabupaten": gresik.pk})
    codes = [c.value for c in load_workbook(io.BytesIO(template.content))[SHEET_REFERENCE]["D"][1:] if c.value]
    assert codes and all(code.startswith("35.25.") for code in codes)
    rows = [row(1, nik=make_nik(date(1985, 10, 13), region_code="352501"), kecamatan="35.25.01")]
    response = client.post(f"{url}?kabupaten={gresik.pk}", {"file": upload_file(xlsx(rows))})
    upload = NominationUpload.objects.get()
    assert response.status_code == 302 and upload.kabupaten == gresik and upload.report["problems"] == []
    response = client.post(reverse("participants:import_confirm", args=[batch.pk, upload.pk]))
    assert response["Location"] == f"{reverse('participants:batch_nominations', args=[batch.pk])}?kabupaten={gresik.pk}"
    assert Nomination.objects.get().kabupaten == gresik
    # A kabupaten without a quota in the batch is not one staff may pick.
    probolinggo = region(PROBOLINGGO)
    assert client.get(url, {"kabupaten": probolinggo.pk}).status_code == 404


def test_operators_may_not_check_for_another_kabupaten(operator, batch):
    with pytest.raises(PermissionDenied):
        check(operator, batch, xlsx([row(1)]), kabupaten=region(GRESIK))


# ------------------------------------------------------------------------------------------------ queries


def test_checking_costs_the_same_queries_for_10_and_200_rows(operator, batch, organiser):
    birth = date(1985, 10, 13)
    # Some rows meet people already in the registry, nominated, or enrolled elsewhere.
    for serial in range(1, 6):
        registry_person(make_nik(birth, serial=serial), full_name=f"Lama {serial}")
    enroll(Person.objects.get(full_name="Lama 1"), BatchFactory(organiser=organiser), region(SITUBONDO))

    def queries(count):
        rows = [row(serial, kecamatan=f"35.12.{serial % 17 + 1:02d}") for serial in range(1, count + 1)]
        rows.append(row(999, pillar_type="Relawan"))
        content = xlsx(rows)
        with CaptureQueriesContext(connection) as captured:
            check(operator, batch, content)
        return len(captured)

    assert queries(10) == queries(200)


def test_a_nik_that_excel_turned_into_a_number_says_how_to_fix_it(operator, batch):
    # Excel keeps 15 significant digits: 3512011310850001 typed into a number cell becomes …850000.
    with override("en"):
        upload = check(operator, batch, xlsx([row(1, nik=3512011310850000)]))
    (problem,) = upload.report["problems"]
    assert (problem["row"], problem["column"], problem["code"]) == (2, "NIK", "nik")
    assert "0000" in problem["message"] and "format the NIK column as text" in problem["message"]
