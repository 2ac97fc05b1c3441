"""Importing regions from Kemendagri-style CSV: the service and the `import_regions` command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from pillars.models import Region
from pillars.services import regions_import_csv
from tests.factories import region

pytestmark = pytest.mark.django_db

# Two new desa under an existing Situbondo kecamatan, a new kecamatan of Kota Batu and one of its desa.
NEW_ROWS = "35.12.01.2001,Sumbermalang\n35.12.01.2002,Tlogosari\n35.79.01,Batu\n35.79.01.1001,Sisir\n"


def run_command(path):
    out, err = StringIO(), StringIO()
    call_command("import_regions", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, name="wilayah.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


# ---------------------------------------------------------------------------------------------- service


def test_creates_kecamatan_and_desa_under_existing_parents():
    before = Region.objects.count()
    report = regions_import_csv(text="code,name\n" + NEW_ROWS)

    assert report.ok
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    assert Region.objects.count() == before + 4

    desa = region("35.12.01.2001")
    assert desa.level == Region.Level.VILLAGE
    assert desa.parent == region("35.12.01")
    kecamatan = region("35.79.01")
    assert (kecamatan.name, kecamatan.level, kecamatan.parent) == (
        "Batu",
        Region.Level.DISTRICT,
        region("35.79"),
    )
    # The child listed after its new parent in the same file hangs under it.
    assert region("35.79.01.1001").parent == kecamatan


def test_child_listed_before_its_new_parent_is_still_linked():
    report = regions_import_csv(text="35.79.01.1001,Sisir\n35.79.01,Batu\n")
    assert report.ok
    assert region("35.79.01.1001").parent == region("35.79.01")


def test_second_run_changes_nothing():
    text = "kode,nama\n" + NEW_ROWS
    regions_import_csv(text=text)
    count = Region.objects.count()

    again = regions_import_csv(text=text)

    assert again.ok
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert Region.objects.count() == count


def test_a_name_change_updates_the_region():
    report = regions_import_csv(text="35.12.01,Sumber Malang\n35.12.02,Jatibanteng\n")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert region("35.12.01").name == "Sumber Malang"
    assert region("35.12.01").parent == region("35.12")


def test_header_row_is_optional_and_blank_lines_are_skipped():
    report = regions_import_csv(text="35.12.01.2001,Sumbermalang\n\n35.12.01.2002,Tlogosari\n")
    assert report.ok
    assert report.created == 2


def test_utf8_bom_is_accepted():
    report = regions_import_csv(text="\ufeffcode,name\n35.12.01.2001,Sumbermalang\n")
    assert report.ok
    assert report.created == 1
    assert not Region.objects.filter(code__startswith="\ufeff").exists()


BAD_FILE = (
    "code,name\n"  # 1
    "35.12.01.2001,Sumbermalang\n"  # 2: good, must not be imported
    "35.1X.01,Salah Kode\n"  # 3: bad code
    "35.12.01.2002,   \n"  # 4: empty name
    "35.12.01.2003,Satu,Dua\n"  # 5: three columns
    "35.12.01.2001,Sumbermalang Lagi\n"  # 6: duplicate of line 2
    "35.99.01,Tanpa Induk\n"  # 7: unknown parent 35.99
    "35.12.01.2004,Baik Juga\n"  # 8: good, must not be imported
)


def test_bad_rows_are_reported_by_line_and_nothing_is_imported():
    before = Region.objects.count()
    report = regions_import_csv(text=BAD_FILE)

    assert not report.ok
    assert [line for line, _message in report.errors] == [3, 4, 5, 6, 7]
    messages = dict(report.errors)
    assert "35.1X.01" in messages[3]
    assert "3" in messages[5]  # the number of columns found
    assert "2" in messages[6]  # the line of the first occurrence
    assert "35.99" in messages[7]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert Region.objects.count() == before
    assert not Region.objects.filter(code__in=["35.12.01.2001", "35.12.01.2004"]).exists()


def test_a_name_longer_than_the_column_is_reported_not_stored():
    # Region.name holds 120 characters; PostgreSQL would fail the whole import with a DataError instead of
    # a line-numbered report, and SQLite would store it silently.
    report = regions_import_csv(text=f"35.12.01.2001,Sumbermalang\n35.12.01.2002,{'Desa ' * 30}\n")
    assert [line for line, _message in report.errors] == [2]
    assert not Region.objects.filter(code__startswith="35.12.01.").exists()


def test_one_bad_row_blocks_a_rename_elsewhere_in_the_file():
    report = regions_import_csv(text="35.12.01,Sumber Malang\n35.12.02,\n")
    assert [line for line, _message in report.errors] == [2]
    assert region("35.12.01").name == "Sumbermalang"


# ---------------------------------------------------------------------------------------------- command


def test_command_imports_and_reports_counts(tmp_path):
    path = write(tmp_path, "code,name\n" + NEW_ROWS)

    out, err = run_command(path)

    assert "Wilayah baru: 4" in out
    assert "tidak berubah: 0" in out
    assert err == ""
    assert region("35.12.01.2002").name == "Tlogosari"


def test_command_is_idempotent(tmp_path):
    path = write(tmp_path, NEW_ROWS)
    run_command(path)
    count = Region.objects.count()

    out, _err = run_command(path)

    assert "Wilayah baru: 0, diperbarui: 0, tidak berubah: 4" in out
    assert Region.objects.count() == count


def test_command_accepts_a_bom_written_by_excel(tmp_path):
    path = write(tmp_path, "code,name\n35.12.01.2001,Sumbermalang\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    out, _err = run_command(path)

    assert "Wilayah baru: 1" in out
    assert region("35.12.01.2001").level == Region.Level.VILLAGE


def test_command_updates_a_renamed_region(tmp_path):
    path = write(tmp_path, "35.12.01,Sumber Malang\n")
    out, _err = run_command(path)
    assert "diperbarui: 1" in out
    assert region("35.12.01").name == "Sumber Malang"


def test_command_fails_on_bad_rows_and_names_their_lines(tmp_path):
    path = write(tmp_path, BAD_FILE)
    before = Region.objects.count()
    err = StringIO()

    with pytest.raises(CommandError, match="5 baris"):
        call_command("import_regions", str(path), stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["baris 3", "baris 4", "baris 5", "baris 6", "baris 7"]
    assert Region.objects.count() == before


def test_command_fails_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_regions", str(tmp_path / "tidak-ada.csv"), stdout=StringIO(), stderr=StringIO())


def test_command_fails_on_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("35.12.01,Sumbermal\xe4ng\n".encode("latin-1"))
    with pytest.raises(CommandError):
        call_command("import_regions", str(path), stdout=StringIO(), stderr=StringIO())
    assert region("35.12.01").name == "Sumbermalang"
