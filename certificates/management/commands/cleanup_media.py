"""`manage.py cleanup_media [--dry-run]`: the daily media clean-up by hand (certificates/cleanup.py). With
--dry-run it lists what it would delete and changes nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand

from certificates.cleanup import media_cleanup


class Command(BaseCommand):
    help = (
        "Delete uploads nobody confirmed that are older than UPLOAD_RETENTION_HOURS, and stored files no row points "
        "to that are older than ORPHAN_GRACE_HOURS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; delete nothing.")

    def handle(self, *args, dry_run: bool, **options):
        report = media_cleanup(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        uploads = report.uploads
        self.stdout.write(
            f"{verb} {uploads.count} unconfirmed uploads older than {settings.UPLOAD_RETENTION_HOURS} h "
            f"({len(uploads.nomination_uploads)} nomination, {len(uploads.registry_uploads)} registry; "
            f"{len(uploads.files)} files)."
        )
        for pk in uploads.nomination_uploads:
            self.stdout.write(f"  nomination upload #{pk}")
        for pk in uploads.registry_uploads:
            self.stdout.write(f"  registry upload #{pk}")
        orphans = report.orphans
        self.stdout.write(
            f"{verb} {len(orphans.files)} files no row points to; {orphans.too_young} more are younger than "
            f"{settings.ORPHAN_GRACE_HOURS} h and kept for now."
        )
        for name in orphans.files:
            self.stdout.write(f"  {name}")
