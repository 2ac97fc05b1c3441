"""A Dinsos operator nominates from a spreadsheet in a real browser and the organiser's staff accept the
nominees: download the template, upload a file with mistakes, see each mistake at its row and column,
discard it, upload the corrected file, import it and see the seats left; then the staff accept every waiting
nomination at once, and the participant list shows the new participants with their NIKs masked.

Selectors use hrefs, ids, names and data attributes rather than visible text: the UI texts are translated.
The spreadsheet's column headers are a file format in Indonesian, so the test names them as they are."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from participants.models import Enrollment, Nomination, NominationUpload
from tests.factories import (
    PASSWORD,
    BatchFactory,
    OperatorFactory,
    OrganiserFactory,
    ProgramFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation

# The reference data (regions, pillars) comes from migrations; a transactional test flushes the tables
# afterwards, so ask for the serialized copy to be restored before this test runs.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("django_db_serialized_rollback")]

TEMPLATE_HEADERS = [
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
QUOTA_TOTAL, SITUBONDO_SEATS, PSM_SEATS = 40, 20, 10


@dataclass(frozen=True)
class Nominee:
    serial: int
    name: str
    gender: str  # L or P
    birth: date
    kecamatan: str  # 35.12.xx
    pillar: str
    village: str

    @property
    def nik(self) -> str:
        """A valid Situbondo NIK: the kecamatan, the birth date (day + 40 for women), the serial."""
        day = self.birth.day + (40 if self.gender == "P" else 0)
        return f"{self.kecamatan.replace('.', '')}{day:02d}{self.birth:%m%y}{self.serial:04d}"

    @property
    def masked_nik(self) -> str:
        return f"{self.nik[:4]}{'•' * 8}{self.serial:04d}"

    def cells(self, **changes) -> list:
        """The row as the template's columns, with some cells changed (by header)."""
        values = {
            "NIK": self.nik,
            "Nama Lengkap": self.name,
            "Jenis Kelamin (L/P)": self.gender,
            "Tempat Lahir": "Situbondo",
            "Tanggal Lahir (DD-MM-YYYY)": f"{self.birth:%d-%m-%Y}",
            "Alamat": f"Dusun Krajan RT 0{self.serial} RW 01",
            "Desa/Kelurahan": self.village,
            "Kode Kecamatan": self.kecamatan,
            "No. HP/WA": f"08123456780{self.serial}",
            "Email": "",
            "Pilar Sosial": self.pillar,
            "Keterangan Pilar": "",
            "Pendidikan Terakhir": "SMA/SMK",
        }
        values.update(changes)
        return [values[header] for header in TEMPLATE_HEADERS]


NOMINEES = [
    Nominee(1, "Siti Aminah", "P", date(1985, 10, 13), "35.12.01", "PSM", "Sumbermalang"),
    Nominee(2, "Ahmad Fauzi", "L", date(1979, 5, 2), "35.12.04", "PSM", "Besuki"),
    Nominee(3, "Nur Hasanah", "P", date(1990, 1, 21), "35.12.10", "TKSK", "Dawuhan"),
    Nominee(4, "Bambang Sutrisno", "L", date(1975, 8, 17), "35.12.09", "PSM", "Panarukan"),
    Nominee(5, "Dewi Lestari", "P", date(1988, 12, 30), "35.12.16", "Karang Taruna", "Asembagus"),
    Nominee(6, "Moh. Hasan", "L", date(1982, 7, 1), "35.12.13", "PSM", "Kapongan"),
]
PSM_NOMINEES = sum(1 for nominee in NOMINEES if nominee.pillar == "PSM")


def _submit(page, scope="main"):
    """The submit button of the page's form (the navbar's log-out button is a submit button too)."""
    page.locator(f"{scope} form[method=post] button[type=submit]").first.click()


def _at(path: str, *, pattern: bool = False) -> re.Pattern:
    """The whole URL of a path on the server, with no query: a login page's ?next=<path> does not match."""
    return re.compile(r"^https?://[^/?]+" + (path if pattern else re.escape(path)) + "$")


def _log_in(page, url, username, path):
    """Open `path`, get sent to the login form, log in and land back on `path`."""
    page.goto(url + path)
    page.wait_for_url(re.compile(r"/akun/masuk/"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    _submit(page)
    page.wait_for_url(_at(path))


def _seats(page, scope="") -> dict:
    """The seats table as {"total" or the allocation's target: (seats, taken, left)}; the total comes first."""
    rows = page.locator(f"{scope} .seats-table tbody tr")
    expect(rows.first).to_be_visible()
    table = {}
    for index, cells in enumerate(rows.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")):
        label = "total" if index == 0 else cells[0]
        table[label] = tuple(int(text) for text in cells[1:])
    return table


def _seats_of(table: dict, target: str) -> tuple:
    (found,) = [value for label, value in table.items() if label != "total" and label.endswith(target)]
    return found


def _write(template_path, rows, path):
    """The downloaded template with participant rows filled in from row 2, saved as `path`."""
    workbook = load_workbook(template_path)
    sheet = workbook["Peserta"]
    for cells in rows:
        sheet.append(cells)
    workbook.save(path)
    workbook.close()
    return path


def _upload(page, path):
    page.set_input_files("#id_file", str(path))
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url(_at(r"/peserta/angkatan/\d+/unggah/\d+/", pattern=True))


@pytest.fixture
def journey_data():
    organiser = OrganiserFactory(code="UPT-PTKS-E2E")
    staff = StaffFactory(username="panitia", first_name="Panitia", organiser=organiser)
    operator = OperatorFactory(username="operator.situbondo", first_name="Operator Dinsos", kabupaten=region("35.12"))
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=organiser,
        program=ProgramFactory(organiser=organiser, title="Pelatihan Sinergitas Pilar Sosial"),
        name="Angkatan III Kabupaten Situbondo",
        status=Batch.Status.NOMINATION_OPEN,
        nomination_deadline=today + timedelta(days=10),
        start_date=today + timedelta(days=30),
        end_date=today + timedelta(days=33),
        quota_total=QUOTA_TOTAL,
    )
    QuotaAllocation.objects.create(
        batch=batch, kind=QuotaAllocation.Kind.KABUPATEN, region=region("35.12"), seats=SITUBONDO_SEATS
    )
    QuotaAllocation.objects.create(
        batch=batch, kind=QuotaAllocation.Kind.PILLAR, pillar_type=pillar("psm"), seats=PSM_SEATS
    )
    return {"staff": staff, "operator": operator, "batch": batch}


def test_operator_nominates_from_a_spreadsheet_and_staff_accept(browser_page, live_server, journey_data, tmp_path):
    page = browser_page
    url = live_server.url
    batch = journey_data["batch"]
    home_path = reverse("participants:nominations_home")
    nominations_path = reverse("participants:batch_nominations", args=[batch.pk])
    upload_path = reverse("participants:import_upload", args=[batch.pk])

    # The operator logs in and finds the batch open for nomination, with all its seats.
    _log_in(page, url, "operator.situbondo", home_path)
    card_link = page.locator(f'#open-batches a[href="{nominations_path}"]').first
    expect(card_link).to_contain_text(batch.name)
    home_seats = _seats(page, "#open-batches")
    assert home_seats["total"] == (QUOTA_TOTAL, 0, QUOTA_TOTAL)
    assert _seats_of(home_seats, "Kabupaten Situbondo") == (SITUBONDO_SEATS, 0, SITUBONDO_SEATS)
    assert _seats_of(home_seats, "PSM") == (PSM_SEATS, 0, PSM_SEATS)

    card_link.click()
    page.wait_for_url(_at(nominations_path))
    expect(page.locator("#nominations tbody tr[id^=nomination-]")).to_have_count(0)
    page.locator(f'#spreadsheet-link[href="{upload_path}"]').click()
    page.wait_for_url(_at(upload_path))

    # The template: the participants sheet with the Indonesian headers, the instructions and the references.
    with page.expect_download() as download_info:
        page.locator("#template-link").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    template = tmp_path / "templat.xlsx"
    download.save_as(template)
    workbook = load_workbook(template, read_only=True)
    assert workbook.sheetnames == ["Peserta", "Petunjuk", "Referensi"]
    assert list(next(workbook["Peserta"].iter_rows(max_row=1, values_only=True))) == TEMPLATE_HEADERS
    kecamatan_codes = {row[3] for row in workbook["Referensi"].iter_rows(min_row=2, values_only=True) if row[3]}
    workbook.close()
    assert {nominee.kecamatan for nominee in NOMINEES} <= kecamatan_codes
    assert "35.25.10" not in kecamatan_codes

    # A file with mistakes: each one is listed at its row and column, and nothing is nominated.
    one, two, three, four, five, six = NOMINEES
    with_mistakes = _write(
        template,
        [
            one.cells(),  # row 2: valid
            two.cells(NIK=f"{two.nik[:6]}99{two.nik[8:]}"),  # row 3: day 99 is no date
            three.cells(),  # row 4: the same person …
            three.cells(),  # row 5: … typed twice
            four.cells(**{"Pilar Sosial": "Relawan Sosial"}),  # row 6: no such pillar
            five.cells(**{"Kode Kecamatan": "35.25.10"}),  # row 7: a kecamatan of Gresik
            six.cells(**{"Nama Lengkap": ""}),  # row 8: the name is missing
        ],
        tmp_path / "peserta-situbondo.xlsx",
    )
    _upload(page, with_mistakes)
    expect(page.locator("#count-total")).to_have_text("7")
    expect(page.locator("#count-valid")).to_have_text("1")
    expect(page.locator("#count-problems")).to_have_text("6")
    problems = page.locator("#problems tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.row, r.cells[1].innerText.trim(), r.dataset.code, r.cells[3].innerText])"
    )
    assert [(int(row), column, code) for row, column, code, _reason in problems] == [
        (3, "NIK", "nik"),
        (4, "NIK", "duplicate"),
        (5, "NIK", "duplicate"),
        (6, "Pilar Sosial", "pillar"),
        (7, "Kode Kecamatan", "kecamatan"),
        (8, "Nama Lengkap", "required"),
    ]
    reasons = {int(row): reason for row, _column, _code, reason in problems}
    assert "4, 5" in reasons[4] and "4, 5" in reasons[5]
    assert "Relawan Sosial" in reasons[6]
    assert "35.25.10" in reasons[7] and "Kabupaten Situbondo" in reasons[7]
    expect(page.locator("#valid-rows tbody tr")).to_have_count(1)
    expect(page.locator("#valid-rows tbody tr td").nth(1)).to_have_text(one.masked_nik)
    assert one.nik not in page.content()
    assert not Nomination.objects.filter(batch=batch).exists()

    # Discard it: back on the upload page, still nothing nominated.
    page.locator("#discard-button").click()
    page.wait_for_url(_at(upload_path))
    assert NominationUpload.objects.get().status == NominationUpload.Status.DISCARDED
    assert not Nomination.objects.filter(batch=batch).exists()

    # The corrected file: every row valid; importing it nominates the six.
    corrected = _write(template, [nominee.cells() for nominee in NOMINEES], tmp_path / "peserta-situbondo-2.xlsx")
    _upload(page, corrected)
    expect(page.locator("#count-total")).to_have_text(str(len(NOMINEES)))
    expect(page.locator("#count-valid")).to_have_text(str(len(NOMINEES)))
    expect(page.locator("#count-problems")).to_have_text("0")
    expect(page.locator("#problems")).to_have_count(0)
    expect(page.locator("#valid-rows tbody tr")).to_have_count(len(NOMINEES))
    page.locator("#confirm-button").click()
    page.wait_for_url(_at(nominations_path))

    # The seats left count the six.
    expect(page.locator("#nominations tbody tr[id^=nomination-]")).to_have_count(len(NOMINEES))
    seats = _seats(page)
    assert seats["total"] == (QUOTA_TOTAL, len(NOMINEES), QUOTA_TOTAL - len(NOMINEES))
    assert _seats_of(seats, "Kabupaten Situbondo") == (SITUBONDO_SEATS, len(NOMINEES), SITUBONDO_SEATS - len(NOMINEES))
    assert _seats_of(seats, "PSM") == (PSM_SEATS, PSM_NOMINEES, PSM_SEATS - PSM_NOMINEES)
    masked = page.locator("#nominations tbody tr[id^=nomination-] td:first-child").all_inner_texts()
    assert sorted(masked) == sorted(nominee.masked_nik for nominee in NOMINEES)
    assert set(Nomination.objects.filter(batch=batch).values_list("status", flat=True)) == {Nomination.Status.PENDING}

    # The staff log in, open the batch's review, select every waiting nomination and accept them at once.
    page.context.clear_cookies()
    batch_path = reverse("trainings:batch_detail", args=[batch.pk])
    review_path = reverse("participants:review", args=[batch.pk])
    _log_in(page, url, "panitia", batch_path)
    page.locator(f'main a[href="{review_path}"]').click()
    page.wait_for_url(_at(review_path))
    boxes = page.locator("#nominations input[name=nominations]")
    expect(boxes).to_have_count(len(NOMINEES))
    page.locator("#select-all").check()
    for index in range(len(NOMINEES)):
        expect(boxes.nth(index)).to_be_checked()
    page.select_option("#id_decision", value="accept")
    page.locator("#decide-form button[type=submit]").click()
    expect(page.locator("#status-counts a[data-status=accepted] .badge")).to_have_text(str(len(NOMINEES)))
    expect(boxes).to_have_count(0)
    assert Enrollment.objects.filter(batch=batch).count() == len(NOMINEES)
    assert set(Nomination.objects.filter(batch=batch).values_list("status", flat=True)) == {Nomination.Status.ACCEPTED}

    # The participant list shows the six with their NIKs masked, and no full NIK anywhere in the page.
    enrollments_path = reverse("participants:enrollments", args=[batch.pk])
    page.locator(f'main a[href="{enrollments_path}"]').click()
    page.wait_for_url(_at(enrollments_path))
    rows = page.locator("#enrollments tbody tr[data-enrollment]")
    expect(rows).to_have_count(len(NOMINEES))
    masked = rows.locator("td:nth-child(2)").all_inner_texts()
    assert all(re.fullmatch(r"3512•{8}\d{4}", text) for text in masked), masked
    assert sorted(masked) == sorted(nominee.masked_nik for nominee in NOMINEES)
    assert "3512••••••••0001" in masked
    assert sorted(rows.locator("td:nth-child(3)").all_inner_texts()) == sorted(nominee.name for nominee in NOMINEES)
    html = page.content()
    for nominee in NOMINEES:
        assert nominee.nik not in html
