"""The dashboard's figures for a year: batches by status, participants trained by pillar, by kabupaten/kota and by
gender, average attendance per batch, certificates issued per month and facilitator JP; each as a table with the
bars of its chart, and as a workbook. A fixed number of queries whatever the number of batches or participants:
every figure is grouped in the database.

Scope: the organiser's staff see their organiser's batches, participants and certificates (optionally those that
concern one kabupaten/kota); an operator sees the batches that concern their kabupaten/kota and only its
participants and certificates, and no facilitator figures.

Definitions (the page says them too):
- a batch belongs to the year it starts in;
- participants trained: enrolments in finished batches (someone in two batches counts twice), by the pillar type
  and the kabupaten/kota they were nominated for;
- average attendance of a batch: the mean over its participants of JP attended (hadir or terlambat) ÷ JP
  scheduled, exactly the percentages of the attendance recap (selectors.attendance_matrix) averaged; computed as
  Σ JP attended ÷ (participants × JP scheduled); in a running batch sessions still to come count as not attended;
- certificates issued: valid (not revoked) certificates issued in the year, by month; revoked ones beside them;
- facilitator JP: selectors.facilitator_workload (JP taught where recorded, else scheduled), whole organiser."""

from dataclasses import dataclass, field
from io import BytesIO

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractMonth
from django.utils.dates import MONTHS
from django.utils.formats import number_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from .exports import _as_text, _heading_row
from .models import Attendance, Batch, QuotaAllocation, Session
from .selectors import batches_visible_to, facilitator_workload

CHART_WIDTH = 640  # the SVG's user units: labels, then bars, then the value
LABEL_WIDTH = 230
BAR_AREA = 330
BAR_STEP = 24
LABEL_CHARS = 34
INVALID_SHEET_CHARS = set("[]:*?/\\")


@dataclass
class Filters:
    year: int
    program: object = None
    kabupaten: object = None  # a Region; for operators always their own


@dataclass
class Bar:
    label: str
    short_label: str
    value: float
    display: str
    y: int
    width: int
    value_x: int


@dataclass
class DashboardTable:
    """One figure: the table behind it (`columns`, `rows`) and the bars of its chart (a label and a value)."""

    key: str
    title: str
    columns: list
    rows: list
    note: str = ""
    bars: list = field(default_factory=list)

    @property
    def chart_height(self) -> int:
        return max(len(self.bars), 1) * BAR_STEP + 8

    def chart(self, pairs, *, unit: str = "") -> "DashboardTable":
        """Lays out horizontal bars for (label, value) pairs, scaled to the largest value."""
        top = max((value for _label, value in pairs), default=0) or 1
        self.bars = []
        for index, (label, value) in enumerate(pairs):
            width = round(value * BAR_AREA / top)
            text = f"{number_format(value) if isinstance(value, float) else value}{unit}"
            self.bars.append(
                Bar(
                    label=label,
                    short_label=Truncator(label).chars(LABEL_CHARS),
                    value=value,
                    display=text,
                    y=index * BAR_STEP + 4,
                    width=width,
                    value_x=LABEL_WIDTH + 10 + width + 4,
                )
            )
        return self


TABLES = ("status", "pillar", "kabupaten", "gender", "attendance", "certificates", "facilitators")
STAFF_ONLY = {"facilitators"}


def tables_for(user) -> tuple[str, ...]:
    return tuple(key for key in TABLES if user.is_organiser_staff or key not in STAFF_ONLY)


# --------------------------------------------------------------------------------------------- scoping


def _concerning(kabupaten_id: int) -> Q:
    """Batches that concern a kabupaten/kota: as trainings.selectors.batches_visible_to() decides for its operator
    (a quota for it; else a kecamatan quota inside it; or no regional quota at all)."""
    regional = QuotaAllocation.objects.filter(
        batch=OuterRef("pk"), kind__in=[QuotaAllocation.Kind.KABUPATEN, QuotaAllocation.Kind.KECAMATAN]
    )
    kabupaten_quota = regional.filter(kind=QuotaAllocation.Kind.KABUPATEN)
    return (
        Q(Exists(kabupaten_quota.filter(region_id=kabupaten_id)))
        | (~Exists(kabupaten_quota) & Exists(regional.filter(region__parent_id=kabupaten_id)))
        | ~Exists(regional)
    )


def _kabupaten_id(user, filters: Filters) -> int | None:
    if user.is_operator:
        return user.kabupaten_id
    return filters.kabupaten.pk if filters.kabupaten is not None else None


def dashboard_batches(*, user, filters: Filters) -> QuerySet[Batch]:
    batches = batches_visible_to(user).filter(start_date__year=filters.year)
    if filters.program is not None:
        batches = batches.filter(program=filters.program)
    kabupaten_id = _kabupaten_id(user, filters)
    if kabupaten_id is not None and not user.is_operator:  # an operator's batches already concern them
        batches = batches.filter(_concerning(kabupaten_id))
    return batches


def _enrollments(user, filters: Filters):
    from participants.selectors import enrollments_visible_to  # participants builds on trainings

    enrollments = enrollments_visible_to(user).filter(
        batch__in=dashboard_batches(user=user, filters=filters), batch__status=Batch.Status.FINISHED
    )
    kabupaten_id = _kabupaten_id(user, filters)
    if kabupaten_id is not None:
        enrollments = enrollments.filter(nomination__kabupaten_id=kabupaten_id)
    return enrollments.order_by()


# ---------------------------------------------------------------------------------------------- tables


def batches_by_status(*, user, filters: Filters) -> DashboardTable:
    """One query."""
    counts = dict(
        dashboard_batches(user=user, filters=filters).order_by().values_list("status").annotate(n=Count("pk"))
    )
    pairs = [(str(label), counts.get(value, 0)) for value, label in Batch.Status.choices]
    table = DashboardTable(
        key="status",
        title=_("Batches by status"),
        columns=[_("Status"), _("Batches")],
        rows=[[label, n] for label, n in pairs],
        note=_("A batch belongs to the year it starts in."),
    )
    return table.chart(pairs)


TRAINED_NOTE = gettext_lazy(
    "Participants trained: enrolments in finished batches, by what they were nominated for; someone in two "
    "batches counts twice."
)


def _trained_table(*, key: str, title: str, column: str, pairs: list) -> DashboardTable:
    """A "participants trained by …" table and its chart."""
    table = DashboardTable(
        key=key,
        title=title,
        columns=[column, _("Participants")],
        rows=[list(pair) for pair in pairs],
        note=str(TRAINED_NOTE),
    )
    return table.chart(pairs)


def trained_by_pillar(*, user, filters: Filters) -> DashboardTable:
    """One query."""
    rows = (
        _enrollments(user, filters)
        .values("nomination__pillar_type__name", "nomination__pillar_type__sort_order")
        .annotate(n=Count("pk"))
        .order_by("nomination__pillar_type__sort_order", "nomination__pillar_type__name")
    )
    pairs = [(row["nomination__pillar_type__name"], row["n"]) for row in rows]
    return _trained_table(
        key="pillar", title=_("Participants trained by pillar type"), column=_("Pillar type"), pairs=pairs
    )


def trained_by_kabupaten(*, user, filters: Filters) -> DashboardTable:
    """One query."""
    rows = (
        _enrollments(user, filters)
        .values("nomination__kabupaten__code", "nomination__kabupaten__name")
        .annotate(n=Count("pk"))
        .order_by("nomination__kabupaten__code")
    )
    pairs = [(row["nomination__kabupaten__name"], row["n"]) for row in rows]
    return _trained_table(
        key="kabupaten", title=_("Participants trained by regency/city"), column=_("Regency/city"), pairs=pairs
    )


def trained_by_gender(*, user, filters: Filters) -> DashboardTable:
    """One query."""
    from participants.models import Person

    counts = dict(_enrollments(user, filters).values_list("person__gender").annotate(n=Count("pk")))
    pairs = [(str(label), counts.get(value, 0)) for value, label in Person.Gender.choices]
    return _trained_table(key="gender", title=_("Participants trained by gender"), column=_("Gender"), pairs=pairs)


def attendance_by_batch(*, user, filters: Filters) -> DashboardTable:
    """The average attendance of each running or finished batch (see the module's docstring). One query."""
    from participants.models import Enrollment

    kabupaten_id = _kabupaten_id(user, filters)
    enrollments = Enrollment.objects.filter(batch=OuterRef("pk"))
    attendances = Attendance.objects.filter(session__batch=OuterRef("pk"), status__in=Attendance.ATTENDED)
    if kabupaten_id is not None:
        enrollments = enrollments.filter(nomination__kabupaten_id=kabupaten_id)
        attendances = attendances.filter(enrollment__nomination__kabupaten_id=kabupaten_id)

    def total(queryset, group: str, expression):
        grouped = queryset.order_by().values(group).annotate(total=expression).values("total")
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    batches = (
        dashboard_batches(user=user, filters=filters)
        .filter(status__in=[Batch.Status.RUNNING, Batch.Status.FINISHED])
        .annotate(
            jp_scheduled=total(Session.objects.filter(batch=OuterRef("pk")), "batch", Sum("jp")),
            participants=total(enrollments, "batch", Count("pk")),
            jp_attended=total(attendances, "session__batch", Sum("session__jp")),
        )
        .filter(participants__gt=0, jp_scheduled__gt=0)
        .order_by("start_date", "name")
        .only("name", "status", "start_date")
    )
    rows, pairs = [], []
    for batch in batches:
        average = round(batch.jp_attended * 100 / (batch.participants * batch.jp_scheduled), 1)
        label = batch.name if batch.status == Batch.Status.FINISHED else _("%(name)s (running)") % {"name": batch.name}
        rows.append([label, batch.participants, batch.jp_scheduled, average])
        pairs.append((label, average))
    table = DashboardTable(
        key="attendance",
        title=_("Average attendance per batch"),
        columns=[_("Batch"), _("Participants"), _("JP scheduled"), _("Average JP attended (percent)")],
        rows=rows,
        note=_(
            "The mean over the batch's participants of JP attended (present or late) divided by JP scheduled, as "
            "in the attendance recap; in a running batch, sessions still to come count as not attended."
        ),
    )
    return table.chart(pairs, unit=" %")


def certificates_by_month(*, user, filters: Filters) -> DashboardTable:
    """One query."""
    from certificates.selectors import certificates_visible_to  # certificates builds on trainings

    certificates = certificates_visible_to(user).filter(issued_at__year=filters.year)
    if filters.program is not None:
        certificates = certificates.filter(enrollment__batch__program=filters.program)
    kabupaten_id = _kabupaten_id(user, filters)
    if kabupaten_id is not None:
        certificates = certificates.filter(enrollment__nomination__kabupaten_id=kabupaten_id)
    counts = {
        row["month"]: row
        for row in certificates.order_by()
        .annotate(month=ExtractMonth("issued_at"))
        .values("month")
        .annotate(
            valid=Count("pk", filter=Q(revoked_at__isnull=True)),
            revoked=Count("pk", filter=Q(revoked_at__isnull=False)),
        )
    }
    rows, pairs = [], []
    for month in range(1, 13):
        row = counts.get(month, {"valid": 0, "revoked": 0})
        rows.append([str(MONTHS[month]), row["valid"], row["revoked"]])
        pairs.append((str(MONTHS[month]), row["valid"]))
    rows.append([_("Total"), sum(r[1] for r in rows), sum(r[2] for r in rows)])
    table = DashboardTable(
        key="certificates",
        title=_("Certificates issued"),
        columns=[_("Month"), _("Valid certificates"), _("Revoked")],
        rows=rows,
        note=_("Certificates issued in the year, by month of issue; revoked ones are counted apart."),
    )
    return table.chart(pairs)


def facilitator_jp(*, user, filters: Filters) -> DashboardTable:
    """The organiser's facilitators with JP in the year (facilitator_workload: three queries). Not narrowed by
    program or kabupaten/kota: a facilitator's workload is the whole organiser's."""
    # The organiser's id does for its filters and saves loading the organiser.
    rows = [row for row in facilitator_workload(organiser=user.organiser_id, year=filters.year) if row.total_jp]
    rows.sort(key=lambda row: (-row.total_jp, row.facilitator.name))
    pairs = [(row.facilitator.name, row.total_jp) for row in rows]
    table = DashboardTable(
        key="facilitators",
        title=_("Facilitator JP"),
        columns=[_("Facilitator"), _("Kind"), _("JP")],
        rows=[[row.facilitator.name, str(row.facilitator.get_kind_display()), row.total_jp] for row in rows],
        note=_(
            "JP taught where staff recorded who taught, otherwise JP scheduled; all of the organiser's batches, "
            "whatever the program or regency/city chosen."
        ),
    )
    return table.chart(pairs)


BUILDERS = {
    "status": batches_by_status,
    "pillar": trained_by_pillar,
    "kabupaten": trained_by_kabupaten,
    "gender": trained_by_gender,
    "attendance": attendance_by_batch,
    "certificates": certificates_by_month,
    "facilitators": facilitator_jp,
}


def dashboard_table(*, user, filters: Filters, key: str) -> DashboardTable:
    if key not in tables_for(user):
        raise KeyError(key)
    return BUILDERS[key](user=user, filters=filters)


def dashboard(*, user, filters: Filters) -> list[DashboardTable]:
    """Every table the user may see. Staff: nine queries; operators: six."""
    return [BUILDERS[key](user=user, filters=filters) for key in tables_for(user)]


# ---------------------------------------------------------------------------------------------- export


def table_xlsx(table: DashboardTable, *, filter_lines: list[tuple[str, str]]) -> bytes:
    """One table as a workbook: the table on the first sheet, the filters and the definition on "Keterangan"."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "".join("-" if char in INVALID_SHEET_CHARS else char for char in table.title)[:31]
    _heading_row(sheet, [(column, 36 if index == 0 else 16) for index, column in enumerate(table.columns)])
    for row in table.rows:
        sheet.append(row)
        _as_text(sheet.cell(sheet.max_row, 1))
    notes = workbook.create_sheet("Keterangan")
    for label, value in [*filter_lines, (_("Note"), table.note)]:
        notes.append([label, value])
        _as_text(notes.cell(notes.max_row, 2))
    notes.column_dimensions["A"].width = 20
    notes.column_dimensions["B"].width = 80
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
