"""Spreadsheets (.xlsx) the trainings pages hand out: a batch's attendance recap.

Headings and values are in Indonesian whatever the interface language: the files go into the organiser's and
the Dinsos offices' own reports. Text that looks like a formula is written as plain text."""

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .models import Attendance

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DAYS_ID = ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"]
STATUS_ID = {
    Attendance.Status.PRESENT: "Hadir",
    Attendance.Status.LATE: "Terlambat",
    Attendance.Status.EXCUSED: "Izin",
    Attendance.Status.SICK: "Sakit",
    Attendance.Status.ABSENT: "Alpa (tanpa keterangan)",
}
# The statuses' colours on every page (--status-fill of .status-<value> in static/css/sinergi.css; a test checks
# they agree): green, yellow, blue, orange, red.
STATUS_FILL = {
    Attendance.Status.PRESENT: "A9DFBF",
    Attendance.Status.LATE: "F9E79F",
    Attendance.Status.EXCUSED: "AED6F1",
    Attendance.Status.SICK: "F5CBA7",
    Attendance.Status.ABSENT: "F1948A",
}
HEADER_FILL = PatternFill("solid", fgColor="D9EAD3")
NOT_RECORDED = "—"


def session_heading(session) -> str:
    """A session's column heading: "Sen 13/10 08.00"."""
    return f"{DAYS_ID[session.date.weekday()]} {session.date:%d/%m} {session.start_time:%H.%M}"


def _percent_text(value) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _heading_row(sheet, columns) -> None:
    sheet.append([title for title, _width in columns])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, (_title, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _as_text(cell) -> None:
    # openpyxl writes a string starting with "=" as a formula; a name or a materi is never one.
    cell.data_type = "s"
    cell.number_format = "@"


def attendance_xlsx(matrix) -> bytes:
    """The attendance matrix (selectors.attendance_recap) as a workbook: sheet "Rekap Kehadiran" with one row
    per participant and one column per session, and sheet "Keterangan" with the sessions, the status letters
    and the pass rule."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Rekap Kehadiran"
    columns = [
        ("No", 5),
        ("Nama", 30),
        ("Kabupaten/Kota", 22),
        ("Pilar", 16),
        *[(session_heading(s), 9) for s in matrix.sessions],
        ("JP Hadir", 9),
        ("% JP", 8),
        ("Memenuhi syarat", 12),
    ]
    _heading_row(sheet, columns)
    first_session = 5
    for number, row in enumerate(matrix.rows, start=1):
        enrollment = row.enrollment
        pillar = enrollment.person.pillar_type
        sheet.append(
            [
                number,
                enrollment.person.full_name,
                enrollment.nomination.kabupaten.name,
                pillar.abbreviation or pillar.name,
                *[cell.letter if cell else NOT_RECORDED for cell in row.cells],
                row.jp_attended,
                row.percent,
                "Ya" if row.eligible else "Tidak",
            ]
        )
        cells = sheet[sheet.max_row]
        for cell in cells[1:4]:
            _as_text(cell)
        for cell, record in zip(cells[first_session - 1 :], row.cells, strict=False):
            cell.alignment = Alignment(horizontal="center")
            if record is not None:
                cell.fill = PatternFill("solid", fgColor=STATUS_FILL[record.status])
        cells[-2].number_format = "0.0"
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = sheet.dimensions

    notes = workbook.create_sheet("Keterangan")
    batch = matrix.batch
    notes.append(["Angkatan", batch.name])
    notes.append(["Program", batch.program.title])
    notes.append(["Tanggal", f"{batch.start_date:%d-%m-%Y} s.d. {batch.end_date:%d-%m-%Y}"])
    notes.append(
        [
            "Syarat lulus",
            f"Hadir (termasuk terlambat) ≥ {_percent_text(matrix.pass_percent)}% dari {matrix.jp_scheduled} JP "
            "yang dijadwalkan",
        ]
    )
    notes.append([])
    for value, letter in Attendance.LETTERS.items():
        notes.append([letter, STATUS_ID[value]])
        notes.cell(notes.max_row, 1).fill = PatternFill("solid", fgColor=STATUS_FILL[value])
    notes.append([NOT_RECORDED, "Belum dicatat"])
    notes.append([])
    _heading_row(notes, [("Kolom", 16), ("Sesi", 48), ("Waktu", 20), ("JP", 6)])
    for session in matrix.sessions:
        notes.append([session_heading(session), session.display_title, session.time_range, session.jp])
        _as_text(notes.cell(notes.max_row, 2))
    for row in notes.iter_rows(max_row=4, max_col=2):
        _as_text(row[1])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
