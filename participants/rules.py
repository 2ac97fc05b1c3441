"""Who may nominate, review and see people. Personal data (NIK, birth date, phone, address) is for the
organiser's staff and the operator of the person's own kabupaten only (participants.privacy). The person
rules mirror selectors.people_visible_to(): a person the user cannot find is one they may not see."""

import rules

from trainings.rules import is_batch_operator, is_batch_staff, is_organiser_staff

from .models import Nomination
from .privacy import sees_registry_record


@rules.predicate
def is_operator(user) -> bool:
    return user.is_authenticated and user.is_operator


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


def _loaded_nominations(person) -> list[Nomination] | None:
    """The person's nominations when a page already loaded them (prefetched with their batches), so that
    asking about the person costs no query; else None."""
    return getattr(person, "_prefetched_objects_cache", {}).get("nominations")


@rules.predicate
def is_person_staff(user, person) -> bool:
    """Staff of an organiser in one of whose batches the person was nominated."""
    if person is None or not user.is_authenticated or not user.is_organiser_staff:
        return False
    loaded = _loaded_nominations(person)
    if loaded is not None:
        return any(n.batch.organiser_id == user.organiser_id for n in loaded)
    return person.nominations.filter(batch__organiser_id=user.organiser_id).exists()


@rules.predicate
def is_person_operator(user, person) -> bool:
    """The operator of the person's kabupaten (privacy.sees_registry_record). An operator who nominated
    someone registered elsewhere sees only what they typed, on their nomination's record."""
    return person is not None and sees_registry_record(user, person)


rules.add_perm("participants.nominate", rules.is_authenticated & (is_batch_staff | is_batch_operator))
rules.add_perm("participants.review", rules.is_authenticated & is_batch_staff)
rules.add_perm("participants.nomination.view", rules.is_authenticated & (is_nomination_staff | is_nomination_operator))
rules.add_perm(
    "participants.nomination.change", rules.is_authenticated & (is_nomination_staff | is_nomination_operator)
)
# Finding a person and seeing their personal data have the same scope today; they are asked separately so
# that a role that may see names only (e.g. a facilitator) can be added without touching the pages.
rules.add_perm("participants.person.view", rules.is_authenticated & (is_person_staff | is_person_operator))
rules.add_perm("participants.person.personal_data", rules.is_authenticated & (is_person_staff | is_person_operator))
# The registry's list and NIK search are the staff's; each sees the people of their organiser's batches.
rules.add_perm("participants.people.view", rules.is_authenticated & is_organiser_staff)
rules.add_perm("participants.nominations.home", rules.is_authenticated & is_operator)
# The batch's participant list: staff of the batch see everyone, an operator of a kabupaten that sends
# participants sees their own (the list itself is scoped by selectors.enrollments_visible_to).
rules.add_perm("participants.enrollments.view", rules.is_authenticated & (is_batch_staff | is_batch_operator))
# Merging a duplicate record into a person: the staff of an organiser, for people they find (both records;
# the views and services.person_merge ask it of each).
rules.add_perm("participants.person.merge", rules.is_authenticated & is_person_staff)
# Training coverage: staff (the whole registry) and operators (their kabupaten); only operators nominate from it.
rules.add_perm("participants.coverage.view", rules.is_authenticated & (is_organiser_staff | is_operator))
rules.add_perm("participants.coverage.nominate", rules.is_authenticated & is_operator)
