"""Importing the registry of pillar members (no nomination): the .xlsx template, reading an uploaded .xlsx or
.csv of up to 15,000 rows, the row-by-row check and the import that creates or corrects people in bulk.

It is the nomination spreadsheet's family: the same person columns, readers, cell parsing and NIK check
(participants.imports, participants.nik), plus a "Kode Kabupaten/Kota" column, which staff's whole-province
files need and an operator's file may use. Both steps run as Celery jobs (participants.tasks) that report
their progress on the RegistryUpload row: the check writes nothing but the report; the import writes in
chunks of CHUNK_ROWS rows, each chunk in its own transaction together with the count of rows done, so a
re-run continues where the last one stopped.

An operator's rows must be of their own kabupaten (another one is a problem of the row), and a known person
registered by another kabupaten is left as it is; the operator is told of that row what they would be told of
a new NIK (see participants.privacy). Staff may correct anyone."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from config.tasks import enqueue_on_commit
from pillars.models import PillarType, Region

from .imports import (
    COLUMNS,
    EDUCATION_REFERENCE,
    EXTENSIONS,
    SHEET_INSTRUCTIONS,
    SHEET_PARTICIPANTS,
    SHEET_REFERENCE,
    CheckedRow,
    Column,
    References,
    SheetRow,
    _header_key,
    _not_a_spreadsheet,
    _parse,
    _simplify,
    _text,
    rows_by_column,
)
from .imports import _csv_rows as csv_table
from .imports import _xlsx_rows as xlsx_table
from .models import Person, RegistryUpload
from .nik import all_region_codes, mask_nik
from .privacy import hides_registry_from
from .services import (
    OPTIONAL_FROM_REGISTRY,
    PERSON_FIELDS,
    REGISTRY_RELATED,
    NikTaken,
    PersonData,
    _registry_values,
    keep_registry_values,
    may_correct_registry,
    people_create,
    person_data_errors,
    person_registry_changes,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 15_000
# A 5 MB .xlsx of 15,000 rows unpacks to some tens of MB; refuse an archive that would unpack to far more.
MAX_UNPACKED_BYTES = 250 * 1024 * 1024
BLANK_ROWS_AFTER_DATA = 10_000
CHUNK_ROWS = 1000
# The report keeps at most this many problems and warnings to show (their totals are counted in full), and
# the first PREVIEW_ROWS valid rows.
REPORT_LIMIT = 500
PREVIEW_ROWS = 100
RUNNING = (RegistryUpload.Status.CHECKING, RegistryUpload.Status.IMPORTING)

KABUPATEN_COLUMN = Column("kabupaten", "Kode Kabupaten/Kota", width=16, text=True)
_at = [column.key for column in COLUMNS].index("kecamatan")
REGISTRY_COLUMNS = [*COLUMNS[:_at], KABUPATEN_COLUMN, *COLUMNS[_at:]]
HEADERS = {column.key: column.header for column in REGISTRY_COLUMNS}
COLUMN_BY_HEADER = {_header_key(column.header): column for column in REGISTRY_COLUMNS}
COLUMN_BY_HEADER.setdefault(_header_key("Kabupaten/Kota"), KABUPATEN_COLUMN)
COLUMN_ORDER = {column.key: index for index, column in enumerate(REGISTRY_COLUMNS)}

# An upload that has not progressed for this long lost its worker: its page says so.
STALLED_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


# ---------------------------------------------------------------------------------------------- template

INSTRUCTIONS = [
    "PETUNJUK PENGISIAN DAFTAR INDUK PILAR SOSIAL",
    "",
    "1. Isi satu orang per baris di lembar “Peserta”, mulai baris 2. Jangan mengubah atau menghapus baris judul "
    "kolom (baris 1). File ini hanya memperbarui daftar induk; tidak ada yang diusulkan menjadi peserta pelatihan.",
    "2. Kolom wajib: NIK, Nama Lengkap, Jenis Kelamin, Tempat Lahir, Tanggal Lahir dan Pilar Sosial. Kolom lain "
    "boleh dikosongkan; untuk orang yang sudah terdaftar, kolom kosong tidak menghapus data yang ada.",
    "3. NIK: 16 angka sesuai KTP. Kolom ini berformat teks; bila menempel dari file lain, tempel sebagai nilai "
    "(Paste Values) agar Excel tidak mengubah NIK menjadi angka 3,51E+15 dan menghapus digit terakhir.",
    "4. Jenis Kelamin: L (laki-laki) atau P (perempuan).",
    "5. Tanggal Lahir: DD-MM-YYYY, misalnya 13-10-1985. Tanggal harus sama dengan tanggal lahir di NIK.",
    "6. Kode Kabupaten/Kota: misalnya 35.12 (lihat lembar “Referensi”). Operator Dinsos hanya dapat mengisi "
    "kabupaten/kota sendiri dan boleh mengosongkannya. Untuk file seluruh provinsi, isi kolom ini atau Kode "
    "Kecamatan.",
    "7. Kode Kecamatan: kode kecamatan tempat tinggal, misalnya 35.12.01 (lihat lembar “Referensi”).",
    "8. Pilar Sosial: nama atau singkatan pilar seperti di lembar “Referensi”, misalnya PSM atau TKSK.",
    "9. Pendidikan Terakhir: salah satu nilai di lembar “Referensi”, misalnya SMA/SMK atau D4/S1.",
    "10. Paling banyak 15.000 baris dan 5 MB per file. Simpan sebagai .xlsx (atau .csv UTF-8, dipisah koma atau "
    "titik koma).",
    "11. Setelah diunggah, setiap baris diperiksa dan kesalahan ditampilkan per baris dan kolom. Tidak ada data "
    "yang disimpan sebelum Anda menekan tombol impor; Anda dapat mengimpor baris yang benar saja.",
    "",
    "PERLINDUNGAN DATA PRIBADI",
    "Data ini dipakai hanya untuk perencanaan dan penyelenggaraan pelatihan (UU 27/2022 tentang Pelindungan Data "
    "Pribadi). Kirim file ini hanya melalui Sinergi, bukan melalui aplikasi percakapan.",
]


def template_workbook(*, kabupaten: Region | None) -> bytes:
    """The registry template: the people sheet, the instructions and the reference values (pillars, the
    kabupaten/kota, the kecamatan of `kabupaten` or of every kabupaten when None, education)."""
    pillars = list(PillarType.objects.filter(is_active=True).order_by("sort_order", "name"))
    regencies = list(Region.objects.filter(level=Region.Level.REGENCY).order_by("code"))
    if kabupaten is not None:
        regencies = [kabupaten]
        kecamatan = list(Region.objects.filter(parent=kabupaten, level=Region.Level.DISTRICT).order_by("code"))
    else:
        kecamatan = list(Region.objects.filter(level=Region.Level.DISTRICT).order_by("code"))
    workbook = Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="D9EAD3")

    sheet = workbook.active
    sheet.title = SHEET_PARTICIPANTS
    sheet.append([column.header for column in REGISTRY_COLUMNS])
    for index, column in enumerate(REGISTRY_COLUMNS, start=1):
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
        return get_column_letter(COLUMN_ORDER[key] + 1)

    lists = [
        ("gender", '"L,P"', True),
        ("pillar_type", f"{SHEET_REFERENCE}!$A$2:$A${len(pillars) + 1}", pillars),
        ("kabupaten", f"{SHEET_REFERENCE}!$D$2:$D${len(regencies) + 1}", regencies),
        ("kecamatan", f"{SHEET_REFERENCE}!$G$2:$G${len(kecamatan) + 1}", kecamatan),
        ("education", f"{SHEET_REFERENCE}!$J$2:$J${len(EDUCATION_REFERENCE) + 1}", EDUCATION_REFERENCE),
    ]
    for key, formula, values in lists:
        if not values:
            continue
        # A drop-down that still lets other spellings through: the upload check is the one that refuses.
        validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=False)
        validation.add(f"{letter(key)}2:{letter(key)}{MAX_ROWS + 1}")
        sheet.add_data_validation(validation)

    instructions = workbook.create_sheet(SHEET_INSTRUCTIONS)
    instructions.column_dimensions["A"].width = 120
    for line in INSTRUCTIONS:
        instructions.append([line])
    instructions["A1"].font = Font(bold=True, size=13)
    for row in instructions.iter_rows(min_row=2):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
        if row[0].value == "PERLINDUNGAN DATA PRIBADI":
            row[0].font = bold

    reference = workbook.create_sheet(SHEET_REFERENCE)
    titles = {
        "A": "Pilar Sosial",
        "B": "Singkatan",
        "D": "Kode Kabupaten/Kota",
        "E": "Nama Kabupaten/Kota",
        "G": "Kode Kecamatan",
        "H": "Nama Kecamatan",
        "J": "Pendidikan Terakhir",
    }
    for column_letter, title in titles.items():
        reference[f"{column_letter}1"] = title
        reference[f"{column_letter}1"].font = bold
        reference[f"{column_letter}1"].fill = fill
    for row, pillar in enumerate(pillars, start=2):
        reference[f"A{row}"] = pillar.name
        reference[f"B{row}"] = pillar.abbreviation
    for row, region in enumerate(regencies, start=2):
        reference[f"D{row}"] = region.code
        reference[f"E{row}"] = region.name
    for row, region in enumerate(kecamatan, start=2):
        reference[f"G{row}"] = region.code
        reference[f"H{row}"] = region.name
    for row, (label, _key) in enumerate(EDUCATION_REFERENCE, start=2):
        reference[f"J{row}"] = label
    widths = {"A": 46, "B": 22, "C": 3, "D": 18, "E": 28, "F": 3, "G": 16, "H": 24, "I": 3, "J": 20}
    for column_letter, width in widths.items():
        reference.column_dimensions[column_letter].width = width
    reference.freeze_panes = "A2"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ reading


def _refuse(message: str, code: str):
    return ValidationError({"file": ValidationError(message, code=code)})


def too_large_message(size: int) -> str:
    return _("The file is %(size)s MB; the limit is 5 MB. Split the people over several files.") % {
        "size": number_format(size / 1024 / 1024, 1)
    }


def check_upload_file(*, name: str, size: int) -> None:
    """Refuse by name and size before reading anything."""
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if extension == ".xls":
        raise _refuse(
            _("Old Excel files (.xls) are not accepted: save the file as .xlsx (Excel Workbook) and upload it again."),
            "extension",
        )
    if extension not in EXTENSIONS:
        raise _refuse(_("This is not a spreadsheet: upload the template filled in, as .xlsx or .csv."), "extension")
    if not size:
        raise _refuse(_("The file is empty."), "empty")
    if size > MAX_BYTES:
        raise _refuse(too_large_message(size), "size")


def read_spreadsheet(content: bytes, name: str) -> list[SheetRow]:
    """The rows of an .xlsx or .csv (blank rows left out), keyed by column. Raises ValidationError (on "file")
    for a file that is not a spreadsheet, lacks required columns, has no rows or more than MAX_ROWS."""
    check_upload_file(name=name, size=len(content))
    table = csv_table(content) if name.lower().endswith(".csv") else xlsx_table(content)
    try:
        return _rows_by_column(table)
    except csv.Error as error:
        raise _not_a_spreadsheet() from error
    finally:
        table.close()


def _rows_by_column(table) -> list[SheetRow]:
    return rows_by_column(
        table,
        column_by_header=COLUMN_BY_HEADER,
        columns=REGISTRY_COLUMNS,
        max_rows=MAX_ROWS,
        empty_message=gettext_lazy("The spreadsheet has no rows below its header."),
        too_many_message=gettext_lazy("The spreadsheet has more than %(max)s rows; split them over several files."),
    )


# ----------------------------------------------------------------------------------------------- checking


@dataclass
class RegistryRow(CheckedRow):
    # What importing does with a valid row: create, update, unchanged or skip (a record the actor may not change).
    action: str = ""


class Regions:
    """Every kabupaten and kecamatan, loaded once (two queries), to place each row without a query."""

    def __init__(self):
        self.kabupaten_by_id, self.kabupaten_by_key = {}, {}
        ambiguous = set()
        for region in Region.objects.filter(level=Region.Level.REGENCY):
            self.kabupaten_by_id[region.pk] = region
            keys = {region.code, region.code.replace(".", ""), _simplify(region.name)}
            short = re.sub(r"^(kabupaten|kota)", "", _simplify(region.name))
            if _simplify(region.name).startswith("kabupaten"):
                keys.add("kab" + short)
            if short in self.kabupaten_by_key or short in ambiguous:
                ambiguous.add(short)  # Malang: both Kabupaten Malang and Kota Malang
                self.kabupaten_by_key.pop(short, None)
            else:
                self.kabupaten_by_key[short] = region
            for key in keys:
                self.kabupaten_by_key[key] = region
        self.kecamatan_by_parent, self.kecamatan_by_code, self.kecamatan_by_id = {}, {}, {}
        for region in Region.objects.filter(level=Region.Level.DISTRICT):
            self.kecamatan_by_parent.setdefault(region.parent_id, []).append(region)
            self.kecamatan_by_code[region.code] = region
            self.kecamatan_by_id[region.pk] = region

    def kabupaten(self, text: str) -> Region | None:
        text = text.strip()
        return self.kabupaten_by_key.get(text) or self.kabupaten_by_key.get(_simplify(text))

    def kabupaten_of_kecamatan(self, text: str) -> Region | None:
        """The kabupaten of a kecamatan written as its code (35.12.01 or 351201)."""
        digits = re.sub(r"[\s.]", "", text)
        if digits.isdigit() and len(digits) == 6:
            return self.kabupaten_by_key.get(f"{digits[:2]}.{digits[2:4]}")
        return None


@dataclass
class RegistryCheck:
    rows: list  # RegistryRow, in file order
    rows_total: int

    @property
    def valid(self) -> list:
        return [row for row in self.rows if row.is_valid]

    def report(self) -> dict:
        """What the page shows and the upload keeps: no full NIK, no birth date."""

        def entries(kind):
            found = [(row, *item) for row in self.rows for item in getattr(row, kind)]
            shown = [
                {
                    "row": row.number,
                    "column": HEADERS.get(column, ""),
                    "code": code,
                    "message": message,
                    "name": (row.data.full_name if row.data else "")[:80],
                }
                for row, column, code, message in found[:REPORT_LIMIT]
            ]
            return shown, len(found)

        valid = self.valid
        problems, problems_total = entries("problems")
        warnings, warnings_total = entries("warnings")
        actions = {"create": 0, "update": 0, "unchanged": 0, "skip": 0}
        for row in valid:
            actions[row.action] += 1
        return {
            "rows_total": self.rows_total,
            "rows_valid": len(valid),
            "rows_with_problems": len(self.rows) - len(valid),
            "problems": problems,
            "problems_total": problems_total,
            "warnings": warnings,
            "warnings_total": warnings_total,
            "actions": actions,
            "valid_rows": [row.number for row in valid],
            "preview": [
                {
                    "row": row.number,
                    "nik": mask_nik(row.data.nik),
                    "name": row.data.full_name,
                    "pillar": str(row.data.pillar_type),
                    "kabupaten": row.data.kabupaten.name,
                    "action": row.action,
                }
                for row in valid[:PREVIEW_ROWS]
            ],
        }


def _people(niks) -> dict:
    """The registry records of these NIKs, queried in slices (a database limits the parameters of a query)."""
    niks = sorted(niks)
    people = {}
    for start in range(0, len(niks), 900):
        people.update((p.nik, p) for p in Person.objects.filter(nik__in=niks[start : start + 900]))
    return people


def check_rows(sheet_rows: list, *, actor, kabupaten: Region | None, only=None, progress=None) -> RegistryCheck:
    """Decide every row as importing it now would: the problems that block it, the warnings that do not, and
    what importing does with it. `kabupaten` is the file's (an operator's own), None for a whole-province file
    of staff. `only` limits the decision to these row numbers (duplicates are still found among all rows);
    `progress(rows_checked)` is called after every CHUNK_ROWS rows. A fixed number of queries plus one per
    900 NIKs."""
    regions = Regions()
    pillars, pillars_by_id = {}, {}
    for pillar in PillarType.objects.all():
        pillars_by_id[pillar.pk] = pillar
        if pillar.is_active:
            for key in (pillar.name, pillar.abbreviation, pillar.code):
                if key:
                    pillars.setdefault(_simplify(key), pillar)
    region_codes = all_region_codes()
    references_by_kabupaten = {}

    def references(region):
        if region.pk not in references_by_kabupaten:
            kecamatan = {}
            for district in regions.kecamatan_by_parent.get(region.pk, []):
                kecamatan[district.code] = district
                kecamatan.setdefault(_simplify(district.name), district)
            references_by_kabupaten[region.pk] = References(
                kabupaten=region,
                region_codes=region_codes,
                pillars=pillars,
                pillars_by_id=pillars_by_id,
                kecamatan=kecamatan,
                kecamatan_by_id=regions.kecamatan_by_id,
            )
        return references_by_kabupaten[region.pk]

    nowhere = References(
        kabupaten=SimpleNamespace(name=_("the regency/city of the row")),
        region_codes=region_codes,
        pillars=pillars,
        pillars_by_id=pillars_by_id,
        kecamatan={},
        kecamatan_by_id={},
    )

    where = {}
    for sheet_row in sheet_rows:
        nik = _text(sheet_row.values.get("nik")).replace(" ", "").replace(".", "").replace("-", "").lstrip("'")
        if nik:
            where.setdefault(nik, []).append(sheet_row.number)
    people = _people(nik for nik in where if len(nik) == 16 and nik.isdigit())

    rows = []
    for index, sheet_row in enumerate(sheet_rows, start=1):
        if progress is not None and index % CHUNK_ROWS == 0:
            progress(index)
        if only is not None and sheet_row.number not in only:
            continue
        raw = sheet_row.values
        early = {}
        # Which kabupaten the row is of: its own column, else its kecamatan code, else the file's, else
        # (whole-province files) the registry's for a known person.
        kabupaten_text = _text(raw.get("kabupaten"))
        row_kabupaten = None
        if kabupaten_text:
            row_kabupaten = regions.kabupaten(kabupaten_text)
            if row_kabupaten is None:
                early["kabupaten"] = (
                    "kabupaten",
                    _("Unknown regency/city “%(value)s”; use a code from the Referensi sheet.")
                    % {"value": kabupaten_text},
                )
        of_kecamatan = regions.kabupaten_of_kecamatan(_text(raw.get("kecamatan")))
        if row_kabupaten is None and "kabupaten" not in early:
            row_kabupaten = kabupaten or of_kecamatan
        if kabupaten is not None and row_kabupaten is not None and row_kabupaten.pk != kabupaten.pk:
            column = "kabupaten" if kabupaten_text else "kecamatan"
            early[column] = (
                "kabupaten",
                _("This row is of %(other)s; this file may hold people of %(kabupaten)s only.")
                % {"other": row_kabupaten.name, "kabupaten": kabupaten.name},
            )
        elif kabupaten is not None and of_kecamatan is not None and of_kecamatan.pk != kabupaten.pk:
            early["kecamatan"] = (
                "kabupaten",
                _("This kecamatan is in %(other)s; this file may hold people of %(kabupaten)s only.")
                % {"other": of_kecamatan.name, "kabupaten": kabupaten.name},
            )

        parsed, reading = _parse(sheet_row, references(row_kabupaten) if row_kabupaten else nowhere)
        row = RegistryRow(number=parsed.number, nik=parsed.nik, nik_from_number=parsed.nik_from_number)
        rows.append(row)
        values, problems = reading["values"], {**reading["problems"], **early}
        existing = people.get(row.nik)
        if row_kabupaten is None and "kabupaten" not in problems:
            if existing is not None and not _text(raw.get("kecamatan")):
                row_kabupaten = regions.kabupaten_by_id.get(existing.kabupaten_id)
            else:
                problems["kabupaten"] = (
                    "required",
                    _("Give the regency/city: its code in this column, or the kecamatan code."),
                )
        correct = may_correct_registry(actor, existing)
        row.data = PersonData(nik=row.nik, kabupaten=row_kabupaten, **values)
        if existing is not None and correct:
            # An empty optional cell keeps what the registry knows (but not a cell that had a problem).
            blank_before = [name for name in (*OPTIONAL_FROM_REGISTRY, "kecamatan") if name in problems]
            kept = {name: getattr(row.data, name) for name in blank_before}
            keep_registry_values(
                row.data,
                existing,
                kecamatan=regions.kecamatan_by_id.get(existing.kecamatan_id) or SimpleNamespace(parent_id=None),
            )
            for name, value in kept.items():
                setattr(row.data, name, value)
        errors, nik_warnings = person_data_errors(row.data, known_codes=region_codes)
        for name, message in errors.items():
            if name in problems:
                continue
            if name == "nik" and row.nik_from_number:
                message += " " + _(
                    "The cell is a number, and Excel keeps only 15 digits of a number: format the NIK column "
                    "as text and type the NIK again."
                )
            problems[name] = ("nik" if name in ("nik", "birth_date", "gender") else "invalid", message)
        if "nik" not in problems and len(where.get(row.nik, ())) > 1:
            problems["nik"] = (
                "duplicate",
                _("This NIK appears more than once in the file (rows %(rows)s).")
                % {"rows": ", ".join(str(n) for n in where[row.nik][:10])},
            )
        row.problems = [(name, code, message) for name, (code, message) in sorted(problems.items(), key=_order)]
        row.warnings = [("nik", "nik", message) for message in nik_warnings]
        if not row.is_valid:
            continue
        if existing is None or hides_registry_from(actor, existing):
            # To an operator, a NIK registered in another kabupaten reads as a new one (privacy.py); its record
            # is left as it is when importing.
            row.action = "create"
        elif not correct:
            row.action = "skip"
            row.warnings.append(
                (
                    "",
                    "registry",
                    _("This person is registered by another regency/city; their record will not be changed."),
                )
            )
        elif person_registry_changes(existing, row.data):
            row.action = "update"
        else:
            row.action = "unchanged"
    return RegistryCheck(rows=rows, rows_total=len(sheet_rows))


def _order(item) -> int:
    return COLUMN_ORDER.get(item[0], -1)


# ------------------------------------------------------------------------------------------------- writes


def uploads_visible_to(user):
    """Staff see their organiser's uploads, an operator their kabupaten's own (not staff's files of it)."""
    uploads = RegistryUpload.objects.select_related("kabupaten", "uploaded_by")
    if user.is_authenticated and user.is_organiser_staff:
        return uploads.filter(organiser_id=user.organiser_id)
    if user.is_authenticated and user.is_operator:
        return uploads.filter(organiser__isnull=True, kabupaten_id=user.kabupaten_id)
    return uploads.none()


def may_upload(user) -> bool:
    return user.is_authenticated and (user.is_organiser_staff or user.is_operator)


def _enqueue(task, upload_id: int) -> None:
    """Send a task once the transaction commits. A broker that cannot be reached fails the upload with a
    message that says so instead of failing the request."""
    enqueue_on_commit(task, upload_id, on_unreachable=lambda pk, error: registry_upload_fail(upload_id=pk, error=error))


@transaction.atomic
def registry_upload_create(*, actor, file, kabupaten: Region | None = None) -> RegistryUpload:
    """Keep an uploaded spreadsheet and queue its check. An operator's file is of their own kabupaten; staff
    give one, or None for a whole-province file. A file too big or not a spreadsheet is refused at once
    (ValidationError on "file"); everything else is decided row by row by the check job."""
    from . import tasks

    if not may_upload(actor):
        raise PermissionDenied
    if actor.is_operator:
        kabupaten = actor.kabupaten
    elif kabupaten is not None and kabupaten.level != Region.Level.REGENCY:
        raise ValidationError({"kabupaten": _("Choose a regency/city.")})
    name = (file.name or "daftar.xlsx").replace("\\", "/").rsplit("/", 1)[-1]
    check_upload_file(name=name, size=file.size)
    file.seek(0)
    content = file.read()
    upload = RegistryUpload(
        uploaded_by=actor,
        kabupaten=kabupaten,
        organiser_id=actor.organiser_id if actor.is_organiser_staff else None,
        original_name=name[-200:],
    )
    upload.file.save(name, ContentFile(content), save=False)
    upload.save()
    _enqueue(tasks.registry_check, upload.pk)
    return upload


def _read_upload(upload: RegistryUpload) -> list[SheetRow]:
    with upload.file.open("rb") as stored:
        content = stored.read()
    return read_spreadsheet(content, upload.original_name)


def registry_upload_check(*, upload_id: int) -> None:
    """The check job: read the file and decide every row; keep the report. Writes no person. Safe to run
    again while the upload is being checked; does nothing once it was checked."""
    # The report and the errors are kept in the interface's default language, whoever uploaded the file.
    with translation.override(settings.LANGUAGE_CODE):
        _check(upload_id)


def _check(upload_id: int) -> None:
    upload = RegistryUpload.objects.select_related("uploaded_by", "kabupaten").filter(pk=upload_id).first()
    if upload is None or upload.status != RegistryUpload.Status.CHECKING:
        return
    checking = RegistryUpload.objects.filter(pk=upload_id, status=RegistryUpload.Status.CHECKING)
    checking.update(runs=F("runs") + 1, started_at=timezone.now())
    try:
        rows = _read_upload(upload)
    except ValidationError as error:
        registry_upload_fail(upload_id=upload_id, error="; ".join(error.messages))
        with transaction.atomic():
            # Nothing can be imported from it: do not keep its personal data.
            _drop_file(upload)
            RegistryUpload.objects.filter(pk=upload_id).update(file="")
        return
    checking.update(rows_total=len(rows), rows_checked=0)

    def checked_so_far(done):
        checking.update(rows_checked=done, updated_at=timezone.now())

    report = check_rows(rows, actor=upload.uploaded_by, kabupaten=upload.kabupaten, progress=checked_so_far).report()
    checking.update(
        status=RegistryUpload.Status.CHECKED,
        rows_checked=len(rows),
        rows_valid=report["rows_valid"],
        report=report,
        checked_at=timezone.now(),
        updated_at=timezone.now(),
        error="",
    )


@transaction.atomic
def registry_upload_confirm(*, actor, upload: RegistryUpload, valid_only: bool = False) -> RegistryUpload:
    """Queue the import of a checked upload: all its rows when every row is valid, else only with
    `valid_only` (the operator chose to import the valid rows and leave the others). Once only."""
    from . import tasks

    upload = RegistryUpload.objects.select_for_update().get(pk=upload.pk)
    if not uploads_visible_to(actor).filter(pk=upload.pk).exists():
        raise PermissionDenied
    if upload.status != RegistryUpload.Status.CHECKED or upload.report.get("confirmed"):
        raise ValidationError(_("This file is not waiting for confirmation."), code="state")
    if not upload.rows_valid:
        raise ValidationError(_("This file has no valid rows to import."), code="empty")
    if upload.report.get("rows_with_problems") and not valid_only:
        raise ValidationError(
            _(
                "Some rows have problems: correct the file and upload it again, or choose to import the valid "
                "rows only."
            ),
            code="problems",
        )
    upload.valid_only = bool(upload.report.get("rows_with_problems"))
    upload.report = {**upload.report, "confirmed": True, "confirmed_by": actor.pk}
    upload.save(update_fields=["valid_only", "report", "updated_at"])
    _enqueue(tasks.registry_import, upload.pk)
    return upload


def registry_upload_import(*, upload_id: int) -> None:
    """The import job: claim the confirmed upload (checked → importing), re-check the rows that were valid,
    and write them CHUNK_ROWS at a time. Each chunk commits with the count of rows done, under a lock of the
    upload row, so a run that is repeated (a lost worker, a duplicated message) goes on where the last stopped
    and never writes a row twice."""
    with translation.override(settings.LANGUAGE_CODE):
        _import(upload_id)


def _import(upload_id: int) -> None:
    RegistryUpload.objects.filter(pk=upload_id, status=RegistryUpload.Status.CHECKED, report__confirmed=True).update(
        status=RegistryUpload.Status.IMPORTING, started_at=timezone.now(), runs=F("runs") + 1
    )
    upload = RegistryUpload.objects.select_related("uploaded_by", "kabupaten").filter(pk=upload_id).first()
    if upload is None or upload.status != RegistryUpload.Status.IMPORTING:
        return
    actor = upload.uploaded_by
    try:
        rows = _read_upload(upload)
    except ValidationError as error:
        registry_upload_fail(upload_id=upload_id, error="; ".join(error.messages))
        return
    check = check_rows(rows, actor=actor, kabupaten=upload.kabupaten, only=set(upload.report["valid_rows"]))
    valid = check.valid
    clashes = 0
    while True:
        try:
            if _import_next_chunk(upload_id, valid=valid, check=check, actor=actor):
                return
        except NikTaken:
            # Another upload created one of these NIKs meanwhile: the chunk rolled back; read the records again.
            clashes += 1
            if clashes > 3:
                raise


def _import_next_chunk(upload_id: int, *, valid: list, check: RegistryCheck, actor) -> bool:
    """Write the next chunk of `valid` rows; True when there is nothing left to do."""
    with transaction.atomic():
        upload = RegistryUpload.objects.select_for_update().get(pk=upload_id)
        if upload.status != RegistryUpload.Status.IMPORTING:
            return True
        chunk = valid[upload.rows_done : upload.rows_done + CHUNK_ROWS]
        if not chunk:
            refused = [row.number for row in check.rows if not row.is_valid]
            upload.status = RegistryUpload.Status.DONE
            upload.finished_at = timezone.now()
            upload.report = {**upload.report, "refused_on_import": refused[:REPORT_LIMIT]}
            _drop_file(upload)
            upload.save()
            return True
        created, updated, skipped = _write_chunk(chunk, actor=actor)
        RegistryUpload.objects.filter(pk=upload_id).update(
            rows_done=F("rows_done") + len(chunk),
            created_count=F("created_count") + created,
            updated_count=F("updated_count") + updated,
            skipped_count=F("skipped_count") + skipped,
            updated_at=timezone.now(),
        )
    return False


def _drop_file(upload: RegistryUpload) -> None:
    """Forget the stored file once the transaction commits: it holds personal data of people who may never be
    in the registry; the report is kept."""
    if not upload.file:
        return
    stored, storage = upload.file.name, upload.file.storage
    upload.file = ""
    transaction.on_commit(lambda: storage.delete(stored))


def _write_chunk(chunk: list, *, actor) -> tuple[int, int, int]:
    """Create the new NIKs and correct the known people the actor may correct; the records read now, under
    the transaction, decide (not the check's)."""
    people = _people(row.data.nik for row in chunk)
    new, corrected, skipped, created_hidden = [], [], 0, 0
    now = timezone.now()
    for row in chunk:
        existing = people.get(row.data.nik)
        values = _registry_values(row.data)
        if existing is None:
            person = Person(nik=row.data.nik, **values)
            # The related records come from the check's own lists; validating them would cost a query each.
            person.clean_fields(exclude=REGISTRY_RELATED)
            new.append(person)
            people[person.nik] = person
        elif hides_registry_from(actor, existing):
            # Counted as the preview showed it to the operator: as new (privacy.py); the record is not touched.
            created_hidden += 1
        elif not may_correct_registry(actor, existing):
            skipped += 1
        else:
            changes = person_registry_changes(existing, row.data)
            if changes:
                for name in changes:
                    setattr(existing, name, values[name])
                existing.clean_fields(exclude=REGISTRY_RELATED)
                existing.updated_at = now
                corrected.append(existing)
    people_create(new)
    registry_fields = [name for name in PERSON_FIELDS if name != "nik"]
    Person.objects.bulk_update(corrected, [*registry_fields, "updated_at"], batch_size=500)
    return len(new) + created_hidden, len(corrected), skipped


def may_retry(upload: RegistryUpload) -> bool:
    """A confirmed import that failed or stalled may run again: it goes on from the rows it has done."""
    if not upload.report.get("confirmed") or not upload.file:
        return False
    return upload.status == RegistryUpload.Status.FAILED or (
        upload.status == RegistryUpload.Status.IMPORTING and progress(upload)["stalled"]
    )


@transaction.atomic
def registry_upload_retry(*, actor, upload: RegistryUpload) -> RegistryUpload:
    from . import tasks

    upload = RegistryUpload.objects.select_for_update().get(pk=upload.pk)
    if not uploads_visible_to(actor).filter(pk=upload.pk).exists():
        raise PermissionDenied
    if not may_retry(upload):
        raise ValidationError(_("Only a failed or stalled import can be run again."), code="state")
    upload.status = RegistryUpload.Status.IMPORTING
    upload.error = ""
    upload.finished_at = None
    upload.save(update_fields=["status", "error", "finished_at", "updated_at"])
    _enqueue(tasks.registry_import, upload.pk)
    return upload


def registry_upload_fail(*, upload_id: int, error: str) -> None:
    """Record why a job stopped, in the interface's default language; what was imported stays."""
    RegistryUpload.objects.filter(pk=upload_id, status__in=RUNNING).update(
        status=RegistryUpload.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
    )
    # A confirmed upload whose import could not even be queued.
    RegistryUpload.objects.filter(pk=upload_id, status=RegistryUpload.Status.CHECKED, report__confirmed=True).update(
        status=RegistryUpload.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
    )


# ------------------------------------------------------------------------------------------------ progress


def progress(upload: RegistryUpload) -> dict:
    """What the progress bar shows: the step, the rows done of the step's rows, the percentage, and whether
    the page should keep polling."""
    status = upload.status
    confirmed = bool(upload.report.get("confirmed"))
    if status == RegistryUpload.Status.CHECKING:
        step, done, total = "check", upload.rows_checked, upload.rows_total
    elif status == RegistryUpload.Status.CHECKED and not confirmed:
        step, done, total = "check", upload.rows_total, upload.rows_total
    elif status == RegistryUpload.Status.DONE:
        step, done, total = "import", upload.rows_done, upload.rows_done
    else:
        step, done, total = "import", upload.rows_done, upload.rows_valid
    finished = status in (RegistryUpload.Status.DONE, RegistryUpload.Status.FAILED) or (
        status == RegistryUpload.Status.CHECKED and not confirmed
    )
    if finished and status != RegistryUpload.Status.FAILED:
        percent = 100
    else:
        percent = min(100, int(100 * done / total)) if total else 0
    stalled = not finished and timezone.now() - upload.updated_at > STALLED_AFTER
    return {
        "step": step,
        "done": done,
        "total": total,
        "percent": percent,
        "polling": not finished,
        "stalled": stalled,
    }
