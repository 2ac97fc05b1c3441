"""Reads for the participants pages. Shared scoping here; each area's reads in its own module."""

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, OuterRef, QuerySet

from ..models import Enrollment, Nomination, Person
from ..privacy import registry_scope


def nominations_visible_to(user) -> QuerySet[Nomination]:
    """Staff: their organiser's batches; operators: their kabupaten's nominations; others: nothing."""
    nominations = Nomination.objects.all()
    if not user.is_authenticated:
        return nominations.none()
    if user.is_organiser_staff:
        return nominations.filter(batch__organiser_id=user.organiser_id)
    if user.is_operator:
        return nominations.filter(kabupaten_id=user.kabupaten_id)
    return nominations.none()


def enrollments_visible_to(user) -> QuerySet[Enrollment]:
    enrollments = Enrollment.objects.all()
    if not user.is_authenticated:
        return enrollments.none()
    if user.is_organiser_staff:
        return enrollments.filter(batch__organiser_id=user.organiser_id)
    if user.is_operator:
        return enrollments.filter(nomination__kabupaten_id=user.kabupaten_id)
    return enrollments.none()


def people_visible_to(user) -> QuerySet[Person]:
    """Staff: the people nominated to one of their organiser's batches. Operators: the people registered in
    their kabupaten (privacy.registry_scope), not those of elsewhere whom they nominated. Others: nobody.
    rules.py asks the same of one person."""
    people = Person.objects.all()
    if not user.is_authenticated:
        return people.none()
    if user.is_organiser_staff:
        return people.filter(
            Exists(Nomination.objects.filter(person=OuterRef("pk"), batch__organiser_id=user.organiser_id))
        )
    if user.is_operator:
        return people.filter(registry_scope(user))
    return people.none()


def related_or_none(obj, name: str):
    """The object at the other end of a reverse one-to-one (a nomination's `enrollment`, its `replaced_by`),
    or None when there is none."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None
