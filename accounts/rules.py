"""Who may manage whose account. Organiser staff manage the Dinsos operator and facilitator accounts of
their own organiser; staff and superuser accounts are managed in the admin only. Views ask
"accounts.account.manage" without an object for the list and the create pages, and with the account for
anything done to one account; selectors.accounts_managed_by() decides what can be found at all."""

import rules

from .models import Role

MANAGED_ROLES = (Role.OPERATOR, Role.FACILITATOR)


@rules.predicate
def is_organiser_staff(user) -> bool:
    return user.is_authenticated and user.is_organiser_staff


@rules.predicate
def is_managed_account(user, account) -> bool:
    """True without an object (the staff member may manage accounts in general); with one, only an
    operator or facilitator account of the staff member's own organiser."""
    if account is None:
        return True
    return (
        account.role in MANAGED_ROLES
        and not account.is_superuser
        and account.organiser_id is not None
        and account.organiser_id == user.organiser_id
        and account.pk != user.pk
    )


rules.add_perm("accounts.account.manage", is_organiser_staff & is_managed_account)
