"""What the participants pages share: finding the batch and the kabupaten a page is about, the URLs that
carry that kabupaten, and refusing oversized uploads early. Reading ids and checking permissions is in
config.views_helpers, shared with the other apps."""

from urllib.parse import urlencode

from django.shortcuts import get_object_or_404
from django.urls import reverse

from config.views_helpers import id_or_404, require
from trainings.models import Batch
from trainings.selectors import batches_visible_to

from ..selectors import operator as operator_selectors

# What a multipart body adds to the file it carries (boundaries, headers, the other fields).
MULTIPART_OVERHEAD = 64 * 1024


def batch_for(request, pk, perm: str = "participants.nominate", *, with_allocations: bool = False) -> Batch:
    """A batch the user can find (else 404) and may act on with `perm` (else 403), with its program and
    organiser, and its allocations (region and pillar) when the page works with the quota."""
    if with_allocations:
        batches = operator_selectors.batch_with_allocations(user=request.user, pk=id_or_404(pk))
    else:
        batches = batches_visible_to(request.user).select_related("program", "organiser").filter(pk=id_or_404(pk))
    batch = get_object_or_404(batches)
    require(request.user, perm, batch)
    return batch


def kabupaten_for(request, batch, region_id):
    """The kabupaten a page is about: an operator's own; for staff, the one they picked among the batch's
    (None while none is picked; 404 for one that does not take part). The batch's allocations must be
    prefetched (batch_for(..., with_allocations=True))."""
    if request.user.is_operator:
        return request.user.kabupaten
    if not region_id:
        return None
    return get_object_or_404(operator_selectors.kabupaten_choices(batch), pk=id_or_404(region_id))


def for_kabupaten(url: str, kabupaten, user) -> str:
    """Staff pages carry the kabupaten they act for; an operator's is always their own."""
    return url if user.is_operator else f"{url}?{urlencode({'kabupaten': kabupaten.pk})}"


def nominations_url(batch, kabupaten, user) -> str:
    """The batch's nominations page for a kabupaten."""
    return for_kabupaten(reverse("participants:batch_nominations", args=[batch.pk]), kabupaten, user)


def upload_too_large(request, max_bytes: int) -> int | None:
    """The size in bytes of a request body too big to carry a file of at most `max_bytes`, judged by its
    Content-Length alone so that the body is refused unread; None when it may be read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length > max_bytes + MULTIPART_OVERHEAD else None


def refused_upload_form(form_class, message: str, field: str = "file", **kwargs):
    """A form showing `message` next to its file field, built without reading the request's body."""
    form = form_class(data={}, files={}, **kwargs)
    form.full_clean()
    form.errors[field] = form.error_class([message])
    return form
