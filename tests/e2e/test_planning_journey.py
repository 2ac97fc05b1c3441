"""Planning the next training in a real browser: the staff upload a registry file of new PSM of Situbondo,
watch its check and its import finish, open the coverage of the demo program, drill into the Situbondo × PSM
people never trained; the Situbondo operator opens the same list and nominates three of the new people into
the demo's batch open for nomination.

The data is the real demo (seed_demo); the registry file is built from the registry template itself
(participants.registry.template_workbook), so its header row is the one the import expects.

Selectors use hrefs, ids, names and data attributes rather than visible text: the UI texts are translated."""

import io
import re
from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook
from playwright.sync_api import expect

from certificates.models import Certificate
from participants import registry
from participants.models import Enrollment, Nomination, Person, RegistryUpload
from participants.registry import REGISTRY_COLUMNS
from pillars.models import PillarType, Region
from trainings.management.commands.seed_demo import DEMO_PASSWORD
from trainings.models import Batch, Program

# The reference data (regions, pillars) comes from migrations; a transactional test flushes the tables
# afterwards, so ask for the serialized copy to be restored before this test runs.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("django_db_serialized_rollback")]

DEMO_PROGRAM = "Pelatihan Sinergitas Pilar-pilar dalam Penanganan 12 Pemerlu Atensi Sosial (PAS)"
SITUBONDO = "35.12"
OPERATOR = "operator.situbondo"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Twelve new PSM of Situbondo: (name, gender, birth date, kecamatan). Serials from 901 on, far from the demo's.
NEW_PSM = [
    ("Ahmad Syaiful Anwar", "L", date(1980, 3, 12), "35.12.01"),
    ("Siti Khotijah", "P", date(1987, 6, 5), "35.12.02"),
    ("Moh. Rofiqi", "L", date(1979, 11, 23), "35.12.03"),
    ("Nurul Hidayati", "P", date(1991, 2, 17), "35.12.04"),
    ("Abdul Rahem", "L", date(1976, 8, 9), "35.12.05"),
    ("Lailatul Fitriyah", "P", date(1989, 12, 1), "35.12.06"),
    ("Hasan Basri", "L", date(1983, 4, 28), "35.12.07"),
    ("Ummi Kulsum", "P", date(1994, 9, 14), "35.12.08"),
    ("Sugeng Riyadi", "L", date(1972, 1, 30), "35.12.09"),
    ("Yuliana Safitri", "P", date(1986, 7, 21), "35.12.10"),
    ("Imam Wahyudi", "L", date(1981, 5, 3), "35.12.11"),
    ("Rina Marlina", "P", date(1990, 10, 26), "35.12.12"),
]
TICKED = 3
JOB_TIMEOUT = 30_000


def _nik(index: int, gender: str, birth: date, kecamatan: str) -> str:
    """A valid NIK: the kecamatan, the birth date (day + 40 for women), a serial."""
    day = birth.day + (40 if gender == "P" else 0)
    return f"{kecamatan.replace('.', '')}{day:02d}{birth:%m%y}{901 + index:04d}"


NEW_NIKS = [_nik(index, gender, birth, kecamatan) for index, (_n, gender, birth, kecamatan) in enumerate(NEW_PSM)]


def _registry_file(kabupaten) -> bytes:
    """The registry template of the kabupaten with the twelve people filled in from row 2."""
    workbook = load_workbook(io.BytesIO(registry.template_workbook(kabupaten=kabupaten)))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [column.header for column in REGISTRY_COLUMNS]
    keys = [column.key for column in REGISTRY_COLUMNS]
    for index, (name, gender, birth, kecamatan) in enumerate(NEW_PSM):
        values = {
            "nik": NEW_NIKS[index],
            "full_name": name,
            "gender": gender,
            "birth_place": "Situbondo",
            "birth_date": f"{birth:%d-%m-%Y}",
            "address": f"Dusun Krajan RT {index + 1:03d}/RW 002",
            "village": "Sumberejo",
            "kabupaten": SITUBONDO,
            "kecamatan": kecamatan,
            "phone": f"0812345{index + 1:05d}",
            "email": "",
            "pillar_type": "PSM",
            "pillar_detail": "PSM Desa Sumberejo",
            "education": "SMA/SMK",
        }
        sheet.append([values[key] for key in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)
    workbook.close()
    return buffer.getvalue()


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
    page.fill("#id_password", DEMO_PASSWORD)
    _submit(page)
    page.wait_for_url(_at(path))


def _never_trained(kabupaten, pillar_type, program) -> set[int]:
    """Counted here from the rows, apart from the coverage selector: the people of the kabupaten and pillar
    type with no valid certificate of the program, and neither enrolled nor actively nominated in one of its
    batches that has not finished."""
    people = set(Person.objects.filter(kabupaten=kabupaten, pillar_type=pillar_type).values_list("pk", flat=True))
    certified = set(
        Certificate.objects.filter(revoked_at__isnull=True, enrollment__batch__program=program).values_list(
            "enrollment__person_id", flat=True
        )
    )
    enrolled = set(
        Enrollment.objects.filter(batch__program=program)
        .exclude(batch__status=Batch.Status.FINISHED)
        .values_list("person_id", flat=True)
    )
    nominated = set(
        Nomination.objects.filter(batch__program=program, status__in=Nomination.ACTIVE)
        .exclude(batch__status=Batch.Status.FINISHED)
        .values_list("person_id", flat=True)
    )
    return people - certified - enrolled - nominated


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", force=True, stdout=io.StringIO())
    assert not Person.objects.filter(nik__in=NEW_NIKS).exists()
    program = Program.objects.get(title=DEMO_PROGRAM)
    situbondo = Region.objects.get(code=SITUBONDO, level=Region.Level.REGENCY)
    (batch,) = Batch.objects.filter(
        program=program, status=Batch.Status.NOMINATION_OPEN, allocations__region=situbondo
    ).distinct()
    return {"program": program, "situbondo": situbondo, "psm": PillarType.objects.get(code="psm"), "batch": batch}


def test_staff_import_the_registry_and_an_operator_nominates_the_untrained(browser_page, live_server, demo):
    page = browser_page
    url = live_server.url
    program, situbondo, psm, batch = demo["program"], demo["situbondo"], demo["psm"], demo["batch"]

    # The staff log in and upload the registry file for Situbondo.
    upload_path = reverse("participants:registry_upload")
    _log_in(page, url, "staf", upload_path)
    page.set_input_files(
        "#id_file",
        files=[{"name": "daftar-induk-situbondo.xlsx", "mimeType": XLSX, "buffer": _registry_file(situbondo)}],
    )
    page.select_option("#id_kabupaten", value=str(situbondo.pk))
    page.locator("#registry-upload-form button[type=submit]").click()
    page.wait_for_url(_at(r"/peserta/daftar-induk/\d+/", pattern=True), timeout=JOB_TIMEOUT)
    upload = RegistryUpload.objects.get(original_name="daftar-induk-situbondo.xlsx")
    detail_path = reverse("participants:registry_detail", args=[upload.pk])
    assert page.url == url + detail_path

    # The check ends at 100%: every row valid and new; nothing is in the registry yet.
    expect(page.locator("#registry-progress")).to_have_attribute("aria-valuenow", "100", timeout=JOB_TIMEOUT)
    expect(page.locator("#registry-status")).to_have_attribute(
        "data-status", RegistryUpload.Status.CHECKED, timeout=JOB_TIMEOUT
    )
    expect(page.locator("#count-total")).to_have_text(str(len(NEW_PSM)))
    expect(page.locator("#count-valid")).to_have_text(str(len(NEW_PSM)))
    expect(page.locator("#count-problems")).to_have_text("0")
    expect(page.locator("#count-new")).to_have_text(str(len(NEW_PSM)))
    assert not Person.objects.filter(nik__in=NEW_NIKS).exists()

    # Confirm: the import runs to 100% and the twelve are in the registry.
    page.locator("#registry-confirm-form #confirm-button").click()
    page.wait_for_url(_at(detail_path), timeout=JOB_TIMEOUT)
    expect(page.locator("#registry-status")).to_have_attribute(
        "data-status", RegistryUpload.Status.DONE, timeout=JOB_TIMEOUT
    )
    expect(page.locator("#registry-progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#count-created")).to_have_text(str(len(NEW_PSM)))
    expect(page.locator("#registry-confirm-form")).to_have_count(0)
    upload.refresh_from_db()
    assert (upload.status, upload.rows_done, upload.created_count, upload.uploaded_by.username) == (
        RegistryUpload.Status.DONE,
        len(NEW_PSM),
        len(NEW_PSM),
        "staf",
    )
    new_people = {p.nik: p for p in Person.objects.filter(nik__in=NEW_NIKS).select_related("kabupaten", "pillar_type")}
    assert set(new_people) == set(NEW_NIKS)
    for index, nik in enumerate(NEW_NIKS):
        person = new_people[nik]
        assert (person.full_name, person.kabupaten_id, person.pillar_type_id) == (
            NEW_PSM[index][0],
            situbondo.pk,
            psm.pk,
        )

    # The coverage of the demo program: the Situbondo × PSM "never trained" number is the count from the rows.
    never = _never_trained(situbondo, psm, program)
    assert {p.pk for p in new_people.values()} <= never
    coverage_path = reverse("participants:coverage")
    page.goto(f"{url}{coverage_path}?program={program.pk}")
    untrained_path = reverse("participants:coverage_untrained")
    drill_href = f"{untrained_path}?kabupaten={situbondo.pk}&pillar={psm.pk}&program={program.pk}"
    cell = page.locator(f'#coverage tr[data-kabupaten="{SITUBONDO}"][data-pillar="psm"] a[href="{drill_href}"]')
    expect(cell).to_have_text(str(len(never)))
    cell.click()
    page.wait_for_url(lambda current: current == url + drill_href)
    rows = page.locator("#untrained tbody tr[data-person]")
    expect(rows).to_have_count(len(never))
    assert {int(pk) for pk in rows.evaluate_all("rows => rows.map(r => r.dataset.person)")} == never
    expect(page.locator("#untrained input[name=person]")).to_have_count(0)  # staff do not nominate here
    expect(page.locator("#coverage-nominate")).to_have_count(0)

    # The operator, on their own device, opens the same list and nominates three of the new people.
    before = set(Nomination.objects.values_list("pk", flat=True))
    chosen = [new_people[nik] for nik in NEW_NIKS[:TICKED]]
    operator_context = page.context.browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta")
    operator_context.set_default_timeout(10_000)
    try:
        mine = operator_context.new_page()
        mine.goto(url + drill_href)
        mine.wait_for_url(re.compile(r"/akun/masuk/"))
        mine.fill("#id_username", OPERATOR)
        mine.fill("#id_password", DEMO_PASSWORD)
        _submit(mine)
        mine.wait_for_url(lambda current: current == url + drill_href)
        boxes = mine.locator("#coverage-nominate #untrained input[type=checkbox][name=person]")
        expect(boxes).to_have_count(len(never))
        for person in chosen:
            mine.locator(f"#person-{person.pk}").check()
        expect(mine.locator("#coverage-nominate input[name=person]:checked")).to_have_count(TICKED)
        batch_select = mine.locator("#nominate-batch")
        expect(batch_select.locator(f'option[value="{batch.pk}"]')).to_have_count(1)
        batch_select.select_option(value=str(batch.pk))
        mine.locator("#coverage-nominate button[type=submit]").click()

        # Back on the list: the three are nominated (in a batch now) and no longer listed.
        mine.wait_for_url(lambda current: current == url + drill_href)
        expect(mine.locator(".alert-success")).to_have_count(1)
        expect(mine.locator(".alert-danger")).to_have_count(0)
        expect(mine.locator("#untrained tbody tr[data-person]")).to_have_count(len(never) - TICKED)
        for person in chosen:
            expect(mine.locator(f'#untrained tr[data-person="{person.pk}"]')).to_have_count(0)
    finally:
        operator_context.close()

    created = Nomination.objects.exclude(pk__in=before).select_related("nominated_by")
    assert sorted(n.person_id for n in created) == sorted(p.pk for p in chosen)
    for nomination in created:
        assert nomination.batch_id == batch.pk
        assert nomination.status == Nomination.Status.PENDING
        assert nomination.nominated_by.username == OPERATOR
    assert _never_trained(situbondo, psm, program) == never - {p.pk for p in chosen}
