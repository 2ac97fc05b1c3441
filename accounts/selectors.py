"""Reads for the account pages."""

from django.db.models import Q, QuerySet

from trainings.models import Facilitator

from .models import User
from .rules import MANAGED_ROLES


def accounts_managed_by(staff) -> QuerySet[User]:
    """The accounts a staff member may find at all: operators and facilitators of their organiser.
    Anything else is a 404 for them."""
    if not (staff.is_authenticated and staff.is_organiser_staff):
        return User.objects.none()
    return User.objects.filter(organiser_id=staff.organiser_id, role__in=MANAGED_ROLES, is_superuser=False).exclude(
        pk=staff.pk
    )


def account_list(*, staff, role: str = "", query: str = "") -> QuerySet[User]:
    """The account list page in one query: kabupaten and facilitator record come along."""
    accounts = accounts_managed_by(staff).select_related("kabupaten", "facilitator")
    if role in MANAGED_ROLES:
        accounts = accounts.filter(role=role)
    query = query.strip()
    if query:
        accounts = accounts.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
            | Q(kabupaten__name__icontains=query)
            | Q(facilitator__name__icontains=query)
        )
    return accounts.order_by("role", "kabupaten__code", "first_name", "username")


def facilitators_without_account(*, organiser) -> QuerySet[Facilitator]:
    """Active facilitator records of the organiser that no account is linked to yet."""
    return Facilitator.objects.filter(organiser=organiser, user__isnull=True, is_active=True).order_by("name")
