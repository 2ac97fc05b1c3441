"""How long uploaded spreadsheets that nobody confirmed are kept: nomination spreadsheets checked but never
confirmed, or discarded, and registry uploads never confirmed for import. They hold personal data of people who
were never nominated or registered (a discarded upload's report too), so after UPLOAD_RETENTION_HOURS the upload
is deleted, its file with it. Confirmed uploads are records of what was imported and stay."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import NominationUpload, RegistryUpload


@dataclass
class ExpiredUploads:
    """What was (or, in a dry run, would be) deleted: upload ids by kind, and the stored files."""

    nomination_uploads: list[int] = field(default_factory=list)
    registry_uploads: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.nomination_uploads) + len(self.registry_uploads)


def unconfirmed_uploads(*, now: datetime | None = None):
    """The uploads nobody confirmed that are older than UPLOAD_RETENTION_HOURS: (nomination uploads checked but
    not confirmed or discarded, registry uploads). A registry upload counts as confirmed once its import was asked
    for, whatever became of it."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.UPLOAD_RETENTION_HOURS)
    nominations = NominationUpload.objects.filter(
        status__in=[NominationUpload.Status.CHECKED, NominationUpload.Status.DISCARDED], created_at__lt=cutoff
    )
    # has_key, not confirmed=True: a missing key compares as NULL, which exclude() would not count as unconfirmed.
    registry = RegistryUpload.objects.filter(created_at__lt=cutoff).exclude(
        Q(report__has_key="confirmed") | Q(status__in=[RegistryUpload.Status.IMPORTING, RegistryUpload.Status.DONE])
    )
    return nominations, registry


def unconfirmed_uploads_delete(*, now: datetime | None = None, dry_run: bool = False) -> ExpiredUploads:
    """Delete the unconfirmed uploads past their retention, rows and files (the files once the rows are gone).
    With `dry_run` nothing changes and the result says what would go."""
    result = ExpiredUploads()
    with transaction.atomic():
        nominations, registry = unconfirmed_uploads(now=now)
        # Locked, so that an upload confirmed at this very moment is either confirmed or deleted, not both.
        for upload in nominations.select_for_update(skip_locked=True).only("pk", "file"):
            result.nomination_uploads.append(upload.pk)
            if upload.file:
                result.files.append(upload.file.name)
        for upload in registry.select_for_update(skip_locked=True).only("pk", "file"):
            result.registry_uploads.append(upload.pk)
            if upload.file:
                result.files.append(upload.file.name)
        if dry_run:
            return result
        NominationUpload.objects.filter(pk__in=result.nomination_uploads).delete()
        RegistryUpload.objects.filter(pk__in=result.registry_uploads).delete()
        storage = NominationUpload._meta.get_field("file").storage
        files = list(result.files)
        transaction.on_commit(lambda: [storage.delete(name) for name in files])
    return result
