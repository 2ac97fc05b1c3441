"""Training coverage of the registry: per kabupaten/kota × pillar type, how many registered people completed a
training, are in one now, or were never trained; and the list of those not yet trained, to nominate them.

Every person falls in exactly one of the three groups, so they add up to the registered people:
- completed: a valid (not revoked) certificate of a batch of the program (of any program when none is chosen);
- in a batch now: not completed, but enrolled in a batch that has not finished, or holding an active nomination
  (waiting, accepted, replacement requested) in such a batch;
- never trained: neither (someone who attended a finished batch without passing is not trained yet).

Scope: an operator sees the people registered in their kabupaten/kota. The organiser's staff see the whole
registry: coverage is for planning who to train next, and people who were never nominated to one of their
batches are exactly the ones the page is for; the drill-down shows names, kecamatan and the masked NIK only."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from certificates.models import Certificate
from pillars.models import PillarType, Region
from trainings.models import Batch

from ..models import Enrollment, Nomination, Person


def people_in_scope(user) -> QuerySet[Person]:
    """The registry a user's coverage pages count: staff the whole registry, operators their kabupaten's."""
    if not user.is_authenticated:
        return Person.objects.none()
    if user.is_organiser_staff:
        return Person.objects.all()
    if user.is_operator:
        return Person.objects.filter(kabupaten_id=user.kabupaten_id)
    return Person.objects.none()


def _completed(program) -> Exists:
    certificates = Certificate.objects.filter(enrollment__person=OuterRef("pk"), revoked_at__isnull=True)
    if program is not None:
        certificates = certificates.filter(enrollment__batch__program=program)
    return Exists(certificates)


def _in_batch_now(program) -> Q:
    enrollments = Enrollment.objects.filter(person=OuterRef("pk")).exclude(batch__status=Batch.Status.FINISHED)
    nominations = Nomination.objects.filter(person=OuterRef("pk"), status__in=Nomination.ACTIVE).exclude(
        batch__status=Batch.Status.FINISHED
    )
    if program is not None:
        enrollments = enrollments.filter(batch__program=program)
        nominations = nominations.filter(batch__program=program)
    return Exists(enrollments) | Exists(nominations)


def _untrained(program) -> Q:
    return ~Q(_completed(program)) & ~_in_batch_now(program)


@dataclass
class CoverageCell:
    kabupaten: Region
    pillar_type: PillarType
    registered: int = 0
    completed: int = 0
    in_batch: int = 0
    never: int = 0

    @property
    def percent_completed(self) -> float:
        return round(self.completed * 100 / self.registered, 1) if self.registered else 0.0


@dataclass
class CoverageRow:
    """One kabupaten/kota: its cells per pillar type and their sum (a cell without a pillar type)."""

    kabupaten: Region
    cells: list = field(default_factory=list)
    total: CoverageCell | None = None


@dataclass
class CoverageTable:
    rows: list
    total: CoverageCell


def _add(total: CoverageCell, cell: CoverageCell) -> None:
    total.registered += cell.registered
    total.completed += cell.completed
    total.in_batch += cell.in_batch
    total.never += cell.never


def coverage_table(*, user, program=None, kabupaten=None, pillar_type=None) -> CoverageTable:
    """The coverage per kabupaten/kota (by code) and pillar type (by their order). Three queries whatever the
    size of the registry: the counts grouped in the database, then the regions and pillar types they name."""
    people = people_in_scope(user)
    if kabupaten is not None:
        people = people.filter(kabupaten=kabupaten)
    if pillar_type is not None:
        people = people.filter(pillar_type=pillar_type)
    completed = _completed(program)
    in_batch = _in_batch_now(program)
    counts = list(
        people.order_by()
        .values("kabupaten_id", "pillar_type_id")
        .annotate(
            registered=Count("pk"),
            completed=Count("pk", filter=Q(completed)),
            in_batch=Count("pk", filter=~Q(completed) & in_batch),
        )
    )
    regions = Region.objects.in_bulk({row["kabupaten_id"] for row in counts})
    pillars = PillarType.objects.in_bulk({row["pillar_type_id"] for row in counts})
    by_kabupaten: dict[int, CoverageRow] = {}
    grand = CoverageCell(kabupaten=None, pillar_type=None)
    for row in counts:
        region = regions[row["kabupaten_id"]]
        cell = CoverageCell(
            kabupaten=region,
            pillar_type=pillars[row["pillar_type_id"]],
            registered=row["registered"],
            completed=row["completed"],
            in_batch=row["in_batch"],
            never=row["registered"] - row["completed"] - row["in_batch"],
        )
        coverage_row = by_kabupaten.setdefault(
            region.pk,
            CoverageRow(kabupaten=region, total=CoverageCell(kabupaten=region, pillar_type=None)),
        )
        coverage_row.cells.append(cell)
        _add(coverage_row.total, cell)
        _add(grand, cell)
    rows = sorted(by_kabupaten.values(), key=lambda r: r.kabupaten.code)
    for coverage_row in rows:
        coverage_row.cells.sort(key=lambda c: (c.pillar_type.sort_order, c.pillar_type.name))
    return CoverageTable(rows=rows, total=grand)


def untrained_people(*, user, kabupaten, pillar_type, program=None) -> QuerySet[Person]:
    """The people of a kabupaten/kota and pillar type the user may count who are not yet trained (see the
    module's docstring), by name, with their kecamatan. One query (a page of it, plus its count)."""
    return (
        people_in_scope(user)
        .filter(_untrained(program), kabupaten=kabupaten, pillar_type=pillar_type)
        .select_related("kecamatan")
        .order_by("full_name", "pk")
    )
