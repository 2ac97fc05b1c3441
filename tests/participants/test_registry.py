"""The registry import (people without nominations): the template, the check job's row-by-row report, nothing
written before the confirmation, importing the valid rows only, updates by NIK without duplicates, the
operator's scope (rows and records of another kabupaten), .csv with BOM and semicolons, the Celery path with
its progress bar, a 10,000-row file, a re-run that goes on where it stopped, and who may open which page."""

import csv
import io
from datetime import date

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import override
from openpyxl import Workbook, load_workbook

from participants import registry
from participants.models import Nomination, Person, RegistryUpload
from participants.registry import REGISTRY_COLUMNS
from tests.factories import (
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    StaffFactory,
    pillar,
    region,
)
from tests.outages import table_full

pytestmark = pytest.mark.django_db

HEADERS = [column.header for column in REGISTRY_COLUMNS]
KEYS = [column.key for column in REGISTRY_COLUMNS]
SITUBONDO, GRESIK = "35.12", "35.25"
BIRTH = date(1985, 10, 13)


# ------------------------------------------------------------------------------------------------ helpers


def make_nik(birth: date = BIRTH, *, region_code="351201", serial=1) -> str:
    return f"{region_code}{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def person_row(serial=1, birth: date = BIRTH, **values) -> dict:
    """A valid Situbondo pillar member; keyword arguments replace cells (by column key)."""
    cells = {
        "nik": make_nik(birth, serial=serial),
        "full_name": f"Anggota {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": birth.strftime("%d-%m-%Y"),
        "address": "Jl. Anggrek 1",
        "village": "Sumberanyar",
        "kabupaten": "",
        "kecamatan": "35.12.01",
        "phone": "081234567890",
        "email": "",
        "pillar_type": "PSM",
        "pillar_detail": "",
        "education": "SMA/SMK",
    }
    cells.update(values)
    return cells


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Peserta"
    sheet.append(HEADERS)
    for cells in rows:
        sheet.append([cells.get(key, "") for key in KEYS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, *, delimiter=";", bom=True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(HEADERS)
    for cells in rows:
        writer.writerow([cells.get(key, "") for key in KEYS])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def thirty_rows_two_bad() -> list[dict]:
    rows = [person_row(serial) for serial in range(1, 31)]
    rows[4]["nik"] = "35120113108500"  # row 6 of the sheet: 14 digits
    rows[11]["pillar_type"] = "Pilar Khayalan"  # row 13
    return rows


def upload_checked(django_capture_on_commit_callbacks, actor, content, name="anggota.xlsx", kabupaten=None):
    """Upload a file and run its check job (in-process, as without a broker)."""
    with django_capture_on_commit_callbacks(execute=True):
        upload = registry.registry_upload_create(
            actor=actor, file=SimpleUploadedFile(name, content), kabupaten=kabupaten
        )
    upload.refresh_from_db()
    return upload


def confirm(django_capture_on_commit_callbacks, actor, upload, valid_only=False):
    with django_capture_on_commit_callbacks(execute=True):
        registry.registry_upload_confirm(actor=actor, upload=upload, valid_only=valid_only)
    upload.refresh_from_db()
    return upload


def problems_of(upload) -> set:
    return {(p["row"], p["column"], p["code"]) for p in upload.report["problems"]}


def registry_person(nik, **fields) -> Person:
    values = {
        "full_name": "Nama Lama",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": BIRTH,
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


# ----------------------------------------------------------------------------------------------- template


def test_template_has_the_person_columns_instructions_and_references(client, operator):
    client.force_login(operator)
    response = client.get(reverse("participants:registry_template"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Peserta", "Petunjuk", "Referensi"]
    headers = [cell.value for cell in workbook["Peserta"][1]]
    assert headers == HEADERS
    assert "Kode Kabupaten/Kota" in headers and "NIK" in headers and "Pilar Sosial" in headers
    assert workbook["Peserta"].column_dimensions["A"].number_format == "@"
    reference = workbook["Referensi"]
    assert [c.value for c in reference["D"][1:] if c.value] == [SITUBONDO]
    kecamatan = [c.value for c in reference["G"][1:] if c.value]
    assert kecamatan and all(code.startswith("35.12.") for code in kecamatan)
    assert "PSM" in {c.value for c in reference["B"][1:]}


# ------------------------------------------------------------------------------------------ check, import


def test_bad_rows_are_reported_by_row_and_nothing_is_written_until_the_valid_rows_are_confirmed(
    django_capture_on_commit_callbacks, operator
):
    with override("en"):
        upload = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(thirty_rows_two_bad()))
    assert upload.status == RegistryUpload.Status.CHECKED
    assert (upload.rows_total, upload.rows_valid) == (30, 28)
    assert problems_of(upload) == {(6, "NIK", "nik"), (13, "Pilar Sosial", "pillar")}
    messages = {p["row"]: p["message"] for p in upload.report["problems"]}
    # The report is kept in the interface's language (Indonesian), whoever uploaded the file.
    assert "16 digit" in messages[6] and "Pilar Khayalan" in messages[13]
    assert upload.report["actions"]["create"] == 28
    assert Person.objects.count() == 0

    with pytest.raises(ValidationError, match="Beberapa baris bermasalah"):
        registry.registry_upload_confirm(actor=operator, upload=upload)  # bad rows: only when asked for
    assert Person.objects.count() == 0

    upload = confirm(django_capture_on_commit_callbacks, operator, upload, valid_only=True)
    assert upload.status == RegistryUpload.Status.DONE
    assert (upload.rows_done, upload.created_count, upload.updated_count) == (28, 28, 0)
    assert Person.objects.count() == 28
    assert not Person.objects.filter(full_name__in=["Anggota 5", "Anggota 12"]).exists()
    assert Nomination.objects.count() == 0  # the registry only
    assert not upload.file  # the file with the personal data is not kept after the import
    with pytest.raises(ValidationError, match="tidak sedang menunggu konfirmasi"):
        registry.registry_upload_confirm(actor=operator, upload=upload, valid_only=True)  # once only


def test_second_upload_updates_known_people_by_nik_without_duplicates(django_capture_on_commit_callbacks, operator):
    first = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(thirty_rows_two_bad()))
    confirm(django_capture_on_commit_callbacks, operator, first, valid_only=True)

    rows = [person_row(serial, full_name=f"Nama Baru {serial}") for serial in (1, 2, 3, 4, 6)]
    rows += [person_row(serial) for serial in (7, 8)]  # unchanged
    second = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(rows))
    assert second.report["actions"] == {"create": 0, "update": 5, "unchanged": 2, "skip": 0}
    second = confirm(django_capture_on_commit_callbacks, operator, second)
    assert (second.created_count, second.updated_count, second.skipped_count) == (0, 5, 0)
    assert Person.objects.count() == 28
    assert Person.objects.get(nik=make_nik(serial=3)).full_name == "Nama Baru 3"
    assert Person.objects.filter(full_name__startswith="Nama Baru").count() == 5
    # An empty optional cell keeps what the registry knows.
    third = upload_checked(django_capture_on_commit_callbacks, operator, xlsx([person_row(9, phone="")]))
    confirm(django_capture_on_commit_callbacks, operator, third)
    assert Person.objects.get(nik=make_nik(serial=9)).phone == "081234567890"


def test_an_operators_rows_of_another_kabupaten_are_problems_and_its_records_are_left_unsaid(
    django_capture_on_commit_callbacks, operator
):
    """A record registered by another kabupaten is left as it is, and the operator hears of its row what they
    would hear of a new NIK (participants.privacy): no warning, counted with the new people."""
    gresik_person = registry_person(make_nik(serial=50), kabupaten=region(GRESIK), kecamatan=None)
    rows = [
        person_row(1),
        person_row(2, kabupaten=GRESIK, kecamatan=""),  # row 3: another kabupaten by its column
        person_row(3, kecamatan="35.25.01"),  # row 4: a kecamatan of Gresik
        person_row(4, kabupaten="Kabupaten Situbondo"),  # its own, by name
        person_row(50, full_name="Ganti Nama", kecamatan=""),  # row 6: Gresik's record
    ]
    upload = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(rows))
    codes = problems_of(upload)
    assert (3, "Kode Kabupaten/Kota", "kabupaten") in codes
    assert (4, "Kode Kecamatan", "kabupaten") in codes
    assert {row for row, _column, _code in codes} == {3, 4}
    assert not any(w["row"] == 6 for w in upload.report["warnings"])
    assert "Nama Lama" not in str(upload.report)
    upload = confirm(django_capture_on_commit_callbacks, operator, upload, valid_only=True)
    assert (upload.created_count, upload.updated_count, upload.skipped_count) == (3, 0, 0)
    gresik_person.refresh_from_db()
    assert gresik_person.full_name == "Nama Lama" and gresik_person.kabupaten == region(GRESIK)
    assert set(Person.objects.values_list("kabupaten__code", flat=True)) == {SITUBONDO, GRESIK}


def test_staff_whole_province_file_places_rows_by_kabupaten_or_kecamatan(django_capture_on_commit_callbacks, staff):
    rows = [
        person_row(1),  # by its kecamatan code
        person_row(2, kabupaten="35.25", kecamatan="", birth_place="Gresik"),
        person_row(3, kecamatan=""),  # neither: a problem
    ]
    upload = upload_checked(django_capture_on_commit_callbacks, staff, xlsx(rows))
    assert problems_of(upload) == {(4, "Kode Kabupaten/Kota", "required")}
    confirm(django_capture_on_commit_callbacks, staff, upload, valid_only=True)
    assert dict(Person.objects.values_list("full_name", "kabupaten__code")) == {
        "Anggota 1": SITUBONDO,
        "Anggota 2": GRESIK,
    }


def test_csv_with_semicolons_and_bom(django_capture_on_commit_callbacks, operator):
    rows = [person_row(serial) for serial in range(1, 6)]
    upload = upload_checked(django_capture_on_commit_callbacks, operator, csv_bytes(rows), name="anggota.csv")
    assert upload.report["problems"] == [] and upload.rows_valid == 5
    confirm(django_capture_on_commit_callbacks, operator, upload)
    assert Person.objects.count() == 5
    comma = upload_checked(
        django_capture_on_commit_callbacks, operator, csv_bytes(rows, delimiter=",", bom=False), name="a.csv"
    )
    assert comma.rows_valid == 5 and comma.report["actions"]["unchanged"] == 5


def test_file_refusals(client, django_capture_on_commit_callbacks, operator):
    with pytest.raises(ValidationError) as caught:
        registry.registry_upload_create(actor=operator, file=SimpleUploadedFile("a.xls", b"x"))
    assert caught.value.error_dict["file"][0].code == "extension"
    big = SimpleUploadedFile("a.csv", b"x" * (registry.MAX_BYTES + 1))
    with pytest.raises(ValidationError) as caught:
        registry.registry_upload_create(actor=operator, file=big)
    assert caught.value.error_dict["file"][0].code == "size"
    client.force_login(operator)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the pages are Indonesian unless the user switches
    response = client.post(reverse("participants:registry_upload"), {"file": big})
    assert response.status_code == 200 and "the limit is 5 MB" in response.content.decode()
    assert not RegistryUpload.objects.exists()

    # Too many rows is found by the check job: the upload fails with the reason.
    line = ";".join(person_row(1)[key] for key in KEYS)
    content = ("\ufeff" + ";".join(HEADERS) + "\n" + "\n".join([line] * (registry.MAX_ROWS + 1))).encode()
    with override("en"):
        upload = upload_checked(django_capture_on_commit_callbacks, operator, content, name="banyak.csv")
    assert upload.status == RegistryUpload.Status.FAILED and "15.000" in upload.error
    assert Person.objects.count() == 0


def test_upload_page_through_celery_task_path_and_progress_partial(
    client, django_capture_on_commit_callbacks, operator
):
    client.force_login(operator)
    page = client.get(reverse("participants:registry_upload"))
    assert page.status_code == 200 and 'id="privacy-notice"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("participants:registry_upload"),
            {"file": SimpleUploadedFile("anggota.xlsx", xlsx(thirty_rows_two_bad()))},
        )
    upload = RegistryUpload.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "participants:registry_detail", args=[upload.pk]
    )
    assert upload.status == RegistryUpload.Status.CHECKED
    assert upload.kabupaten == region(SITUBONDO) and upload.organiser is None
    assert "anggota" not in upload.file.name  # no name of the uploader's in the storage path

    detail = client.get(response["Location"]).content.decode()
    assert 'id="registry-progress"' in detail and 'id="valid-only"' in detail
    assert "3512••••••••0001" in detail and make_nik(serial=1) not in detail
    progress_url = reverse("participants:registry_progress", args=[upload.pk])
    partial = client.get(progress_url, {"poll": "1"}, headers={"HX-Request": "true"})
    assert 'aria-valuenow="100"' in partial.content.decode()
    assert partial["HX-Refresh"] == "true" and "hx-trigger" not in partial.content.decode()

    confirm_url = reverse("participants:registry_confirm", args=[upload.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(confirm_url)  # without ticking "valid rows only": refused
    assert Person.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirm_url, {"valid_only": "1"})
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == RegistryUpload.Status.DONE and Person.objects.count() == 28
    partial = client.get(progress_url).content.decode()
    assert 'aria-valuenow="100"' in partial and 'id="registry-progress"' in partial
    detail = client.get(reverse("participants:registry_detail", args=[upload.pk])).content.decode()
    assert 'id="count-created"' in detail and 'id="registry-confirm-form"' not in detail
    uploads_page = client.get(reverse("participants:registry_upload")).content.decode()
    assert reverse("participants:registry_detail", args=[upload.pk]) in uploads_page

    # While a job runs, the partial polls every second.
    RegistryUpload.objects.filter(pk=upload.pk).update(status=RegistryUpload.Status.IMPORTING, rows_done=14)
    partial = client.get(progress_url).content.decode()
    assert 'hx-trigger="every 1s"' in partial and 'aria-valuenow="50"' in partial


def test_a_failed_import_runs_again_from_the_rows_done(
    client, django_capture_on_commit_callbacks, operator, monkeypatch
):
    upload = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(thirty_rows_two_bad()))
    monkeypatch.setattr(registry, "CHUNK_ROWS", 10)
    with table_full(Person, rows=10):  # the second chunk cannot be written
        upload = confirm(django_capture_on_commit_callbacks, operator, upload, valid_only=True)
    assert (upload.status, upload.rows_done, Person.objects.count()) == (RegistryUpload.Status.FAILED, 10, 10)
    assert "IntegrityError" in upload.error and upload.file  # kept for the next run

    client.force_login(operator)
    detail = client.get(reverse("participants:registry_detail", args=[upload.pk])).content.decode()
    assert 'id="registry-retry"' in detail and 'id="registry-error"' in detail
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("participants:registry_retry", args=[upload.pk]))
    upload.refresh_from_db()
    assert upload.status == RegistryUpload.Status.DONE
    assert (upload.rows_done, upload.created_count, Person.objects.count()) == (28, 28, 28)
    registry.registry_upload_import(upload_id=upload.pk)  # the message delivered once more: nothing happens
    assert Person.objects.count() == 28
    with pytest.raises(ValidationError, match="Hanya impor yang gagal atau macet"):
        registry.registry_upload_retry(actor=operator, upload=upload)


def test_a_duplicated_import_message_continues_from_the_rows_done(
    django_capture_on_commit_callbacks, operator, monkeypatch
):
    upload = upload_checked(django_capture_on_commit_callbacks, operator, xlsx(thirty_rows_two_bad()))
    monkeypatch.setattr(registry, "CHUNK_ROWS", 10)
    registry.registry_upload_confirm(actor=operator, upload=upload, valid_only=True)
    # A worker claimed it and wrote the first chunk, then was lost before it could record a failure.
    with table_full(Person, rows=10), pytest.raises(IntegrityError):
        registry.registry_upload_import(upload_id=upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.rows_done, Person.objects.count()) == (RegistryUpload.Status.IMPORTING, 10, 10)
    registry.registry_upload_import(upload_id=upload.pk)  # the redelivered message
    upload.refresh_from_db()
    assert (upload.status, upload.rows_done, upload.created_count) == (RegistryUpload.Status.DONE, 28, 28)
    assert Person.objects.count() == 28


def test_ten_thousand_rows(django_capture_on_commit_callbacks, staff):
    births = [date(1985, 10, 13), date(1990, 3, 2)]
    rows = [
        person_row(serial % 9000 + 1, births[serial // 9000], full_name=f"Anggota {serial}") for serial in range(10_000)
    ]
    upload = upload_checked(django_capture_on_commit_callbacks, staff, xlsx(rows), kabupaten=region(SITUBONDO))
    assert upload.report["problems"] == [] and upload.rows_valid == 10_000
    assert len(upload.report["preview"]) == registry.PREVIEW_ROWS
    upload = confirm(django_capture_on_commit_callbacks, staff, upload)
    assert upload.status == RegistryUpload.Status.DONE
    assert (upload.rows_done, upload.created_count) == (10_000, 10_000)
    assert Person.objects.filter(kabupaten__code=SITUBONDO).count() == 10_000


# ------------------------------------------------------------------------------------------- permissions


@pytest.fixture
def uploads(django_capture_on_commit_callbacks, staff, operator):
    content = xlsx([person_row(1)])
    return {
        "staff": upload_checked(django_capture_on_commit_callbacks, staff, content),
        "operator": upload_checked(django_capture_on_commit_callbacks, operator, content),
    }


@pytest.mark.parametrize(
    "who, owner, expected",
    [
        ("anonymous", "staff", 302),
        ("staff", "staff", 200),
        ("other_staff", "staff", 404),
        ("operator", "staff", 404),
        ("facilitator", "staff", 403),
        ("anonymous", "operator", 302),
        ("operator", "operator", 200),
        ("other_operator", "operator", 404),
        ("staff", "operator", 404),
        ("facilitator", "operator", 403),
    ],
)
def test_upload_pages_permission_matrix(client, uploads, operator, staff, gresik_operator, who, owner, expected):
    users = {
        "anonymous": None,
        "staff": staff,
        "other_staff": StaffFactory(organiser=OrganiserFactory(code="DINSOS-JATIM")),
        "operator": operator,
        "other_operator": gresik_operator,
        "facilitator": FacilitatorUserFactory(),
    }
    if users[who] is not None:
        client.force_login(users[who])
    upload = uploads[owner]
    for name in ("registry_detail", "registry_progress"):
        response = client.get(reverse(f"participants:{name}", args=[upload.pk]))
        assert response.status_code == expected, name
    for name in ("registry_confirm", "registry_retry"):
        response = client.post(reverse(f"participants:{name}", args=[upload.pk]))
        assert response.status_code == (302 if expected == 200 else expected), name
    assert Person.objects.count() == 0 or expected == 200


@pytest.mark.parametrize(
    "who, expected",
    [("anonymous", 302), ("staff", 200), ("operator", 200), ("facilitator", 403)],
)
def test_upload_and_template_permission(client, operator, staff, who, expected):
    users = {"anonymous": None, "staff": staff, "operator": operator, "facilitator": FacilitatorUserFactory()}
    if users[who] is not None:
        client.force_login(users[who])
    for name in ("registry_upload", "registry_template"):
        assert client.get(reverse(f"participants:{name}")).status_code == expected, name
    if who == "anonymous":
        response = client.post(reverse("participants:registry_upload"), {})
        assert response.status_code == 302 and "next=" in response["Location"]


def test_links_from_the_people_list_and_the_operator_home(client, staff, operator):
    url = reverse("participants:registry_upload")
    client.force_login(staff)
    assert client.get(reverse("participants:person_list")).content.decode().count(f'href="{url}"') == 1
    client.force_login(operator)
    home = client.get(reverse("participants:nominations_home")).content.decode()
    assert home.count(f'href="{url}"') == 1


def test_checking_costs_a_fixed_number_of_queries(operator):
    def queries(count):
        rows = registry.read_spreadsheet(xlsx([person_row(serial) for serial in range(1, count + 1)]), "a.xlsx")
        with CaptureQueriesContext(connection) as captured:
            check = registry.check_rows(rows, actor=operator, kabupaten=operator.kabupaten)
        assert len(check.valid) == count
        return len(captured)

    assert queries(5) == queries(800)


def test_staff_template_for_a_kabupaten_or_the_whole_province(client, staff):
    client.force_login(staff)
    province = load_workbook(io.BytesIO(client.get(reverse("participants:registry_template")).content))
    assert len([c for c in province["Referensi"]["D"][1:] if c.value]) == 38
    one = client.get(reverse("participants:registry_template"), {"kabupaten": region(GRESIK).pk})
    assert "gresik" in one["Content-Disposition"]
    reference = load_workbook(io.BytesIO(one.content))["Referensi"]
    assert [c.value for c in reference["D"][1:] if c.value] == [GRESIK]
    assert client.get(reverse("participants:registry_template"), {"kabupaten": "x"}).status_code == 404
