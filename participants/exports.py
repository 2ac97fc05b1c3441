"""Spreadsheets (.xlsx) the participants pages hand out: a batch's participant list.

Columns and values are in Indonesian whatever the interface language: the files go to Dinsos offices and
into their own reports. Text that looks like a formula is written as plain text."""

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .models import Enrollment, Person

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ENROLLMENT_COLUMNS = [
    ("No", 5),
    ("NIK", 19),
    ("Nama Lengkap", 30),
    ("Jenis Kelamin", 13),
    ("Tempat Lahir", 16),
    ("Tanggal Lahir", 13),
    ("Kabupaten/Kota", 22),
    ("Kecamatan", 18),
    ("Desa/Kelurahan", 18),
    ("Alamat", 32),
    ("No. HP/WA", 16),
    ("Email", 26),
    ("Pilar Sosial", 28),
    ("Keterangan Pilar", 28),
    ("Pendidikan Terakhir", 18),
]
ACCESS_CODE_COLUMN = ("Kode Akses", 12)

GENDER_ID = {Person.Gender.MALE: "Laki-laki", Person.Gender.FEMALE: "Perempuan"}
EDUCATION_ID = {
    Person.Education.SD: "SD",
    Person.Education.SMP: "SMP",
    Person.Education.SMA: "SMA/SMK",
    Person.Education.DIPLOMA: "Diploma (D1–D3)",
    Person.Education.S1: "D4/S1",
    Person.Education.S2: "S2",
    Person.Education.S3: "S3",
}


def _write_rows(sheet, columns, rows) -> None:
    sheet.append([title for title, _width in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9EAD3")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for index, (_title, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for values in rows:
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                # openpyxl writes a string starting with "=" as a formula; participants' data is never one.
                cell.data_type = "s"
                cell.number_format = "@"
            elif hasattr(cell.value, "isoformat"):
                cell.number_format = "DD-MM-YYYY"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def enrollments_xlsx(enrollments: list[Enrollment], *, batch, with_access_codes: bool) -> bytes:
    """The participant list of a batch with full personal data (for staff and the nominating operator);
    the access-code column only when `with_access_codes`."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Peserta"
    columns = [*ENROLLMENT_COLUMNS, *([ACCESS_CODE_COLUMN] if with_access_codes else [])]
    rows = []
    for number, enrollment in enumerate(enrollments, start=1):
        person = enrollment.person
        row = [
            number,
            person.nik,
            person.full_name,
            GENDER_ID.get(person.gender, person.gender),
            person.birth_place,
            person.birth_date,
            # Empty for a participant registered elsewhere, shown to an operator as typed (privacy.py).
            person.kabupaten.name if person.kabupaten_id else "",
            person.kecamatan.name if person.kecamatan_id else "",
            person.village,
            person.address,
            person.phone,
            person.email,
            enrollment.nomination.pillar_type.name,
            person.pillar_detail,
            EDUCATION_ID.get(person.education, person.education),
        ]
        if with_access_codes:
            row.append(enrollment.access_code)
        rows.append(row)
    _write_rows(sheet, columns, rows)
    workbook.properties.title = f"Daftar Peserta {batch.name}"
    workbook.properties.creator = "Sinergi"
    output = BytesIO()
    workbook.save(output)
    return output.getvalue()
