"""A person's training history for their page: every batch they were nominated to, with, where they took part,
the attendance figures of trainings.selectors.attendance_matrix (JP attended of JP scheduled, the share, the pass
rule) and their certificates; and the merges of duplicate records into them.

Fixed queries whatever the number of batches: the nominations (with their batches and enrolments), the
certificates, the sessions of those batches and the person's attendance at them."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from trainings.models import Attendance, Batch, Session
from trainings.selectors import _passes as meets_pass_rule  # the one pass rule, shared with attendance_matrix

from ..models import Enrollment, Nomination, Person, PersonMerge
from . import related_or_none


@dataclass
class HistoryRow:
    """One batch of the person's history. Without an enrolment (a nomination still waiting, rejected, withdrawn
    or replaced) the attendance figures stay empty."""

    nomination: Nomination
    enrollment: Enrollment | None = None
    jp_scheduled: int = 0
    jp_attended: int = 0
    percent: float = 0.0
    eligible: bool = False
    certificates: list = field(default_factory=list)  # newest first; a revoked one stays with its status

    @property
    def batch(self) -> Batch:
        return self.nomination.batch


def history_nominations(*, person: Person, user) -> QuerySet[Nomination]:
    """The person's nominations a user's history shows. Staff: those to their organiser's batches. An operator
    (who may open the page of this person: rules.is_person_operator): all of them, as the page always showed.
    Anyone else: none."""
    nominations = Nomination.objects.filter(person=person)
    if not user.is_authenticated:
        return nominations.none()
    if user.is_organiser_staff:
        return nominations.filter(batch__organiser_id=user.organiser_id)
    if user.is_operator:
        return nominations
    return nominations.none()


def person_history(*, person: Person, user) -> list[HistoryRow]:
    """The person's batches newest first, one row per nomination, with the figures of attendance_matrix for
    those they took part in. Four queries (one when they were never enrolled), whatever the number of batches."""
    from certificates.models import Certificate  # certificates builds on participants

    certificates = Certificate.objects.order_by("-issued_at", "-pk")
    nominations = list(
        history_nominations(person=person, user=user)
        .select_related("batch__program", "batch__organiser", "kabupaten", "pillar_type", "enrollment")
        .prefetch_related(Prefetch("enrollment__certificates", queryset=certificates))
        .order_by("-batch__start_date", "-batch__pk", "-pk")
    )
    rows = [HistoryRow(nomination=n, enrollment=related_or_none(n, "enrollment")) for n in nominations]
    enrolled = [row for row in rows if row.enrollment is not None]
    if not enrolled:
        return rows

    batch_ids = {row.enrollment.batch_id for row in enrolled}
    session_jp = {}  # session id -> (batch id, JP)
    scheduled = defaultdict(int)
    for pk, batch_id, jp in Session.objects.filter(batch_id__in=batch_ids).values_list("pk", "batch_id", "jp"):
        session_jp[pk] = (batch_id, jp)
        scheduled[batch_id] += jp
    attended = defaultdict(int)
    records = Attendance.objects.filter(
        enrollment_id__in=[row.enrollment.pk for row in enrolled], status__in=Attendance.ATTENDED
    ).values_list("enrollment_id", "session_id")
    batch_of = {row.enrollment.pk: row.enrollment.batch_id for row in enrolled}
    for enrollment_id, session_id in records:
        batch_id, jp = session_jp.get(session_id, (None, 0))
        if batch_id == batch_of[enrollment_id]:  # as attendance_matrix: only the sessions of the batch count
            attended[enrollment_id] += jp

    for row in enrolled:
        enrollment = row.enrollment
        row.jp_scheduled = scheduled[enrollment.batch_id]
        row.jp_attended = attended[enrollment.pk]
        row.percent = round(row.jp_attended * 100 / row.jp_scheduled, 1) if row.jp_scheduled else 0.0
        row.eligible = meets_pass_rule(row.jp_attended, row.jp_scheduled, row.batch.program.pass_percent)
        row.certificates = list(enrollment.certificates.all())
        for certificate in row.certificates:
            # The certificate rules read its enrolment's nomination: give them the loaded ones.
            enrollment.nomination = row.nomination
            certificate.enrollment = enrollment
    return rows


def person_merges(*, person: Person) -> list[PersonMerge]:
    """The duplicate records merged into the person, newest first, with who merged them. One query."""
    return list(PersonMerge.objects.filter(person=person).select_related("merged_by").order_by("-merged_at", "-pk"))
