"""What the apps' views share when reading a request: ids from URLs, queries and forms, and the permission
check that turns a refusal into a 403."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

# Ids are positive 32-bit integers; anything else in a query or form is not an id (a bigger number would
# overflow the database's integer on some backends: a 500 instead of "not found").
MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """An id from a query or form value (1 … 2**31-1); anything else counts as not given."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def id_or_404(value) -> int:
    """An id from a query or form value that must name an object: anything that is not one is a 404."""
    number = parse_id(value)
    if number is None:
        raise Http404
    return number


def require(user, perm, obj=None) -> None:
    """403 unless the user has the permission (on the object, when given)."""
    if not user.has_perm(perm, obj):
        raise PermissionDenied
