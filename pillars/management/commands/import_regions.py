"""Import regions (province, kabupaten/kota, kecamatan, desa) from a CSV of `code,name` rows."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pillars.services import regions_import_csv


class Command(BaseCommand):
    help = "Import regions from a Kemendagri-style CSV of code,name rows; nothing is written if a row is bad."

    def add_arguments(self, parser):
        parser.add_argument("csv_file", type=Path)

    def handle(self, *args, csv_file: Path, **options):
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {csv_file}: {exc}") from exc
        report = regions_import_csv(text=text)
        if not report.ok:
            for line_no, message in report.errors:
                self.stderr.write(f"baris {line_no}: {message}")
            raise CommandError(f"{len(report.errors)} baris bermasalah; tidak ada yang diimpor.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Wilayah baru: {report.created}, diperbarui: {report.updated}, tidak berubah: {report.unchanged}"
            )
        )
