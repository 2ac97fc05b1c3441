"""The Dinsos operator's nomination pages: their batches, one batch's nominations for their kabupaten
(add one person, withdraw, replace, the assignment letter). Staff of the batch use the same pages for a
kabupaten they pick. Thin: parse, check the role and the object, call a service or selector, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from stdnum.id import nik as stdnum_nik

from certificates.selectors import certificates_visible_to
from config.forms import add_service_errors
from config.views_helpers import require
from trainings.models import Batch

from .. import privacy, services
from ..forms import PERSON_FORM_FIELDS, LetterForm, PersonForm, WithdrawForm
from ..models import Nomination
from ..selectors import nominations_visible_to, people_visible_to
from ..selectors import operator as selectors
from .common import batch_for, kabupaten_for, nominations_url, refused_upload_form, upload_too_large

LETTER_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


def _nomination_for(request, pk) -> Nomination:
    """A nomination the user can find (else 404) and may change (else 403)."""
    nomination = get_object_or_404(
        nominations_visible_to(request.user).select_related("batch__organiser", "kabupaten", "person", "pillar_type"),
        pk=pk,
    )
    require(request.user, "participants.nomination.change", nomination)
    return nomination


# --------------------------------------------------------------------------------------------- home


@login_required
def nominations_home(request):
    require(request.user, "participants.nominations.home")
    home = selectors.nominations_home(user=request.user)
    return render(request, "participants/operator_home.html", {"home": home})


# ------------------------------------------------------------------------------------ one batch's page


def _certificate_count(user, batch) -> int:
    """The valid certificates the user may download as the batch's ZIP (certificates.views.batch_zip); they are
    only issued once a batch is finished, so no query before."""
    if batch.status != Batch.Status.FINISHED:
        return 0
    return (
        certificates_visible_to(user).filter(enrollment__batch=batch, revoked_at__isnull=True).exclude(pdf="").count()
    )


def _render_page(request, batch, kabupaten, *, person_form=None, letter_form=None):
    context = {"batch": batch, "kabupaten": kabupaten, "organiser": batch.organiser}
    if not request.user.is_operator:
        context["kabupaten_choices"] = selectors.kabupaten_choices(batch)
    if kabupaten is not None:
        window_open = services.nomination_window_open(actor=request.user, batch=batch)
        if not window_open:
            # The forms are not shown once changes are closed; say why a late submission was refused.
            for form in (person_form, letter_form):
                for error in form.non_field_errors() if form is not None else ():
                    messages.error(request, error)
        context.update(
            page=selectors.batch_nominations(user=request.user, batch=batch, kabupaten=kabupaten),
            window_open=window_open,
            person_form=person_form or PersonForm(kabupaten=kabupaten),
            letter_form=letter_form or LetterForm(),
            page_url=nominations_url(batch, kabupaten, request.user),
            certificate_count=_certificate_count(request.user, batch),
        )
    return render(request, "participants/operator_batch.html", context)


@login_required
def batch_nominations(request, batch_pk):
    """GET: the kabupaten's nominations in the batch; POST: nominate one more person."""
    batch = batch_for(request, batch_pk, with_allocations=True)
    kabupaten = kabupaten_for(request, batch, request.GET.get("kabupaten"))
    if request.method != "POST":
        return _render_page(request, batch, kabupaten)
    if kabupaten is None:
        raise Http404
    form = PersonForm(request.POST, kabupaten=kabupaten)
    if form.is_valid():
        try:
            nomination, warnings = services.nomination_submit(
                actor=request.user, batch=batch, kabupaten=kabupaten, data=form.person_data()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("%(name)s was nominated.") % {"name": privacy.shown_name(request.user, nomination)}
            )
            for warning in warnings:
                messages.warning(request, warning)
            return redirect(nominations_url(batch, kabupaten, request.user))
    return _render_page(request, batch, kabupaten, person_form=form)


@login_required
@require_POST
def person_lookup(request):
    """htmx: the person form again, filled in from the registry when the NIK typed is of someone the user
    may see (for an operator: registered in their kabupaten, privacy.py); otherwise as typed, the same for a
    NIK the registry does not know and one registered elsewhere. The NIK travels in the POST body, never in a
    URL."""
    batch = batch_for(request, request.POST.get("batch"), with_allocations=True)
    kabupaten = kabupaten_for(request, batch, request.POST.get("kabupaten"))
    if kabupaten is None:
        raise Http404
    initial = {name: request.POST.get(name, "") for name in PERSON_FORM_FIELDS}
    nik = stdnum_nik.compact(request.POST.get("nik", ""))
    person = None
    if len(nik) == 16 and nik.isdigit():
        person = people_visible_to(request.user).filter(nik=nik).select_related("kecamatan", "pillar_type").first()
    if person is not None:
        initial = PersonForm.initial_from(person, kabupaten)
    form = PersonForm(initial=initial, kabupaten=kabupaten)
    return render(request, "participants/operator_person_fields.html", {"form": form, "found": person})


@login_required
@require_POST
def letter_upload(request, batch_pk):
    batch = batch_for(request, batch_pk, with_allocations=True)
    kabupaten = kabupaten_for(request, batch, request.GET.get("kabupaten"))
    if kabupaten is None:
        raise Http404
    too_large = upload_too_large(request, services.LETTER_MAX_BYTES)
    if too_large:
        # Refused by its announced size, before the body is read.
        message = _("The file is %(size).1f MB; at most 5 MB is accepted.") % {"size": too_large / 1024 / 1024}
        return _render_page(request, batch, kabupaten, letter_form=refused_upload_form(LetterForm, message))
    form = LetterForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.assignment_letter_upload(
                actor=request.user, batch=batch, kabupaten=kabupaten, file=form.cleaned_data["file"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The assignment letter was uploaded."))
            return redirect(nominations_url(batch, kabupaten, request.user))
    return _render_page(request, batch, kabupaten, letter_form=form)


@login_required
def letter_download(request, pk):
    """The letter as an attachment, to staff of the batch and the kabupaten's operator only."""
    letter = get_object_or_404(selectors.assignment_letters_visible_to(request.user), pk=pk)
    stem = letter.original_name.rsplit(".", 1)[0] or "surat-tugas"
    try:
        handle = letter.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=stem + LETTER_EXTENSIONS.get(letter.content_type, ""),
        content_type=letter.content_type,
    )


# -------------------------------------------------------------------------------- one nomination


@login_required
@require_POST
def nomination_withdraw(request, pk):
    nomination = _nomination_for(request, pk)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.nomination_withdraw(actor=request.user, nomination=nomination, reason=reason)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s was withdrawn.") % {"name": privacy.shown_name(request.user, nomination)})
    return redirect(nominations_url(nomination.batch, nomination.kabupaten, request.user))


@login_required
def nomination_replace(request, pk):
    """A form for the person who takes a nominee's place; the old nomination is kept, linked to the new."""
    nomination = _nomination_for(request, pk)
    batch, kabupaten = nomination.batch, nomination.kabupaten
    back = nominations_url(batch, kabupaten, request.user)
    answering = nomination.status == Nomination.Status.REPLACEMENT_REQUESTED and batch.status != Batch.Status.FINISHED
    if not (answering or services.nomination_window_open(actor=request.user, batch=batch)):
        messages.error(request, _("Nominations of this batch can no longer be changed."))
        return redirect(back)
    form = PersonForm(request.POST or None, kabupaten=kabupaten)
    if request.method == "POST" and form.is_valid():
        try:
            new, warnings = services.nomination_replace(
                actor=request.user, nomination=nomination, data=form.person_data()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(new)s replaces %(old)s.")
                % {"new": privacy.shown_name(request.user, new), "old": privacy.shown_name(request.user, nomination)},
            )
            for warning in warnings:
                messages.warning(request, warning)
            return redirect(back)
    # Only now, after the service read the registry's record: the page shows what the operator may see.
    privacy.shield(request.user, nomination)
    return render(
        request,
        "participants/operator_replace.html",
        {"nomination": nomination, "batch": batch, "kabupaten": kabupaten, "form": form, "back": back},
    )


urlpatterns = [
    path("usulan/", nominations_home, name="nominations_home"),
    path("angkatan/<int:batch_pk>/usulan/", batch_nominations, name="batch_nominations"),
    path("angkatan/<int:batch_pk>/surat-tugas/", letter_upload, name="letter_upload"),
    path("surat-tugas/<int:pk>/", letter_download, name="letter_download"),
    path("orang/cari/", person_lookup, name="person_lookup"),
    path("usulan/<int:pk>/tarik/", nomination_withdraw, name="nomination_withdraw"),
    path("usulan/<int:pk>/ganti/", nomination_replace, name="nomination_replace"),
]
