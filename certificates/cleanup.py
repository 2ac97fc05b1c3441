"""Clean-up of media storage, run daily by Celery beat (`media_cleanup` in tasks.py) and by hand with
`manage.py cleanup_media [--dry-run]`: unconfirmed uploads past their retention (participants.retention), and
files that no row points to (left by a worker or a machine that died between writing a file and committing its
row, or by a deletion that failed). Everything goes through Django's storage API (listdir, get_modified_time,
delete), so it works the same on a shared folder and on S3."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from participants.retention import ExpiredUploads, unconfirmed_uploads_delete

logger = logging.getLogger(__name__)

# The folders of media storage that rows point into (each FileField's upload_to starts with one of them). Only
# these are swept, so a storage shared with anything else loses nothing else.
MEDIA_FOLDERS = ("certificates", "documents", "nominations", "letters", "registry", "layouts", "organisers")


@dataclass
class OrphanedFiles:
    """Files no row points to: those deleted (or, in a dry run, to delete), and those spared as too young."""

    files: list[str] = field(default_factory=list)
    too_young: int = 0


@dataclass
class CleanupReport:
    uploads: ExpiredUploads
    orphans: OrphanedFiles
    dry_run: bool


def _file_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) of a FileField or ImageField in the project."""
    return [
        (model, model_field.name)
        for model in apps.get_models()
        for model_field in model._meta.concrete_fields
        if isinstance(model_field, models.FileField)
    ]


def referenced_files() -> set[str]:
    """Every file name a row of any model points to (all FileFields and ImageFields, one query each)."""
    names = set()
    for model, field_name in _file_fields():
        names.update(
            model._default_manager.exclude(**{field_name: ""})
            .exclude(**{f"{field_name}__isnull": True})
            .values_list(field_name, flat=True)
            .iterator()
        )
    return names


def stored_files(storage=default_storage, folders=MEDIA_FOLDERS):
    """Every file under `folders` of `storage`, walked with listdir (on S3: by key prefix)."""
    pending = list(folders)
    while pending:
        folder = pending.pop()
        try:
            directories, files = storage.listdir(folder)
        except FileNotFoundError:  # a folder nothing was stored in yet (S3 answers with an empty listing)
            continue
        pending.extend(f"{folder}/{name}" for name in directories)
        yield from (f"{folder}/{name}" for name in files)


def orphaned_files_delete(
    *, now: datetime | None = None, dry_run: bool = False, storage=default_storage
) -> OrphanedFiles:
    """Delete the stored files no row points to that are older than ORPHAN_GRACE_HOURS: a younger one may belong
    to a render or an upload whose row is not committed yet. With `dry_run` nothing is deleted."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.ORPHAN_GRACE_HOURS)
    # Rows first, files second: a file whose row commits after this read was written within the grace period.
    referenced = referenced_files()
    result = OrphanedFiles()
    for name in stored_files(storage):
        if name in referenced:
            continue
        if storage.get_modified_time(name) > cutoff:
            result.too_young += 1
            continue
        result.files.append(name)
        if not dry_run:
            _delete_if_still_orphaned(name, storage, cutoff)
    return result


def _delete_if_still_orphaned(name: str, storage, cutoff: datetime) -> None:
    """Delete `name` unless it was taken since the rows were read: a retry may have claimed a certificate whose
    old leftover lay under the same fixed name and written it anew. So, right before deleting, the rows are
    asked again (locking any that point to it, so its claim cannot commit meanwhile) and the file's time again
    (a file written by a claim not yet committed is young)."""
    with transaction.atomic():
        for model, field_name in _file_fields():
            if model._default_manager.select_for_update().filter(**{field_name: name}).exists():
                return
        if storage.get_modified_time(name) > cutoff:
            return
        storage.delete(name)


def media_cleanup(*, now: datetime | None = None, dry_run: bool = False) -> CleanupReport:
    """Both clean-ups: expired unconfirmed uploads first (their files then go with them), then orphaned files."""
    uploads = unconfirmed_uploads_delete(now=now, dry_run=dry_run)
    orphans = orphaned_files_delete(now=now, dry_run=dry_run)
    # Counts only: file names can carry a person's or a kabupaten's name.
    logger.info(
        "media clean-up%s: %s unconfirmed uploads, %s orphaned files (%s younger than the grace period spared)",
        " (dry run)" if dry_run else "",
        uploads.count,
        len(orphans.files),
        orphans.too_young,
    )
    return CleanupReport(uploads=uploads, orphans=orphans, dry_run=dry_run)
