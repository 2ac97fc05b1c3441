"""Nominating from a spreadsheet: the template operators download, reading an uploaded .xlsx or .csv, and the
row-by-row check that the preview shows and the confirmation repeats.

The column headers, sheet names and instruction texts of the template are a file format in Indonesian, like
the columns themselves, so they are fixed strings here; the reasons in the report go through gettext.

Checking 2,000 rows costs a fixed number of queries: the region codes, pillar types, the kabupaten's kecamatan
and one NominationContext are loaded once, and every row is decided in memory, in file order, so the first
rows that fit a quota are valid and the later ones exceed it."""

import csv
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from stdnum.id import nik as stdnum_nik

from pillars.models import PillarType, Region
from trainings.models import Batch

from .models import Person
from .nik import FEMALE, MALE, all_region_codes, mask_nik
from .services import (
    NOT_NOMINABLE,
    OPTIONAL_FROM_REGISTRY,
    NominationContext,
    PersonData,
    keep_registry_values,
    may_correct_registry,
    person_data_errors,
    person_registry_changes,
    submitted_values,
)

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
# An .xlsx is a zip archive: refuse one that would unpack to far more than a 2,000-row sheet can hold.
MAX_UNPACKED_BYTES = 60 * 1024 * 1024
# Where the header row may be: the template has it on row 1, but many offices put a title above it.
HEADER_SEARCH_ROWS = 10
BLANK_ROWS_AFTER_DATA = 10_000
EXTENSIONS = (".xlsx", ".csv")

SHEET_PARTICIPANTS = "Peserta"
SHEET_INSTRUCTIONS = "Petunjuk"
SHEET_REFERENCE = "Referensi"


@dataclass(frozen=True)
class Column:
    key: str  # the PersonData field it fills
    header: str
    required: bool = False
    width: int = 18
    text: bool = False  # formatted as text in the template, so Excel keeps leading zeros and all 16 digits


COLUMNS = [
    Column("nik", "NIK", required=True, width=20, text=True),
    Column("full_name", "Nama Lengkap", required=True, width=30),
    Column("gender", "Jenis Kelamin (L/P)", required=True, width=12),
    Column("birth_place", "Tempat Lahir", required=True),
    Column("birth_date", "Tanggal Lahir (DD-MM-YYYY)", required=True, width=16, text=True),
    Column("address", "Alamat", width=30),
    Column("village", "Desa/Kelurahan"),
    Column("kecamatan", "Kode Kecamatan", width=14, text=True),
    Column("phone", "No. HP/WA", width=16, text=True),
    Column("email", "Email", width=24),
    Column("pillar_type", "Pilar Sosial", required=True, width=24),
    Column("pillar_detail", "Keterangan Pilar", width=30),
    Column("education", "Pendidikan Terakhir", width=16),
]
HEADERS = {column.key: column.header for column in COLUMNS}

# Education as operators write it (SLTA, SMK, S1, Sarjana …) → Person.Education. Keys are compared
# after _simplify(), i.e. lower case without spaces or punctuation.
EDUCATION_REFERENCE = [
    ("SD", Person.Education.SD),
    ("SMP", Person.Education.SMP),
    ("SMA/SMK", Person.Education.SMA),
    ("D1/D2/D3", Person.Education.DIPLOMA),
    ("D4/S1", Person.Education.S1),
    ("S2", Person.Education.S2),
    ("S3", Person.Education.S3),
]
EDUCATION_ALIASES = {
    Person.Education.SD: ["sd", "mi", "sdmi", "sekolahdasar"],
    Person.Education.SMP: ["smp", "mts", "smpmts", "sltp"],
    Person.Education.SMA: ["sma", "smk", "ma", "slta", "smasmk", "smasmkma", "smkma", "smama"],
    Person.Education.DIPLOMA: ["d1", "d2", "d3", "diploma", "d1d2d3", "diii", "dii", "di"],
    Person.Education.S1: ["d4", "s1", "d4s1", "div", "sarjana"],
    Person.Education.S2: ["s2", "magister", "master"],
    Person.Education.S3: ["s3", "doktor", "doctor"],
}
GENDERS = {
    "l": MALE,
    "lakilaki": MALE,
    "laki": MALE,
    "pria": MALE,
    "p": FEMALE,
    "perempuan": FEMALE,
    "wanita": FEMALE,
}
DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y")
TEXT_LIMITS = {
    name: Person._meta.get_field(name).max_length
    for name in ("full_name", "birth_place", "address", "village", "phone", "email", "pillar_detail")
}


def _simplify(value) -> str:
    """Lower case, letters and digits only: how headers and reference values are compared."""
    return re.sub(r"[^0-9a-z]", "", str(value).casefold())


def _header_key(value) -> str:
    """A header without its hint in brackets: "Tanggal Lahir (DD-MM-YYYY)" and "tanggal lahir" match."""
    return _simplify(re.sub(r"\(.*?\)", "", str(value or "")))


COLUMN_BY_HEADER = {_header_key(column.header): column for column in COLUMNS}


# ---------------------------------------------------------------------------------------------- template


INSTRUCTIONS = [
    "PETUNJUK PENGISIAN DAFTAR PESERTA",
    "",
    "1. Isi satu peserta per baris di lembar “Peserta”, mulai baris 2. Jangan mengubah atau menghapus baris judul "
    "kolom (baris 1).",
    "2. Kolom wajib: NIK, Nama Lengkap, Jenis Kelamin, Tempat Lahir, Tanggal Lahir dan Pilar Sosial. Kolom lain "
    "boleh dikosongkan.",
    "3. NIK: 16 angka sesuai KTP. Kolom ini berformat teks; bila menempel dari file lain, tempel sebagai nilai "
    "(Paste Values) agar Excel tidak mengubah NIK menjadi angka 3,51E+15 dan menghapus digit terakhir.",
    "4. Jenis Kelamin: L (laki-laki) atau P (perempuan).",
    "5. Tanggal Lahir: DD-MM-YYYY, misalnya 13-10-1985. Tanggal harus sama dengan tanggal lahir di NIK.",
    "6. Kode Kecamatan: kode kecamatan tempat tinggal, misalnya 35.12.01 (lihat lembar “Referensi”). Hanya "
    "kecamatan di kabupaten/kota Anda.",
    "7. Pilar Sosial: nama atau singkatan pilar seperti di lembar “Referensi”, misalnya PSM atau TKSK.",
    "8. Keterangan Pilar: misalnya kecamatan tugas TKSK, atau nama LKS / Karang Taruna.",
    "9. Pendidikan Terakhir: salah satu nilai di lembar “Referensi”, misalnya SMA/SMK atau D4/S1.",
    "10. Paling banyak 2.000 peserta dan 2 MB per file. Simpan sebagai .xlsx (atau .csv).",
    "11. Setelah diunggah, setiap baris diperiksa dan kesalahan ditampilkan per baris dan kolom. Tidak ada data "
    "yang disimpan sebelum Anda menekan tombol impor; Anda dapat mengimpor baris yang benar saja.",
    "",
    "CONTOH",
    "NIK: 3512015310850001 · Nama Lengkap: Siti Aminah · Jenis Kelamin: P · Tempat Lahir: Situbondo · "
    "Tanggal Lahir: 13-10-1985 · Kode Kecamatan: 35.12.01 · Pilar Sosial: PSM",
    "",
    "PERLINDUNGAN DATA PRIBADI",
    "Data ini dipakai hanya untuk penyelenggaraan pelatihan (UU 27/2022 tentang Pelindungan Data Pribadi). "
    "Kirim file ini hanya melalui Sinergi, bukan melalui aplikasi percakapan.",
]


def template_workbook(*, kabupaten: Region) -> bytes:
    """The .xlsx template for an operator of `kabupaten`: the participants sheet, the instructions and the
    reference values (pillars, the kabupaten's kecamatan, education). Two queries."""
    pillars = list(PillarType.objects.filter(is_active=True).order_by("sort_order", "name"))
    kecamatan = list(Region.objects.filter(parent=kabupaten, level=Region.Level.DISTRICT).order_by("code"))
    workbook = Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="D9EAD3")

    sheet = workbook.active
    sheet.title = SHEET_PARTICIPANTS
    sheet.append([column.header for column in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.width = column.width
        if column.text:
            dimension.number_format = "@"
    sheet.freeze_panes = "A2"

    def letter(key):
        return get_column_letter([c.key for c in COLUMNS].index(key) + 1)

    last = MAX_ROWS + 1
    lists = [
        ("gender", '"L,P"', None),
        ("pillar_type", f"{SHEET_REFERENCE}!$A$2:$A${len(pillars) + 1}", pillars),
        ("kecamatan", f"{SHEET_REFERENCE}!$D$2:$D${len(kecamatan) + 1}", kecamatan),
        ("education", f"{SHEET_REFERENCE}!$G$2:$G${len(EDUCATION_REFERENCE) + 1}", EDUCATION_REFERENCE),
    ]
    for key, formula, values in lists:
        if values == []:
            continue
        # A drop-down that still lets other spellings through: the upload check is the one that refuses.
        validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=False)
        validation.add(f"{letter(key)}2:{letter(key)}{last}")
        sheet.add_data_validation(validation)

    instructions = workbook.create_sheet(SHEET_INSTRUCTIONS)
    instructions.column_dimensions["A"].width = 120
    for line in INSTRUCTIONS:
        instructions.append([line])
    instructions["A1"].font = Font(bold=True, size=13)
    for row in instructions.iter_rows(min_row=2):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
        if row[0].value in ("CONTOH", "PERLINDUNGAN DATA PRIBADI"):
            row[0].font = bold

    reference = workbook.create_sheet(SHEET_REFERENCE)
    titles = {"A": "Pilar Sosial", "B": "Singkatan", "D": "Kode Kecamatan", "E": "Nama Kecamatan"}
    titles["G"] = "Pendidikan Terakhir"
    for column_letter, title in titles.items():
        reference[f"{column_letter}1"] = title
        reference[f"{column_letter}1"].font = bold
        reference[f"{column_letter}1"].fill = fill
    for row, pillar in enumerate(pillars, start=2):
        reference[f"A{row}"] = pillar.name
        reference[f"B{row}"] = pillar.abbreviation
    for row, region in enumerate(kecamatan, start=2):
        reference[f"D{row}"] = region.code
        reference[f"E{row}"] = region.name
    for row, (label, _key) in enumerate(EDUCATION_REFERENCE, start=2):
        reference[f"G{row}"] = label
    for column_letter, width in {"A": 46, "B": 22, "C": 3, "D": 16, "E": 24, "F": 3, "G": 20}.items():
        reference.column_dimensions[column_letter].width = width
    reference.freeze_panes = "A2"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ reading


@dataclass
class SheetRow:
    number: int  # as the spreadsheet shows it: the header is row 1 in the template
    values: dict  # column key -> cell value (str, int, float, date, datetime or None)


def _refuse(message: str, code: str):
    return ValidationError({"file": ValidationError(message, code=code)})


def check_upload_file(*, name: str, size: int) -> None:
    """Refuse by name and size before reading anything."""
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if extension == ".xls":
        raise _refuse(
            _("Old Excel files (.xls) are not accepted: save the file as .xlsx (Excel Workbook) and upload it again."),
            "extension",
        )
    if extension not in EXTENSIONS:
        raise _refuse(
            _("This is not a spreadsheet: upload the template filled in, as .xlsx or .csv."),
            "extension",
        )
    if size > MAX_BYTES:
        raise _refuse(
            _("The file is %(size)s MB; the limit is 2 MB. Split the participants over several files.")
            % {"size": number_format(size / 1024 / 1024, 1)},
            "size",
        )


def read_spreadsheet(content: bytes, name: str) -> list[SheetRow]:
    """The participant rows of an .xlsx or .csv (blank rows left out), keyed by column. Raises ValidationError
    (on "file") for a file that is not a spreadsheet, lacks required columns, has no rows or too many."""
    check_upload_file(name=name, size=len(content))
    table = _csv_rows(content) if name.lower().endswith(".csv") else _xlsx_rows(content)
    try:
        return rows_by_column(table)
    finally:
        table.close()  # closes the workbook at once, also when reading stopped early


def _not_a_spreadsheet():
    return _refuse(
        _("The file cannot be read as a spreadsheet: it is damaged or of another type. Use the template, as .xlsx."),
        "unreadable",
    )


def _xlsx_rows(content: bytes):
    if not content.startswith(b"PK\x03\x04"):
        raise _not_a_spreadsheet()
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise _not_a_spreadsheet()
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except ValidationError:
        raise
    except Exception as error:  # openpyxl raises many kinds for a broken or foreign zip
        raise _not_a_spreadsheet() from error
    try:
        names = workbook.sheetnames
        sheet = workbook[SHEET_PARTICIPANTS] if SHEET_PARTICIPANTS in names else workbook[names[0]]
        sheet.reset_dimensions()  # some programs write a wrong size; read every cell that is there
        yield from sheet.iter_rows(min_row=1, values_only=True)
    except ValidationError:
        raise
    except Exception as error:
        raise _not_a_spreadsheet() from error
    finally:
        workbook.close()


def _csv_rows(content: bytes):
    if b"\x00" in content[:4096]:
        raise _not_a_spreadsheet()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV (Comma delimited)" on Windows writes the ANSI code page, not UTF-8.
        text = content.decode("cp1252", errors="replace")
    # Excel with Indonesian regional settings separates with ";" (the comma is the decimal sign). The first
    # lines decide, as a title line above the header may have no separator at all.
    head = "\n".join(text.split("\n", HEADER_SEARCH_ROWS)[:HEADER_SEARCH_ROWS])
    delimiter = max((";", ",", "\t"), key=head.count)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise _not_a_spreadsheet() from error


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def rows_by_column(
    table,
    *,
    column_by_header=COLUMN_BY_HEADER,
    columns=COLUMNS,
    max_rows=MAX_ROWS,
    empty_message=None,
    too_many_message=None,
) -> list[SheetRow]:
    """The rows below the header row (found among the first rows), keyed by column, blank rows left out. The
    nomination template's columns and limits by default; the registry import passes its own."""
    head, positions, header_number, number = [], {}, 0, 0
    table = iter(table)
    for number, cells in enumerate(table, start=1):
        head.append((number, cells))
        found = {}
        for index, value in enumerate(cells):
            column = column_by_header.get(_header_key(value))
            if column is not None and column.key not in found:
                found[column.key] = index
        if len(found) > len(positions):
            positions, header_number = found, number
        if number >= HEADER_SEARCH_ROWS or len(found) == len(columns):
            break
    missing = [column.header for column in columns if column.required and column.key not in positions]
    if missing:
        raise _refuse(
            _(
                "The spreadsheet does not have the template's columns; missing: %(columns)s. "
                "Use the template and keep its header row."
            )
            % {"columns": ", ".join(missing)},
            "columns",
        )

    def values(cells):
        return {key: cells[index] if index < len(cells) else None for key, index in positions.items()}

    rows = [SheetRow(n, values(cells)) for n, cells in head if n > header_number]
    rows = [row for row in rows if not _blank_row(row)]
    blank_run, after_head = 0, number + 1
    for number, cells in enumerate(table, start=after_head):
        row = SheetRow(number, values(cells))
        if _blank_row(row):
            blank_run += 1
            # Formatting applied to a whole column makes a sheet of a million empty rows: stop well after the data.
            if blank_run > BLANK_ROWS_AFTER_DATA:
                break
            continue
        blank_run = 0
        rows.append(row)
        if len(rows) > max_rows:
            break
    if not rows:
        raise _refuse(str(empty_message or _("The spreadsheet has no participant rows below its header.")), "empty")
    if len(rows) > max_rows:
        message = too_many_message or _(
            "The spreadsheet has more than %(max)s participant rows; split them over several files."
        )
        raise _refuse(str(message) % {"max": number_format(max_rows, force_grouping=True)}, "rows")
    return rows


def _blank_row(row: SheetRow) -> bool:
    return all(_is_blank(value) for value in row.values.values())


# ----------------------------------------------------------------------------------------------- checking


@dataclass
class References:
    """What reading the cells needs, loaded once for a whole file."""

    kabupaten: Region
    region_codes: set
    pillars: dict  # simplified name / abbreviation / code -> PillarType
    pillars_by_id: dict
    kecamatan: dict  # "35.12.01" and simplified name -> Region of this kabupaten
    kecamatan_by_id: dict

    @classmethod
    def load(cls, kabupaten: Region) -> "References":
        pillars, pillars_by_id = {}, {}
        for pillar in PillarType.objects.all():
            pillars_by_id[pillar.pk] = pillar
            if pillar.is_active:
                for key in (pillar.name, pillar.abbreviation, pillar.code):
                    if key:
                        pillars.setdefault(_simplify(key), pillar)
        kecamatan = {}
        for region in Region.objects.filter(parent=kabupaten, level=Region.Level.DISTRICT):
            kecamatan[region.code] = region
            kecamatan.setdefault(_simplify(region.name), region)
        return cls(
            kabupaten=kabupaten,
            region_codes=all_region_codes(),
            pillars=pillars,
            pillars_by_id=pillars_by_id,
            kecamatan=kecamatan,
            kecamatan_by_id={region.pk: region for region in kecamatan.values()},
        )


@dataclass
class CheckedRow:
    number: int
    nik: str  # compact, possibly invalid
    data: PersonData | None = None
    # What the row itself says (Nomination.submitted), before empty cells are filled from the registry: what
    # the nominating kabupaten's operator is shown of a person registered elsewhere.
    submitted: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)  # (column key or "", code, message)
    warnings: list = field(default_factory=list)
    nik_from_number: bool = False

    @property
    def is_valid(self) -> bool:
        return not self.problems


@dataclass
class ImportCheck:
    rows: list
    context: NominationContext
    references: References
    rows_total: int

    @property
    def valid(self) -> list:
        return [row for row in self.rows if row.is_valid]

    def report(self) -> dict:
        """What the preview shows and the upload keeps: no full NIK, no birth date."""

        def entry(row, column, code, message):
            return {
                "row": row.number,
                "column": HEADERS.get(column, ""),
                "code": code,
                "message": message,
                "name": (row.data.full_name if row.data else "")[:80],
            }

        valid = self.valid
        return {
            "rows_total": self.rows_total,
            "rows_valid": len(valid),
            "rows_with_problems": len(self.rows) - len(valid),
            "problems": [entry(row, *problem) for row in self.rows for problem in row.problems],
            "warnings": [entry(row, *warning) for row in self.rows for warning in row.warnings],
            "valid": [
                {
                    "row": row.number,
                    "nik": mask_nik(row.data.nik),
                    "name": row.data.full_name,
                    "pillar": str(row.data.pillar_type),
                    "kecamatan": row.data.kecamatan.name if row.data.kecamatan else "",
                }
                for row in valid
            ],
        }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.strftime("%d-%m-%Y")
    return " ".join(str(value).split())


def _nik_text(value) -> tuple[str, bool]:
    """The NIK as digits, and whether the cell was a number (Excel keeps only 15 digits of a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (str(int(value)) if float(value).is_integer() else str(value)), True
    text = str(value or "").strip().lstrip("'")
    return stdnum_nik.compact(text), False


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _kecamatan_key(text: str) -> str:
    digits = re.sub(r"[\s.]", "", text)
    if digits.isdigit() and len(digits) == 6:
        return f"{digits[:2]}.{digits[2:4]}.{digits[4:]}"
    return text


def _parse(sheet_row: SheetRow, references: References) -> tuple[CheckedRow, dict]:
    """A row's cells read into PersonData values; the problems of reading them (not yet of the NIK itself)."""
    raw = sheet_row.values
    nik, from_number = _nik_text(raw.get("nik"))
    row = CheckedRow(number=sheet_row.number, nik=nik, nik_from_number=from_number)
    values, problems = {}, {}

    for column in COLUMNS:
        if column.required and _is_blank(raw.get(column.key)):
            problems[column.key] = ("required", _("Required: this cell is empty."))

    for name, limit in TEXT_LIMITS.items():
        values[name] = _text(raw.get(name))
        if len(values[name]) > limit:
            problems.setdefault(
                name,
                (
                    "length",
                    _("At most %(max)s characters; this cell has %(n)s.") % {"max": limit, "n": len(values[name])},
                ),
            )
    if values["phone"].startswith("8") and isinstance(raw.get("phone"), int | float):
        values["phone"] = "0" + values["phone"]  # a number cell drops the leading 0 of 08…
    if values["email"] and "email" not in problems:
        try:
            validate_email(values["email"])
        except ValidationError:
            problems["email"] = ("format", _("Not a valid e-mail address."))

    gender_text = _text(raw.get("gender"))
    values["gender"] = GENDERS.get(_simplify(gender_text), "")
    if gender_text and not values["gender"]:
        problems.setdefault("gender", ("format", _("Write L (male) or P (female).")))

    values["birth_date"] = _date(raw.get("birth_date"))
    if not _is_blank(raw.get("birth_date")):
        if values["birth_date"] is None:
            problems.setdefault("birth_date", ("format", _("Not a date: write it as DD-MM-YYYY, e.g. 13-10-1985.")))
        elif values["birth_date"] > timezone.localdate():
            problems.setdefault("birth_date", ("format", _("The date of birth is in the future.")))
            values["birth_date"] = None

    pillar_text = _text(raw.get("pillar_type"))
    values["pillar_type"] = references.pillars.get(_simplify(pillar_text)) if pillar_text else None
    if pillar_text and values["pillar_type"] is None:
        problems.setdefault(
            "pillar_type",
            ("pillar", _("Unknown pillar “%(value)s”; use a name from the Referensi sheet.") % {"value": pillar_text}),
        )

    kecamatan_text = _text(raw.get("kecamatan"))
    values["kecamatan"] = None
    if kecamatan_text:
        key = _kecamatan_key(kecamatan_text)
        values["kecamatan"] = references.kecamatan.get(key) or references.kecamatan.get(_simplify(key))
        if values["kecamatan"] is None:
            problems["kecamatan"] = (
                "kecamatan",
                _("Kecamatan “%(value)s” is not in %(kabupaten)s; use a code from the Referensi sheet.")
                % {"value": kecamatan_text, "kabupaten": references.kabupaten.name},
            )

    education_text = _text(raw.get("education"))
    values["education"] = ""
    if education_text:
        simple = _simplify(education_text)
        values["education"] = next((key for key, aliases in EDUCATION_ALIASES.items() if simple in aliases), "")
        if not values["education"]:
            problems["education"] = (
                "format",
                _("Unknown education “%(value)s”; use a value from the Referensi sheet.") % {"value": education_text},
            )
    return row, {"values": values, "problems": problems}


# Stands for a registry kecamatan outside the uploading kabupaten, which is not carried over (and not loaded).
_ELSEWHERE = SimpleNamespace(parent_id=None)


def check_rows(
    sheet_rows: list[SheetRow], *, batch: Batch, kabupaten: Region, actor, only: set | None = None
) -> ImportCheck:
    """Decide every row as nominating it now would: the problems that block it and the warnings that do not.
    Rows count against the quotas in file order. `only` limits the decision to these row numbers (the rows
    the operator saw as valid), while duplicates are still found among all rows."""
    references = References.load(kabupaten)
    parsed = [_parse(sheet_row, references) for sheet_row in sheet_rows]
    where = defaultdict(list)
    for row, _reading in parsed:
        if row.nik:
            where[row.nik].append(row.number)
    context = NominationContext.load(batch, [nik for nik in where if len(nik) == 16 and nik.isdigit()])

    rows = []
    for row, reading in parsed:
        if only is not None and row.number not in only:
            continue
        rows.append(row)
        values, problems = reading["values"], reading["problems"]
        existing = context.people.get(row.nik)
        correct = may_correct_registry(actor, existing)
        row.data = PersonData(nik=row.nik, kabupaten=kabupaten, **values)
        row.submitted = submitted_values(row.data)
        if existing is not None and correct:
            # An empty optional cell keeps what the registry knows (but not a cell that had a problem).
            blank_before = {name for name in (*OPTIONAL_FROM_REGISTRY, "kecamatan") if name in problems}
            kept = {name: getattr(row.data, name) for name in blank_before}
            keep_registry_values(
                row.data, existing, kecamatan=references.kecamatan_by_id.get(existing.kecamatan_id) or _ELSEWHERE
            )
            for name, value in kept.items():
                setattr(row.data, name, value)
        errors, nik_warnings = person_data_errors(row.data, known_codes=references.region_codes)
        for name, message in errors.items():
            if name in problems:
                continue
            # Errors on the date of birth or gender here are disagreements with the NIK.
            if name == "nik" and row.nik_from_number:
                message += " " + _(
                    "The cell is a number, and Excel keeps only 15 digits of a number: format the NIK column "
                    "as text and type the NIK again."
                )
            problems[name] = ("nik" if name in ("nik", "birth_date", "gender") else "invalid", message)
        if "nik" not in problems and len(where[row.nik]) > 1:
            problems["nik"] = (
                "duplicate",
                _("This NIK appears more than once in the file (rows %(rows)s).")
                % {"rows": ", ".join(str(n) for n in where[row.nik])},
            )
        other_warnings = []
        if not problems:
            blocked, other_warnings = context.answers_for(actor, kabupaten=kabupaten, data=row.data)
            for name, message in blocked.items():
                if name == "nik" and message == str(NOT_NOMINABLE):  # the code would tell the reason
                    problems["nik"] = ("nik", message)
                elif row.nik in context.active:
                    problems["nik"] = ("nominated", message)
                elif row.nik in context.overlapping:
                    problems["nik"] = ("overlap", message)
                else:  # a quota: of the pillar or kecamatan (their column), or of the kabupaten or batch (the row)
                    problems[name if name in ("pillar_type", "kecamatan") else ""] = ("quota", message)
        row.problems = [(name, code, message) for name, (code, message) in sorted(problems.items(), key=_by_column)]
        row.warnings = [("nik", "nik", message) for message in nik_warnings]
        row.warnings += [("", "completed", message) for message in other_warnings]
        if row.is_valid:
            context.take(kabupaten=kabupaten, data=row.data)
            # A person registered elsewhere (whom only staff may correct) gets no word of it: an operator hears
            # what they would of a new NIK (privacy.py), and the staff see the conflict when reviewing.
            if existing is not None and correct:
                changed = person_registry_changes(existing, row.data, keep_home=True)
                if changed:
                    row.warnings.append(
                        (
                            "",
                            "registry",
                            _("This person is in the registry already; importing corrects: %(fields)s.")
                            % {"fields": ", ".join(_field_label(name) for name in changed)},
                        )
                    )
    return ImportCheck(rows=rows, context=context, references=references, rows_total=len(sheet_rows))


COLUMN_ORDER = {column.key: index for index, column in enumerate(COLUMNS)}


def _by_column(item) -> int:
    return COLUMN_ORDER.get(item[0], -1)


def _field_label(name: str) -> str:
    return HEADERS.get(name) or str(Person._meta.get_field(name).verbose_name)
