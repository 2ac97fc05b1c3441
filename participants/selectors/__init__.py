"""Reads for the participants pages. Shared scoping here; each area's reads in its own module."""

from django.db.models import Exists, OuterRef, QuerySet

from ..models import Enrollment, Nomination, Person


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
    """Staff see the whole registry (it is the province's); operators the people of their kabupaten and
    those their kabupaten nominated."""
    people = Person.objects.all()
    if not user.is_authenticated:
        return people.none()
    if user.is_organiser_staff:
        return people
    if user.is_operator:
        nominated = Nomination.objects.filter(person=OuterRef("pk"), kabupaten_id=user.kabupaten_id)
        return people.filter(kabupaten_id=user.kabupaten_id) | people.filter(Exists(nominated))
    return people.none()
