"""Reads for the staff review page, the participant lists, a nomination's record and the people registry.
Each returns what its page needs in a fixed number of queries, whatever the number of nominations."""

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Prefetch, QuerySet, prefetch_related_objects

from pillars.models import Region
from trainings.models import Batch, QuotaAllocation

from ..models import AssignmentLetter, Enrollment, Nomination, NominationEvent, Person
from ..privacy import shield_enrollments
from ..services import QuotaState
from . import enrollments_visible_to, people_visible_to, related_or_none

# ------------------------------------------------------------------------------------------------- review


@dataclass
class ReviewFilters:
    """What the review page is narrowed to: ids and status codes only, never personal data."""

    kabupaten_id: int | None = None
    pillar_type_id: int | None = None
    kecamatan_id: int | None = None
    status: str = ""

    def apply(self, nominations: QuerySet[Nomination]) -> QuerySet[Nomination]:
        if self.kabupaten_id:
            nominations = nominations.filter(kabupaten_id=self.kabupaten_id)
        if self.pillar_type_id:
            nominations = nominations.filter(pillar_type_id=self.pillar_type_id)
        if self.kecamatan_id:
            nominations = nominations.filter(kecamatan_id=self.kecamatan_id)
        if self.status:
            nominations = nominations.filter(status=self.status)
        return nominations


@dataclass
class QuotaRow:
    """One quota (the batch total when `allocation` is None) and how its seats are used."""

    allocation: QuotaAllocation | None
    seats: int
    taken: int  # held by active nominations: waiting, accepted or replacement requested
    accepted: int
    pending: int

    @property
    def left(self) -> int:
        return max(self.seats - self.taken, 0)

    @property
    def over(self) -> bool:
        return self.taken > self.seats


@dataclass
class ReviewPage:
    batch: Batch
    nominations: list
    quota_rows: list
    status_counts: list  # (code, label, count) for every status
    total: int
    kabupaten_choices: list = field(default_factory=list)  # (id, name)
    kecamatan_choices: list = field(default_factory=list)
    pillar_choices: list = field(default_factory=list)
    letters: dict = field(default_factory=dict)  # kabupaten id -> AssignmentLetter
    missing_letters: list = field(default_factory=list)  # names of kabupaten whose required letter is missing


def _pillar_label(abbreviation: str, name: str) -> str:
    return abbreviation or name


def _by_name(item) -> str:
    return (item[1] or "").lower()


def review_page(*, batch: Batch, filters: ReviewFilters) -> ReviewPage:
    """The batch's nominations for the staff review page. Five queries: allocations, letters, seats taken,
    the counts by kabupaten/kecamatan/pillar/status (which also give the filter choices) and the rows."""
    prefetch_related_objects(
        [batch],
        Prefetch("allocations", queryset=QuotaAllocation.objects.select_related("region", "pillar_type")),
        Prefetch("assignment_letters", queryset=AssignmentLetter.objects.all()),
    )
    allocations = list(batch.allocations.all())
    quota = QuotaState.load(batch, allocations=allocations)
    letters = {letter.kabupaten_id: letter for letter in batch.assignment_letters.all()}

    groups = list(
        batch.nominations.order_by()
        .values(
            "kabupaten_id",
            "kabupaten__name",
            "kecamatan_id",
            "kecamatan__name",
            "kecamatan__parent_id",
            "pillar_type_id",
            "pillar_type__abbreviation",
            "pillar_type__name",
            "status",
        )
        .annotate(n=Count("pk"))
    )
    by_status = Counter()
    accepted, pending = Counter(), Counter()
    kabupaten, kecamatan, pillars = {}, {}, {}
    waiting_kabupaten = set()
    for row in groups:
        n, status = row["n"], row["status"]
        by_status[status] += n
        kabupaten[row["kabupaten_id"]] = row["kabupaten__name"]
        pillars[row["pillar_type_id"]] = _pillar_label(row["pillar_type__abbreviation"], row["pillar_type__name"])
        if row["kecamatan_id"] and (not filters.kabupaten_id or row["kecamatan__parent_id"] == filters.kabupaten_id):
            kecamatan[row["kecamatan_id"]] = row["kecamatan__name"]
        keys = [("total", None), ("region", row["kabupaten_id"]), ("pillar", row["pillar_type_id"])]
        if row["kecamatan_id"]:
            keys.append(("region", row["kecamatan_id"]))
        if status == Nomination.Status.ACCEPTED:
            accepted.update(dict.fromkeys(keys, n))
        elif status == Nomination.Status.PENDING:
            pending.update(dict.fromkeys(keys, n))
            waiting_kabupaten.add(row["kabupaten_id"])

    def key_of(allocation):
        if allocation is None:
            return ("total", None)
        if allocation.kind == QuotaAllocation.Kind.PILLAR:
            return ("pillar", allocation.pillar_type_id)
        return ("region", allocation.region_id)

    quota_rows = [
        QuotaRow(
            allocation=allocation,
            seats=seats,
            taken=taken,
            accepted=accepted[key_of(allocation)],
            pending=pending[key_of(allocation)],
        )
        for allocation, seats, taken in quota.seats_left()
    ]
    missing = []
    if batch.requires_assignment_letter:
        missing = sorted(kabupaten[pk] for pk in waiting_kabupaten if pk not in letters)

    nominations = list(
        filters.apply(batch.nominations.all())
        .select_related("person__kabupaten", "kabupaten", "kecamatan", "pillar_type")
        .order_by("kabupaten__code", "person__full_name", "pk")
    )
    for nomination in nominations:
        nomination.letter = letters.get(nomination.kabupaten_id)

    return ReviewPage(
        batch=batch,
        nominations=nominations,
        quota_rows=quota_rows,
        status_counts=[(code, label, by_status[code]) for code, label in Nomination.Status.choices],
        total=sum(by_status.values()),
        kabupaten_choices=sorted(kabupaten.items(), key=_by_name),
        kecamatan_choices=sorted(kecamatan.items(), key=_by_name),
        pillar_choices=sorted(pillars.items(), key=_by_name),
        letters=letters,
        missing_letters=missing,
    )


# ------------------------------------------------------------------------------------- participant lists


def enrollment_list(*, user, batch: Batch, kabupaten_id: int | None = None) -> list[Enrollment]:
    """The batch's participants the user may see (staff: all; an operator: their kabupaten's), by
    kabupaten and name. One query."""
    enrollments = enrollments_visible_to(user).filter(batch=batch)
    if kabupaten_id:
        enrollments = enrollments.filter(nomination__kabupaten_id=kabupaten_id)
    rows = list(
        enrollments.select_related(
            "person__kabupaten",
            "person__kecamatan",
            "person__pillar_type",
            "nomination__kabupaten",
            "nomination__kecamatan",
            "nomination__pillar_type",
        ).order_by("nomination__kabupaten__code", "person__full_name", "pk")
    )
    # An operator's participant registered elsewhere appears as they typed them, in the page and the export.
    return shield_enrollments(user, rows)


def enrollment_kabupaten(*, user, batch: Batch) -> list[Region]:
    """The kabupaten that have participants in the batch, as far as the user may see them. One query."""
    visible = enrollments_visible_to(user).filter(batch=batch)
    return list(Region.objects.filter(pk__in=visible.values("nomination__kabupaten_id")).order_by("name"))


def by_kabupaten(enrollments: list[Enrollment]) -> list[tuple[Region, list[Enrollment]]]:
    """Enrolments grouped by the kabupaten that nominated them, keeping their order."""
    groups: dict[int, tuple[Region, list]] = {}
    for enrollment in enrollments:
        region = enrollment.nomination.kabupaten
        groups.setdefault(region.pk, (region, []))[1].append(enrollment)
    return list(groups.values())


# ------------------------------------------------------------------------------------------- nomination


# Fields whose values are personal data: an audit entry shows them only to those who may see that data.
PERSONAL_FIELDS = frozenset({"nik", "birth_date", "birth_place", "address", "village", "phone", "email"})


@dataclass
class Change:
    label: str
    old: str
    new: str
    personal: bool = False


def _person_field_label(name: str) -> str:
    try:
        return str(Person._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _display(name: str, value) -> str:
    if value in (None, ""):
        return "—"
    try:
        choices = dict(Person._meta.get_field(name).flatchoices)
    except FieldDoesNotExist:
        choices = {}
    return str(choices.get(value, value))


def event_changes(event: NominationEvent) -> list[Change]:
    """The fields an event changed, each as label, old value and new value."""
    changes = []
    for name, values in (event.changes or {}).items():
        old, new = values if isinstance(values, list | tuple) and len(values) == 2 else (None, values)
        changes.append(
            Change(
                label=_person_field_label(name),
                old=_display(name, old),
                new=_display(name, new),
                personal=name in PERSONAL_FIELDS,
            )
        )
    return changes


@dataclass
class Conflict:
    """A value the nominating operator typed that differs from the person's registry record."""

    label: str
    submitted: str
    registry: str
    personal: bool = False


# The fields staff compare between a nomination as submitted and the registry.
COMPARED_FIELDS = ("full_name", "gender", "birth_place", "birth_date", "address", "village", "phone", "email")


def nomination_conflicts(nomination: Nomination) -> list[Conflict]:
    """For the staff: the values a nomination was submitted with that differ from the registry record (the
    registry was not corrected when the person is registered by another kabupaten). Nominations from before
    the submitted values were kept have none. No query once the nomination's person is loaded."""
    submitted = nomination.submitted or {}
    person = nomination.person
    conflicts = []
    for name in COMPARED_FIELDS:
        if name not in submitted:
            continue
        typed = submitted[name] or ""
        stored = getattr(person, name)
        stored = stored.isoformat() if hasattr(stored, "isoformat") else stored or ""
        if str(typed).strip() != str(stored).strip():
            conflicts.append(
                Conflict(
                    _person_field_label(name), _display(name, typed), _display(name, stored), name in PERSONAL_FIELDS
                )
            )
    return conflicts


def nomination_record(nominations: QuerySet[Nomination], pk: int) -> Nomination:
    """A nomination with its person, batch, replacement chain, enrolment and audit trail (events with their
    changes as `event.change_list`). Two queries; raises Nomination.DoesNotExist outside `nominations`."""
    nomination = (
        nominations.select_related(
            "batch__program",
            "batch__organiser",
            "person__kabupaten",
            "person__kecamatan",
            "person__pillar_type",
            "kabupaten",
            "kecamatan",
            "pillar_type",
            "replaces__person",
            "replaced_by__person",
            "enrollment",
            "upload",
            "nominated_by",
            "decided_by",
        )
        .prefetch_related(Prefetch("events", queryset=NominationEvent.objects.select_related("actor")))
        .get(pk=pk)
    )
    for event in nomination.events.all():
        event.change_list = event_changes(event)
    return nomination


# ---------------------------------------------------------------------------------------------- people


def person_record(*, user, pk: int) -> Person:
    """A person the user may find, with their training history (`person.history`: nominations across
    batches, newest batch first, each with its enrolment or None). Two queries."""
    history = Nomination.objects.select_related(
        "batch__program", "batch__organiser", "kabupaten", "pillar_type", "enrollment"
    ).order_by("-batch__start_date", "-pk")
    # Prefetched rather than queried apart: the person rules then answer from them without a query.
    person = (
        people_visible_to(user)
        .select_related("kabupaten", "kecamatan", "pillar_type")
        .prefetch_related(Prefetch("nominations", queryset=history))
        .get(pk=pk)
    )
    person.history = list(person.nominations.all())
    for nomination in person.history:
        nomination.enrollment_or_none = related_or_none(nomination, "enrollment")
    return person


def people_search(*, user, name: str = "") -> QuerySet[Person]:
    """The registry for the staff's people list, optionally by part of the name."""
    people = people_visible_to(user)
    if name:
        people = people.filter(full_name__icontains=name)
    return (
        people.select_related("kabupaten", "pillar_type")
        .annotate(nomination_count=Count("nominations", distinct=True))
        .order_by("full_name", "pk")
    )
