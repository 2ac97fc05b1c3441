"""Importing the registry of pillar members (no nomination): download the template, upload a file, follow the
check job's progress, read the row-by-row report, then confirm the import (all rows, or the valid rows only)
and follow the import job. Nothing is written to the registry before the confirmation.

Staff work for their organiser, for one kabupaten or the whole province; an operator for their own kabupaten.
An upload is found among the user's own (registry.uploads_visible_to): any other id is a 404."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.forms import add_service_errors
from config.views_helpers import id_or_404
from pillars.models import Region

from .. import registry
from ..exports import XLSX_CONTENT_TYPE
from ..models import RegistryUpload
from .common import refused_upload_form, upload_too_large

RECENT_UPLOADS = 10


class RegistryUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy("The template filled in, as .xlsx or .csv; at most 5 MB and 15,000 rows."),
        widget=forms.ClearableFileInput(attrs={"accept": f".xlsx,.csv,{XLSX_CONTENT_TYPE},text/csv"}),
    )
    kabupaten = forms.ModelChoiceField(
        label=gettext_lazy("Regency/city"),
        queryset=Region.objects.filter(level=Region.Level.REGENCY).order_by("code"),
        required=False,
        empty_label=gettext_lazy("Whole province (the file says each row's regency/city)"),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and not user.is_organiser_staff:
            del self.fields["kabupaten"]


def _require_uploader(request) -> None:
    if not registry.may_upload(request.user):
        raise PermissionDenied


def _upload_for(request, pk) -> RegistryUpload:
    _require_uploader(request)
    return get_object_or_404(registry.uploads_visible_to(request.user), pk=id_or_404(pk))


def _organiser(user):
    return user.organiser


@login_required
def registry_template(request):
    _require_uploader(request)
    if request.user.is_operator:
        kabupaten = request.user.kabupaten
    elif request.GET.get("kabupaten"):
        kabupaten = get_object_or_404(
            Region.objects.filter(level=Region.Level.REGENCY), pk=id_or_404(request.GET["kabupaten"])
        )
    else:
        kabupaten = None
    response = HttpResponse(registry.template_workbook(kabupaten=kabupaten), content_type=XLSX_CONTENT_TYPE)
    scope = slugify(kabupaten.name) if kabupaten else "provinsi"
    response["Content-Disposition"] = f'attachment; filename="templat-daftar-induk-{scope}.xlsx"'
    return response


@login_required
def registry_upload(request):
    """GET: the template and the upload form; POST: keep the file and start its check."""
    _require_uploader(request)
    form = RegistryUploadForm(user=request.user)
    if request.method == "POST":
        too_large = upload_too_large(request, registry.MAX_BYTES)
        if too_large:
            # Refused by its announced size, before the body is read.
            form = refused_upload_form(RegistryUploadForm, registry.too_large_message(too_large), user=request.user)
        else:
            form = RegistryUploadForm(request.POST, request.FILES, user=request.user)
        if not too_large and form.is_valid():
            try:
                upload = registry.registry_upload_create(
                    actor=request.user, file=form.cleaned_data["file"], kabupaten=form.cleaned_data.get("kabupaten")
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return redirect("participants:registry_detail", pk=upload.pk)
    context = {
        "form": form,
        "organiser": _organiser(request.user),
        "max_rows": number_format(registry.MAX_ROWS, force_grouping=True),
        "uploads": registry.uploads_visible_to(request.user)[:RECENT_UPLOADS],
        "template_url": reverse("participants:registry_template"),
    }
    if request.user.is_operator:
        context["kabupaten"] = request.user.kabupaten
    return render(request, "participants/registry_upload.html", context)


def _progress_context(upload) -> dict:
    return {"upload": upload, "progress": registry.progress(upload), "may_retry": registry.may_retry(upload)}


@login_required
def registry_detail(request, pk):
    upload = _upload_for(request, pk)
    context = _progress_context(upload)
    report = upload.report
    context.update(
        report=report,
        organiser=_organiser(request.user),
        can_confirm=upload.status == RegistryUpload.Status.CHECKED
        and not report.get("confirmed")
        and upload.rows_valid > 0,
        more_problems=max(0, report.get("problems_total", 0) - len(report.get("problems", []))),
        more_warnings=max(0, report.get("warnings_total", 0) - len(report.get("warnings", []))),
        more_valid=max(0, upload.rows_valid - len(report.get("preview", []))),
    )
    return render(request, "participants/registry_detail.html", context)


@login_required
def registry_progress(request, pk):
    """htmx: the upload's step and progress bar; it polls itself while a job runs. When the job it was
    following ends, the whole page reloads to show the report."""
    upload = _upload_for(request, pk)
    context = _progress_context(upload)
    response = render(request, "participants/registry_progress.html", context)
    if request.headers.get("HX-Request") and request.GET.get("poll") and not context["progress"]["polling"]:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def registry_confirm(request, pk):
    upload = _upload_for(request, pk)
    try:
        registry.registry_upload_confirm(
            actor=request.user, upload=upload, valid_only=request.POST.get("valid_only") == "1"
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        upload.refresh_from_db(fields=["status"])
        # An import that could not be queued is failed already; its page says why, as the one message.
        if upload.status != RegistryUpload.Status.FAILED:
            messages.info(request, _("The import has started; this page shows its progress."))
    return redirect("participants:registry_detail", pk=upload.pk)


@login_required
@require_POST
def registry_retry(request, pk):
    upload = _upload_for(request, pk)
    try:
        registry.registry_upload_retry(actor=request.user, upload=upload)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("participants:registry_detail", pk=upload.pk)


urlpatterns = [
    path("daftar-induk/unggah/", registry_upload, name="registry_upload"),
    path("daftar-induk/templat/", registry_template, name="registry_template"),
    path("daftar-induk/<int:pk>/", registry_detail, name="registry_detail"),
    path("daftar-induk/<int:pk>/progres/", registry_progress, name="registry_progress"),
    path("daftar-induk/<int:pk>/konfirmasi/", registry_confirm, name="registry_confirm"),
    path("daftar-induk/<int:pk>/ulangi/", registry_retry, name="registry_retry"),
]
