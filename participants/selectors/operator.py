"""Reads for the Dinsos operator's nomination pages (also used by staff acting for a kabupaten). Each
returns what its page needs in a fixed number of queries, whatever the number of batches or nominations."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, QuerySet

from pillars.models import Region
from trainings.models import Batch, QuotaAllocation
from trainings.selectors import attendance_matrix, batches_visible_to

from ..models import AssignmentLetter, Nomination
from ..privacy import shield
from ..services import QuotaState, nomination_window_open
from . import enrollments_visible_to, nominations_visible_to, related_or_none


@dataclass
class SeatRow:
    """Seats of one allocation (None: the batch's total) and how many are held by active nominations."""

    allocation: QuotaAllocation | None
    seats: int
    taken: int

    @property
    def left(self) -> int:
        return max(self.seats - self.taken, 0)


def seats_for_kabupaten(quota: QuotaState, kabupaten: Region) -> list[SeatRow]:
    """The rows of the quota that concern one kabupaten: the total, its own allocation, the pillar
    allocations and the allocations of its kecamatan."""
    rows = []
    for allocation, seats, taken in quota.seats_left():
        concerns = (
            allocation is None
            or allocation.kind == QuotaAllocation.Kind.PILLAR
            or allocation.region_id == kabupaten.pk
            or (allocation.kind == QuotaAllocation.Kind.KECAMATAN and allocation.region.parent_id == kabupaten.pk)
        )
        if concerns:
            rows.append(SeatRow(allocation=allocation, seats=seats, taken=taken))
    return rows


def _allocations() -> Prefetch:
    return Prefetch("allocations", queryset=QuotaAllocation.objects.select_related("region", "pillar_type"))


# --------------------------------------------------------------------------------------------- home


@dataclass
class OpenBatch:
    batch: Batch
    seats: list
    own_active: int  # the kabupaten's nominations holding a seat


@dataclass
class PastBatch:
    batch: Batch
    counts: list  # (status label, count) of the kabupaten's nominations
    deadline_passed: bool = False  # still open for nomination, but no longer for operators


@dataclass
class NominationsHome:
    open_batches: list = field(default_factory=list)
    past_batches: list = field(default_factory=list)


def nominations_home(*, user) -> NominationsHome:
    """An operator's batches: those they may still nominate to (open, deadline not passed) with the seats
    left that concern their kabupaten, and the others with their nominations counted by status. Four
    queries."""
    kabupaten = user.kabupaten
    batches = list(
        batches_visible_to(user)
        .select_related("program")
        .prefetch_related(_allocations())
        .order_by("-start_date", "name")
    )
    open_batches = [b for b in batches if nomination_window_open(actor=user, batch=b)]
    states = QuotaState.load_many(open_batches)
    own = defaultdict(dict)
    rows = (
        Nomination.objects.filter(kabupaten_id=kabupaten.pk, batch__in=[b.pk for b in batches])
        .values("batch_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        own[row["batch_id"]][row["status"]] = row["n"]
    home = NominationsHome()
    for batch in open_batches:
        counts = own.get(batch.pk, {})
        home.open_batches.append(
            OpenBatch(
                batch=batch,
                seats=seats_for_kabupaten(states[batch.pk], kabupaten),
                own_active=sum(counts.get(status, 0) for status in Nomination.ACTIVE),
            )
        )
    labels = dict(Nomination.Status.choices)
    open_pks = {b.pk for b in open_batches}
    for batch in batches:
        if batch.pk not in open_pks:
            counts = own.get(batch.pk, {})
            home.past_batches.append(
                PastBatch(
                    batch=batch,
                    counts=[(labels[s], counts[s]) for s in Nomination.Status.values if s in counts],
                    deadline_passed=batch.status == Batch.Status.NOMINATION_OPEN,
                )
            )
    return home


# -------------------------------------------------------------------------------- one batch's page


def kabupaten_choices(batch: Batch) -> QuerySet[Region]:
    """The kabupaten/kota staff may act for in a batch: those with a quota, else those with a kecamatan
    quota, else (an open quota) every kabupaten/kota; plus any that already nominated. Allocations must be
    prefetched."""
    allocations = list(batch.allocations.all())
    regencies = Region.objects.filter(level=Region.Level.REGENCY)
    kabupaten_ids = {a.region_id for a in allocations if a.kind == QuotaAllocation.Kind.KABUPATEN}
    if not kabupaten_ids:
        kabupaten_ids = {a.region.parent_id for a in allocations if a.kind == QuotaAllocation.Kind.KECAMATAN}
    if not kabupaten_ids:
        return regencies.order_by("code")
    nominated = Nomination.objects.filter(batch=batch).values("kabupaten_id")
    return (regencies.filter(pk__in=kabupaten_ids) | regencies.filter(pk__in=nominated)).order_by("code")


@dataclass
class NominationRow:
    nomination: Nomination
    enrolled: bool
    changeable: bool  # withdraw / replace may be offered while nomination is open (checked separately)
    answerable: bool  # the staff asked for a replacement: it may be answered after the deadline too
    attendance: object = None  # the participant's row of trainings.selectors.attendance_matrix, once enrolled


@dataclass
class BatchNominations:
    batch: Batch
    kabupaten: Region
    rows: list
    seats: list
    letter: AssignmentLetter | None

    @property
    def has_answerable(self) -> bool:
        return any(row.answerable for row in self.rows)

    @property
    def active_count(self) -> int:
        return sum(1 for row in self.rows if row.nomination.is_active)


def batch_with_allocations(*, user, pk: int) -> QuerySet[Batch]:
    """The batch (if the user can find it) with its program, organiser and allocations, for the page."""
    return (
        batches_visible_to(user).select_related("program", "organiser").prefetch_related(_allocations()).filter(pk=pk)
    )


def batch_nominations(*, user, batch: Batch, kabupaten: Region) -> BatchNominations:
    """A kabupaten's nominations in a batch (the batch's allocations prefetched), with the seats that
    concern it and its assignment letter, and once the batch runs each participant's attendance. Three queries
    whatever the number of nominations (six once the batch runs)."""
    nominations = (
        nominations_visible_to(user)
        .filter(batch=batch, kabupaten=kabupaten)
        .select_related("person", "pillar_type", "kecamatan", "enrollment", "replaces__person", "replaced_by__person")
        .order_by("person__full_name", "pk")
    )
    rows = []
    for nomination in nominations:
        # Of a person registered elsewhere, the operator sees what they typed (privacy.py); the chain too.
        for shown in (nomination, related_or_none(nomination, "replaces"), related_or_none(nomination, "replaced_by")):
            shield(user, shown)
        enrolled = (
            nomination.status == Nomination.Status.ACCEPTED and related_or_none(nomination, "enrollment") is not None
        )
        rows.append(
            NominationRow(
                nomination=nomination,
                enrolled=enrolled,
                changeable=nomination.is_active,
                answerable=nomination.status == Nomination.Status.REPLACEMENT_REQUESTED
                and batch.status != Batch.Status.FINISHED,
            )
        )
    if batch.status in (Batch.Status.RUNNING, Batch.Status.FINISHED):
        # Attendance once the batch runs, by the selector that decides eligibility: three queries more.
        matrix = attendance_matrix(
            batch=batch,
            enrollments=enrollments_visible_to(user).filter(batch=batch, nomination__kabupaten=kabupaten),
        )
        by_enrollment = {row.enrollment.pk: row for row in matrix.rows}
        for row in rows:
            if row.enrolled:
                row.attendance = by_enrollment.get(row.nomination.enrollment.pk)
    quota = QuotaState.load(batch, allocations=batch.allocations.all())
    return BatchNominations(
        batch=batch,
        kabupaten=kabupaten,
        rows=rows,
        seats=seats_for_kabupaten(quota, kabupaten),
        letter=AssignmentLetter.objects.filter(batch=batch, kabupaten=kabupaten).first(),
    )


def assignment_letters_visible_to(user) -> QuerySet[AssignmentLetter]:
    """Staff: their organiser's batches' letters; operators: their kabupaten's letters; others: none."""
    letters = AssignmentLetter.objects.all()
    if not user.is_authenticated:
        return letters.none()
    if user.is_organiser_staff:
        return letters.filter(batch__organiser_id=user.organiser_id)
    if user.is_operator:
        return letters.filter(kabupaten_id=user.kabupaten_id)
    return letters.none()
