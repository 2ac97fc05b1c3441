"""Reads for the trainings pages. Each returns what its page needs in a fixed number of queries."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Attendance, AttendanceChange, Batch, BatchVenue, Facilitator, Module, QuotaAllocation, Session


def batches_visible_to(user) -> QuerySet[Batch]:
    """The batches a user may find at all; anything else is a 404 for them."""
    batches = Batch.objects.all()
    if not user.is_authenticated:
        return batches.none()
    if user.is_organiser_staff:
        return batches.filter(organiser_id=user.organiser_id)
    if user.is_operator:
        # QuotaAllocation.open_to_kabupaten, asked of the database: their kabupaten has a quota, or the batch
        # has no regional quota at all (open to every kabupaten), or only kecamatan quotas of which one lies in
        # their kabupaten.
        regional = QuotaAllocation.objects.filter(
            batch=OuterRef("pk"), kind__in=[QuotaAllocation.Kind.KABUPATEN, QuotaAllocation.Kind.KECAMATAN]
        )
        kabupaten_quota = regional.filter(kind=QuotaAllocation.Kind.KABUPATEN)
        return batches.exclude(status=Batch.Status.DRAFT).filter(
            Exists(kabupaten_quota.filter(region_id=user.kabupaten_id))
            | (~Exists(kabupaten_quota) & Exists(regional.filter(region__parent_id=user.kabupaten_id)))
            | ~Exists(regional)
        )
    if user.is_facilitator:
        teaching = Session.objects.filter(batch=OuterRef("pk"), facilitators__user=user)
        return batches.filter(Exists(teaching))
    return batches.none()


def _with_schedule_totals(batches: QuerySet[Batch]) -> QuerySet[Batch]:
    jp = (
        Session.objects.filter(batch=OuterRef("pk"))
        .order_by()
        .values("batch")
        .annotate(total=Sum("jp"))
        .values("total")
    )
    program_jp = (
        Module.objects.filter(program=OuterRef("program"))
        .order_by()
        .values("program")
        .annotate(total=Sum("jp"))
        .values("total")
    )
    return batches.annotate(
        scheduled_jp=Coalesce(Subquery(jp, output_field=IntegerField()), 0),
        program_jp=Coalesce(Subquery(program_jp, output_field=IntegerField()), 0),
    )


def batch_list(
    *,
    user,
    year: int | None = None,
    status: str = "",
    program_id: int | None = None,
    kabupaten_id: int | None = None,
) -> QuerySet[Batch]:
    batches = batches_visible_to(user)
    if year:
        batches = batches.filter(start_date__year__lte=year, end_date__year__gte=year)
    if status:
        batches = batches.filter(status=status)
    if program_id:
        batches = batches.filter(program_id=program_id)
    if kabupaten_id:
        batches = batches.filter(
            Exists(
                QuotaAllocation.objects.filter(
                    batch=OuterRef("pk"), kind=QuotaAllocation.Kind.KABUPATEN, region_id=kabupaten_id
                )
            )
        )
    kabupaten = Prefetch(
        "allocations",
        queryset=QuotaAllocation.objects.filter(kind=QuotaAllocation.Kind.KABUPATEN).select_related("region"),
        to_attr="kabupaten_allocations",
    )
    return (
        _with_schedule_totals(batches)
        .select_related("program", "organiser")
        .prefetch_related(kabupaten)
        .order_by("-start_date", "name")
    )


@dataclass
class TimetableDay:
    date: date
    venue: str
    sessions: list = field(default_factory=list)

    @property
    def jp(self) -> int:
        return sum(s.jp for s in self.sessions)


@dataclass
class QuotaRow:
    allocation: QuotaAllocation
    filled: int


@dataclass
class BatchDetail:
    """Everything the batch page and the schedule editor show; `allocated` maps a quota kind to its seats."""

    batch: Batch
    days: list
    quota_rows: list
    allocated: dict
    modules: list
    scheduled_jp: int
    program_jp: int
    filled: int

    @property
    def allocated_by_kind(self) -> list[tuple[str, int]]:
        labels = dict(QuotaAllocation.Kind.choices)
        return [(labels[kind], seats) for kind, seats in self.allocated.items()]


def batch_detail(*, user, pk: int) -> BatchDetail:
    """The batch page: quotas, the timetable day by day and scheduled JP against the program's JP.
    Six queries whatever the number of sessions."""
    from django.shortcuts import get_object_or_404

    batch = get_object_or_404(
        batches_visible_to(user)
        .select_related("program", "organiser")
        .prefetch_related(
            Prefetch("allocations", queryset=QuotaAllocation.objects.select_related("region", "pillar_type")),
            Prefetch("day_venues", queryset=BatchVenue.objects.all()),
            Prefetch(
                "sessions",
                queryset=Session.objects.select_related("module").prefetch_related(
                    Prefetch("facilitators", queryset=Facilitator.objects.order_by("name"))
                ),
            ),
            Prefetch("program__modules", queryset=Module.objects.order_by("order", "pk")),
        ),
        pk=pk,
    )
    from participants.services import QuotaState  # participants builds on trainings, not the reverse

    quota = QuotaState.load(batch, allocations=batch.allocations.all())
    venues = {v.date: v.venue for v in batch.day_venues.all()}
    by_day = defaultdict(list)
    for session in batch.sessions.all():
        by_day[session.date].append(session)
    days = [TimetableDay(date=d, venue=venues.get(d, batch.venue), sessions=by_day.get(d, [])) for d in batch.days]
    allocated = defaultdict(int)
    for allocation in batch.allocations.all():
        allocated[allocation.kind] += allocation.seats
    modules = list(batch.program.modules.all())
    jp_by_module = defaultdict(int)
    for session in batch.sessions.all():
        if session.module_id:
            jp_by_module[session.module_id] += session.jp
    for module in modules:
        module.scheduled_jp = jp_by_module.get(module.pk, 0)
    return BatchDetail(
        batch=batch,
        days=days,
        # A seat is filled by every nomination that holds it: waiting for review, or accepted.
        quota_rows=[QuotaRow(allocation=a, filled=taken) for a, _seats, taken in quota.seats_left()[1:]],
        filled=quota.total,
        allocated=dict(allocated),
        modules=modules,
        scheduled_jp=sum(s.jp for s in batch.sessions.all()),
        program_jp=sum(m.jp for m in modules),
    )


def calendar_year(*, user, year: int) -> dict[int, list[Batch]]:
    """Batches touching each month of the year, for the calendar page. One query."""
    batches = (
        batches_visible_to(user)
        .filter(start_date__year__lte=year, end_date__year__gte=year)
        .select_related("program")
        .order_by("start_date", "name")
    )
    months = {month: [] for month in range(1, 13)}
    for batch in batches:
        first = batch.start_date.month if batch.start_date.year == year else 1
        last = batch.end_date.month if batch.end_date.year == year else 12
        for month in range(first, last + 1):
            months[month].append(batch)
    return months


@dataclass
class WorkloadRow:
    facilitator: Facilitator
    jp_by_month: list
    total_jp: int
    clashes: list


def facilitator_workload(*, organiser, year: int) -> list[WorkloadRow]:
    """JP per facilitator per month, and every pair of their sessions that overlap. A session counts for the
    facilitators recorded as having taught it, or else for those scheduled. Three queries."""
    facilitators = list(Facilitator.objects.filter(organiser=organiser).order_by("name"))
    by_facilitator = defaultdict(list)
    for relation, taught in ((Session.facilitators, False), (Session.taught_by, True)):
        links = (
            relation.through.objects.filter(
                facilitator__organiser=organiser, session__date__year=year, session__taught_recorded=taught
            )
            .select_related("session__batch", "session__module")
            .order_by("session__date", "session__start_time")
        )
        for link in links:
            by_facilitator[link.facilitator_id].append(link.session)
    for sessions in by_facilitator.values():
        sessions.sort(key=lambda s: (s.date, s.start_time))
    rows = []
    for facilitator in facilitators:
        sessions = by_facilitator.get(facilitator.pk, [])
        months = [0] * 12
        for session in sessions:
            months[session.date.month - 1] += session.jp
        clashes = []
        for i, first in enumerate(sessions):
            for second in sessions[i + 1 :]:
                if second.date != first.date or second.start_time >= first.end_time:
                    break
                clashes.append((first, second))
        rows.append(WorkloadRow(facilitator=facilitator, jp_by_month=months, total_jp=sum(months), clashes=clashes))
    return rows


def facilitator_sessions(*, user, since: date) -> QuerySet[Session]:
    """A facilitator's sessions from a day on, for their landing page: those they are scheduled for and those
    they were recorded as having taught."""
    scheduled = Session.facilitators.through.objects.filter(session=OuterRef("pk"), facilitator__user=user)
    taught = Session.taught_by.through.objects.filter(session=OuterRef("pk"), facilitator__user=user)
    return (
        Session.objects.filter(Exists(scheduled) | Exists(taught), date__gte=since)
        .select_related("batch", "module")
        .order_by("date", "start_time")
    )


# ------------------------------------------------------------------------------------------- attendance


@dataclass
class AttendanceRow:
    enrollment: object
    cells: list  # the Attendance (or None) of each session, in timetable order
    jp_attended: int
    percent: float
    eligible: bool
    risk: str  # "" | "cannot_pass" | "one_absence_away"
    unrecorded: int = 0  # sessions already held without a status for this participant


@dataclass
class AttendanceMatrix:
    batch: Batch
    sessions: list
    rows: list
    jp_scheduled: int
    # Sessions already held at which some participant (of these rows) has no status yet: the flags wait for them.
    unrecorded_held: int = 0

    @property
    def pass_percent(self):
        return self.batch.program.pass_percent

    @property
    def at_risk(self) -> list:
        return [row for row in self.rows if row.risk]


def _passes(attended: int, scheduled: int, pass_percent) -> bool:
    # Exact: attended / scheduled ≥ pass_percent / 100, without rounding.
    return scheduled > 0 and attended * 100 >= pass_percent * scheduled


def attendance_matrix(*, batch: Batch, enrollments=None, now=None) -> AttendanceMatrix:
    """Participants × sessions with JP attended, the share of scheduled JP, and eligibility by the program's
    pass rule: the one place eligibility is computed (certificates use it too). Three queries, whatever the
    size of the batch (plus one for the batch's program if not loaded); each session's materi comes with it.

    While the batch runs, a participant is flagged "cannot_pass" when the JP they could still attend fall short
    of the rule, and "one_absence_away" when they would after missing the longest session still to come. Missed
    means a recorded izin, sakit or alpa at a session already held: future sessions never count, and neither do
    held sessions not yet recorded (they are counted in `unrecorded` instead). "One absence away" is for those who
    already missed something: with long sessions a strict rule would otherwise flag everybody."""
    from participants.models import Enrollment  # participants builds on trainings

    now = now or timezone.now()
    # Not batch.sessions: a batch loaded for another page may carry that page's prefetches (more queries).
    sessions = list(Session.objects.filter(batch=batch).select_related("module").order_by("date", "start_time", "pk"))
    if enrollments is None:
        enrollments = Enrollment.objects.filter(batch=batch)
    enrollments = list(
        enrollments.select_related("person__pillar_type", "nomination__kabupaten").order_by("person__full_name", "pk")
    )
    status = {
        (a.enrollment_id, a.session_id): a
        for a in Attendance.objects.filter(session__batch=batch, enrollment__in=[e.pk for e in enrollments]).only(
            "enrollment_id", "session_id", "status", "note"
        )
    }
    scheduled = sum(s.jp for s in sessions)
    pass_percent = batch.program.pass_percent
    held = [s.ends_at <= now for s in sessions]
    future_jp = [s.jp for s, done in zip(sessions, held, strict=True) if not done]
    running = batch.status == Batch.Status.RUNNING
    rows = []
    unrecorded_sessions = set()
    for enrollment in enrollments:
        cells = [status.get((enrollment.pk, s.pk)) for s in sessions]
        attended = sum(
            s.jp for s, cell in zip(sessions, cells, strict=True) if cell and cell.status in Attendance.ATTENDED
        )
        missed = sum(
            s.jp
            for s, cell, done in zip(sessions, cells, held, strict=True)
            if done and cell and cell.status not in Attendance.ATTENDED
        )
        unrecorded = {s.pk for s, cell, done in zip(sessions, cells, held, strict=True) if done and cell is None}
        unrecorded_sessions |= unrecorded
        risk = ""
        if running:
            reachable = scheduled - missed
            if not _passes(reachable, scheduled, pass_percent):
                risk = "cannot_pass"
            elif missed and future_jp and not _passes(reachable - max(future_jp), scheduled, pass_percent):
                risk = "one_absence_away"
        rows.append(
            AttendanceRow(
                enrollment=enrollment,
                cells=cells,
                jp_attended=attended,
                percent=round(attended * 100 / scheduled, 1) if scheduled else 0.0,
                eligible=_passes(attended, scheduled, pass_percent),
                risk=risk,
                unrecorded=len(unrecorded),
            )
        )
    return AttendanceMatrix(
        batch=batch, sessions=sessions, rows=rows, jp_scheduled=scheduled, unrecorded_held=len(unrecorded_sessions)
    )


def eligible_enrollments(*, batch: Batch) -> list:
    """The enrolments that meet the program's pass rule."""
    return [row.enrollment for row in attendance_matrix(batch=batch).rows if row.eligible]


@dataclass
class SessionAttendanceRow:
    enrollment: object
    attendance: Attendance | None


@dataclass
class SessionAttendance:
    """A session's attendance page: every participant of the batch with their record at the session (or None),
    and how many have each status ("none": not yet recorded)."""

    session: Session
    rows: list
    counts: dict


def session_attendance(*, session: Session) -> SessionAttendance:
    """The participants of the session's batch by name, with their attendance at it. Two queries, whatever the
    number of participants."""
    from participants.models import Enrollment  # participants builds on trainings

    enrollments = (
        Enrollment.objects.filter(batch_id=session.batch_id)
        .select_related("person__pillar_type", "nomination__kabupaten")
        .order_by("person__full_name", "pk")
    )
    records = {a.enrollment_id: a for a in Attendance.objects.filter(session=session)}
    rows = [SessionAttendanceRow(enrollment=e, attendance=records.get(e.pk)) for e in enrollments]
    counts = dict.fromkeys([*Attendance.Status.values, "none"], 0)
    for row in rows:
        counts[row.attendance.status if row.attendance else "none"] += 1
    return SessionAttendance(session=session, rows=rows, counts=counts)


def session_attendance_counts(*, session: Session) -> dict[str, int]:
    """The counts of session_attendance() on their own, to refresh them after a change. Two queries, reading
    only the session's records and the number of participants."""
    from participants.models import Enrollment

    counts = dict.fromkeys(Attendance.Status.values, 0)
    for row in Attendance.objects.filter(session=session).order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    enrolled = Enrollment.objects.filter(batch_id=session.batch_id).count()
    counts["none"] = enrolled - sum(counts.values())
    return counts


def session_attendance_history(*, session: Session) -> QuerySet[AttendanceChange]:
    """Every change to the session's attendance, oldest first, with the participant and who made it. One query."""
    return (
        AttendanceChange.objects.filter(attendance__session=session)
        .select_related("attendance__enrollment__person", "changed_by")
        .order_by("changed_at", "pk")
    )


# ------------------------------------------------------------------------------------ attendance recap


def attendance_recap(*, batch: Batch, enrollments=None, now=None) -> AttendanceMatrix:
    """The matrix page and its export: the same as attendance_matrix(), which loads each session's materi."""
    return attendance_matrix(batch=batch, enrollments=enrollments, now=now)


def timetable_teaching(detail: BatchDetail) -> None:
    """Marks the timetable's sessions whose recorded teachers differ from the scheduled ones
    (`taught_differs`), with those teachers loaded: one query, none while no session has teaching recorded."""
    from django.db.models import prefetch_related_objects

    sessions = [session for day in detail.days for session in day.sessions]
    recorded = [session for session in sessions if session.taught_recorded]
    prefetch_related_objects(recorded, Prefetch("taught_by", queryset=Facilitator.objects.order_by("name")))
    for session in sessions:
        session.taught_differs = session.taught_recorded and (
            {f.pk for f in session.taught_by.all()} != {f.pk for f in session.facilitators.all()}
        )
