"""Who may nominate, review and see people. Personal data (NIK, birth date, phone, address) is for the
organiser's staff and the nominating kabupaten's operator only."""

import rules

from trainings.rules import is_batch_staff, is_organiser_staff

from .services import QuotaState


@rules.predicate
def is_operator(user) -> bool:
    return user.is_authenticated and user.is_operator


@rules.predicate
def is_nominating_operator(user, batch) -> bool:
    """An operator whose kabupaten may send participants to this (non-draft) batch."""
    if batch is None or not user.is_authenticated or not user.is_operator:
        return False
    if batch.status == batch.Status.DRAFT:
        return False
    return QuotaState(batch=batch, allocations=list(batch.allocations.select_related("region"))).kabupaten_may_nominate(
        user.kabupaten
    )


@rules.predicate
def is_nomination_staff(user, nomination) -> bool:
    return nomination is not None and is_batch_staff(user, nomination.batch)


@rules.predicate
def is_nomination_operator(user, nomination) -> bool:
    return (
        nomination is not None
        and user.is_authenticated
        and user.is_operator
        and nomination.kabupaten_id == user.kabupaten_id
    )


@rules.predicate
def is_person_operator(user, person) -> bool:
    """The operator of the person's kabupaten, or of a kabupaten that nominated them."""
    if person is None or not user.is_authenticated or not user.is_operator:
        return False
    return person.kabupaten_id == user.kabupaten_id or person.nominations.filter(kabupaten=user.kabupaten).exists()


rules.add_perm("participants.nominate", rules.is_authenticated & (is_batch_staff | is_nominating_operator))
rules.add_perm("participants.review", rules.is_authenticated & is_batch_staff)
rules.add_perm("participants.nomination.view", rules.is_authenticated & (is_nomination_staff | is_nomination_operator))
rules.add_perm(
    "participants.nomination.change", rules.is_authenticated & (is_nomination_staff | is_nomination_operator)
)
rules.add_perm("participants.person.view", rules.is_authenticated & (is_organiser_staff | is_person_operator))
rules.add_perm("participants.person.personal_data", rules.is_authenticated & (is_organiser_staff | is_person_operator))
rules.add_perm("participants.nominations.home", rules.is_authenticated & is_operator)
# The batch's participant list: staff of the batch see everyone, an operator of a kabupaten that sends
# participants sees their own (the list itself is scoped by selectors.enrollments_visible_to).
rules.add_perm("participants.enrollments.view", rules.is_authenticated & (is_batch_staff | is_nominating_operator))
