"""Nominating from a spreadsheet: download the template, upload a filled-in file, see the row-by-row check,
then import the valid rows or discard the file. Nothing is nominated before the confirmation.

An operator works for their own kabupaten; the batch's staff pick one (?kabupaten=<id>, as on the
nominations page). Uploads are found through the batch and, for an operator, their kabupaten: any other id
is a 404."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from config.forms import add_service_errors

from .. import services
from ..exports import XLSX_CONTENT_TYPE
from ..imports import MAX_BYTES, MAX_ROWS, template_workbook
from ..models import NominationUpload
from ..selectors.operator import kabupaten_choices
from .common import batch_for, for_kabupaten, kabupaten_for, nominations_url, refused_upload_form, upload_too_large

RECENT_UPLOADS = 10


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy("The template filled in, as .xlsx or .csv; at most 2 MB and 2,000 participants."),
        widget=forms.ClearableFileInput(attrs={"accept": f".xlsx,.csv,{XLSX_CONTENT_TYPE},text/csv"}),
    )


def _upload_for(request, batch, upload_pk) -> NominationUpload:
    uploads = NominationUpload.objects.filter(batch=batch).select_related("kabupaten", "uploaded_by")
    if request.user.is_operator:
        uploads = uploads.filter(kabupaten_id=request.user.kabupaten_id)
    return get_object_or_404(uploads, pk=upload_pk)


# ------------------------------------------------------------------------------------------------- pages


@login_required
def import_template(request, batch_pk):
    batch = batch_for(request, batch_pk, with_allocations=True)
    kabupaten = kabupaten_for(request, batch, request.GET.get("kabupaten"))
    if kabupaten is None:
        messages.info(request, _("Choose a regency/city first."))
        return redirect("participants:import_upload", batch_pk=batch.pk)
    response = HttpResponse(template_workbook(kabupaten=kabupaten), content_type=XLSX_CONTENT_TYPE)
    filename = f"templat-peserta-{slugify(batch.name)}-{slugify(kabupaten.name)}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def import_upload(request, batch_pk):
    """GET: the template and the upload form; POST: check the file and show its preview."""
    batch = batch_for(request, batch_pk, with_allocations=True)
    kabupaten = kabupaten_for(request, batch, request.GET.get("kabupaten"))
    window_open = services.nomination_window_open(actor=request.user, batch=batch)
    form = UploadForm()
    if request.method == "POST":
        if kabupaten is None:
            raise Http404
        too_large = upload_too_large(request, MAX_BYTES)
        if too_large:
            # Refused by its announced size, before the body is read.
            message = _("The file is %(size)s MB; the limit is 2 MB. Split the participants over several files.")
            form = refused_upload_form(UploadForm, message % {"size": number_format(too_large / 1024 / 1024, 1)})
        else:
            form = UploadForm(request.POST, request.FILES)
        if not too_large and form.is_valid():
            try:
                upload = services.nomination_upload_check(
                    actor=request.user, batch=batch, kabupaten=kabupaten, file=form.cleaned_data["file"]
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return redirect("participants:import_preview", batch_pk=batch.pk, upload_pk=upload.pk)
    context = {
        "batch": batch,
        "kabupaten": kabupaten,
        "organiser": batch.organiser,
        "form": form,
        "window_open": window_open,
        "max_rows": number_format(MAX_ROWS, force_grouping=True),
    }
    if not request.user.is_operator:
        context["kabupaten_choices"] = kabupaten_choices(batch)
    if kabupaten is not None:
        context.update(
            uploads=NominationUpload.objects.filter(batch=batch, kabupaten=kabupaten)
            .select_related("uploaded_by")
            .order_by("-created_at", "-pk")[:RECENT_UPLOADS],
            template_url=for_kabupaten(
                reverse("participants:import_template", args=[batch.pk]), kabupaten, request.user
            ),
            action_url=for_kabupaten(reverse("participants:import_upload", args=[batch.pk]), kabupaten, request.user),
            nominations_url=nominations_url(batch, kabupaten, request.user),
        )
    return render(request, "participants/import_upload.html", context)


@login_required
def import_preview(request, batch_pk, upload_pk):
    batch = batch_for(request, batch_pk)
    upload = _upload_for(request, batch, upload_pk)
    report = upload.report
    window_open = services.nomination_window_open(actor=request.user, batch=batch)
    can_confirm = window_open and upload.status == NominationUpload.Status.CHECKED and upload.rows_valid > 0
    return render(
        request,
        "participants/import_preview.html",
        {
            "batch": batch,
            "upload": upload,
            "kabupaten": upload.kabupaten,
            "report": report,
            "window_open": window_open,
            "can_confirm": can_confirm,
            "upload_url": for_kabupaten(
                reverse("participants:import_upload", args=[batch.pk]), upload.kabupaten, request.user
            ),
            "nominations_url": nominations_url(batch, upload.kabupaten, request.user),
        },
    )


@login_required
@require_POST
def import_confirm(request, batch_pk, upload_pk):
    batch = batch_for(request, batch_pk)
    upload = _upload_for(request, batch, upload_pk)
    try:
        upload = services.nomination_upload_confirm(actor=request.user, upload=upload)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("participants:import_preview", batch_pk=batch.pk, upload_pk=upload.pk)
    refused = upload.rows_valid - upload.rows_imported
    if upload.rows_imported:
        messages.success(
            request,
            ngettext(
                "%(n)s participant was nominated from the spreadsheet.",
                "%(n)s participants were nominated from the spreadsheet.",
                upload.rows_imported,
            )
            % {"n": upload.rows_imported},
        )
    if refused:
        messages.warning(
            request,
            ngettext(
                "%(n)s row could no longer be nominated (the batch changed since the check); the report says why.",
                "%(n)s rows could no longer be nominated (the batch changed since the check); the report says why.",
                refused,
            )
            % {"n": refused},
        )
        return redirect("participants:import_preview", batch_pk=batch.pk, upload_pk=upload.pk)
    return redirect(nominations_url(batch, upload.kabupaten, request.user))


@login_required
@require_POST
def import_discard(request, batch_pk, upload_pk):
    batch = batch_for(request, batch_pk)
    upload = _upload_for(request, batch, upload_pk)
    try:
        services.nomination_upload_discard(actor=request.user, upload=upload)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("participants:import_preview", batch_pk=batch.pk, upload_pk=upload.pk)
    messages.info(request, _("The file was discarded; nothing was nominated from it."))
    return redirect(
        for_kabupaten(reverse("participants:import_upload", args=[batch.pk]), upload.kabupaten, request.user)
    )


urlpatterns = [
    path("angkatan/<int:batch_pk>/unggah/", import_upload, name="import_upload"),
    path("angkatan/<int:batch_pk>/unggah/templat/", import_template, name="import_template"),
    path("angkatan/<int:batch_pk>/unggah/<int:upload_pk>/", import_preview, name="import_preview"),
    path("angkatan/<int:batch_pk>/unggah/<int:upload_pk>/impor/", import_confirm, name="import_confirm"),
    path("angkatan/<int:batch_pk>/unggah/<int:upload_pk>/buang/", import_discard, name="import_discard"),
]
