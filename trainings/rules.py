"""Who may do what with programs, batches and their timetable. Views ask these permissions with the
object; the querysets in selectors.batches_visible_to() decide what can be found at all."""

import rules

from .models import QuotaAllocation


@rules.predicate
def is_organiser_staff(user) -> bool:
    return user.is_authenticated and user.is_organiser_staff


@rules.predicate
def is_operator(user) -> bool:
    return user.is_authenticated and user.is_operator


@rules.predicate
def is_batch_staff(user, batch) -> bool:
    return batch is not None and user.is_organiser_staff and batch.organiser_id == user.organiser_id


@rules.predicate
def is_batch_open_for_changes(user, batch) -> bool:
    return batch is not None and batch.is_editable


@rules.predicate
def is_batch_operator(user, batch) -> bool:
    """An operator sees a non-draft batch open to their kabupaten (QuotaAllocation.open_to_kabupaten)."""
    if batch is None or not user.is_operator or batch.status == batch.Status.DRAFT:
        return False
    return QuotaAllocation.open_to_kabupaten(batch.allocations.select_related("region"), user.kabupaten_id)


@rules.predicate
def is_batch_facilitator(user, batch) -> bool:
    if batch is None or not user.is_facilitator:
        return False
    facilitator = user.facilitator_record
    return facilitator is not None and batch.sessions.filter(facilitators=facilitator).exists()


rules.add_perm("trainings.batch.create", is_organiser_staff)
rules.add_perm(
    "trainings.batch.view",
    rules.is_authenticated & (is_batch_staff | is_batch_operator | is_batch_facilitator),
)
rules.add_perm("trainings.batch.change", rules.is_authenticated & is_batch_staff & is_batch_open_for_changes)
rules.add_perm("trainings.calendar.view", is_organiser_staff)
rules.add_perm("trainings.workload.view", is_organiser_staff)
rules.add_perm("trainings.my_batches.view", rules.is_authenticated & ~is_organiser_staff)
# The attendance recap of a batch: its staff see every participant, the operators it concerns their own
# kabupaten's participants (the rows are scoped by participants.selectors.enrollments_visible_to).
rules.add_perm("trainings.attendance_recap.view", rules.is_authenticated & (is_batch_staff | is_batch_operator))
rules.add_perm("trainings.attendance_recap.view_all", rules.is_authenticated & is_batch_staff)
rules.add_perm("trainings.session.record_teaching", rules.is_authenticated & is_batch_staff)
# The dashboard: staff (their organiser) and operators (their kabupaten, scoped by the selectors).
rules.add_perm("trainings.dashboard.view", rules.is_authenticated & (is_organiser_staff | is_operator))
