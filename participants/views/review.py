"""Staff review of a batch's nominations, the participant list with its access codes and export, a
nomination's record with its audit trail, and the people registry.

Thin: parse, check the role and the object (unknown or hidden ids are 404, visible but not allowed 403),
call a service or selector, render. Filters travel as ids and status codes only; NIKs are searched by POST,
so no personal data ends up in a URL or an access log."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from stdnum.id import nik as stdnum_nik

from config.forms import add_service_errors
from config.views_helpers import parse_id, require
from pillars.models import Region

from .. import exports, privacy, services
from ..models import Nomination, Person
from ..selectors import history as history_selectors
from ..selectors import nominations_visible_to, people_visible_to, related_or_none
from ..selectors import review as selectors
from ..services import Decision
from .common import batch_for

# ------------------------------------------------------------------------------------------------- review


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            (Decision.ACCEPT, gettext_lazy("Accept")),
            (Decision.REJECT, gettext_lazy("Reject")),
            (Decision.REQUEST_REPLACEMENT, gettext_lazy("Ask for a replacement")),
        ],
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Required to reject or to ask for a replacement; the Dinsos operator sees it."),
    )


def _review_filters(data) -> selectors.ReviewFilters:
    status = data.get("status", "")
    return selectors.ReviewFilters(
        kabupaten_id=parse_id(data.get("kabupaten")),
        pillar_type_id=parse_id(data.get("pillar")),
        kecamatan_id=parse_id(data.get("kecamatan")),
        status=status if status in Nomination.Status.values else "",
    )


def _filter_query(filters: selectors.ReviewFilters) -> str:
    values = {
        "kabupaten": filters.kabupaten_id,
        "pillar": filters.pillar_type_id,
        "kecamatan": filters.kecamatan_id,
        "status": filters.status,
    }
    return urlencode({key: value for key, value in values.items() if value})


def _render_review(request, batch, filters, form, selected=(), status=200):
    page = selectors.review_page(batch=batch, filters=filters)
    return render(
        request,
        "participants/review_page.html",
        {
            "batch": batch,
            "page": page,
            "filters": filters,
            "form": form,
            "selected": {str(pk) for pk in selected},
            "statuses": Nomination.Status.choices,
            "pending_status": Nomination.Status.PENDING,
        },
        status=status,
    )


@login_required
@require_GET
def review(request, batch_pk):
    batch = batch_for(request, batch_pk, "participants.review")
    return _render_review(request, batch, _review_filters(request.GET), DecisionForm())


@login_required
@require_POST
def review_decide(request, batch_pk):
    """Accept, reject or ask for a replacement of the ticked nominations, all or nothing."""
    batch = batch_for(request, batch_pk, "participants.review")
    filters = _review_filters(request.POST)
    ids = [pk for pk in (parse_id(value) for value in request.POST.getlist("nominations")) if pk]
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            decided = services.nominations_decide(
                actor=request.user,
                batch=batch,
                nomination_ids=ids,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            done = {
                Decision.ACCEPT: _("%(count)s nominations accepted; the participants have their access codes."),
                Decision.REJECT: _("%(count)s nominations rejected."),
                Decision.REQUEST_REPLACEMENT: _("A replacement was requested for %(count)s nominations."),
            }[form.cleaned_data["decision"]]
            messages.success(request, done % {"count": len(decided)})
            query = _filter_query(filters)
            return redirect(reverse("participants:review", args=[batch.pk]) + (f"?{query}" if query else ""))
    for error in form.non_field_errors():
        messages.error(request, error)
    if form.errors and not form.non_field_errors():
        messages.error(request, _("Nothing was decided; see the form below."))
    return _render_review(request, batch, filters, form, selected=ids)


# -------------------------------------------------------------------------------------- participant lists


def _kabupaten_scope(request, batch) -> tuple[int | None, bool]:
    """(kabupaten id to narrow to, whether the user is the batch's staff). Operators are always narrowed to
    their kabupaten by enrollments_visible_to; staff may pick one with ?kabupaten=<id>."""
    is_staff = request.user.has_perm("participants.review", batch)
    return (parse_id(request.GET.get("kabupaten")) if is_staff else None), is_staff


@login_required
@require_GET
def enrollments(request, batch_pk):
    batch = batch_for(request, batch_pk, "participants.enrollments.view")
    kabupaten_id, is_staff = _kabupaten_scope(request, batch)
    show_codes = is_staff and request.GET.get("codes") == "1"
    rows = selectors.enrollment_list(user=request.user, batch=batch, kabupaten_id=kabupaten_id)
    query = urlencode({"kabupaten": kabupaten_id}) if kabupaten_id else ""
    return render(
        request,
        "participants/review_enrollments.html",
        {
            "batch": batch,
            "enrollments": rows,
            "is_staff": is_staff,
            "show_codes": show_codes,
            "kabupaten_id": kabupaten_id,
            "kabupaten_choices": selectors.enrollment_kabupaten(user=request.user, batch=batch) if is_staff else [],
            "query": query,
        },
    )


@login_required
@require_GET
def access_codes(request, batch_pk):
    """A printable A4 list of access codes, one kabupaten per page (?kabupaten=<id>: that one only). The
    codes are handed out by the staff: an operator who sees the list gets 403."""
    batch = batch_for(request, batch_pk, "participants.review")
    kabupaten_id, _is_staff = _kabupaten_scope(request, batch)
    rows = selectors.enrollment_list(user=request.user, batch=batch, kabupaten_id=kabupaten_id)
    return render(
        request,
        "participants/review_access_codes.html",
        {"batch": batch, "groups": selectors.by_kabupaten(rows), "kabupaten_id": kabupaten_id},
    )


@login_required
@require_GET
def enrollments_export(request, batch_pk):
    """The participant list as .xlsx with full personal data, for the staff (everyone, with access codes)
    and for an operator (their kabupaten's participants, without access codes)."""
    batch = batch_for(request, batch_pk, "participants.enrollments.view")
    kabupaten_id, is_staff = _kabupaten_scope(request, batch)
    rows = selectors.enrollment_list(user=request.user, batch=batch, kabupaten_id=kabupaten_id)
    content = exports.enrollments_xlsx(rows, batch=batch, with_access_codes=is_staff)
    region_id = kabupaten_id if is_staff else request.user.kabupaten_id
    region = Region.objects.filter(pk=region_id).first() if region_id else None
    parts = ["peserta", f"angkatan-{batch.pk}", slugify(batch.name)[:60], region.code if region else ""]
    filename = "-".join(part for part in parts if part) + ".xlsx"
    response = HttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# -------------------------------------------------------------------------------------------- nomination


@login_required
@require_GET
def nomination_detail(request, pk):
    try:
        nomination = selectors.nomination_record(nominations_visible_to(request.user), pk)
    except Nomination.DoesNotExist as error:
        raise Http404 from error
    require(request.user, "participants.nomination.view", nomination)
    is_staff = request.user.has_perm("participants.review", nomination.batch)
    registered_elsewhere = is_staff and nomination.person.kabupaten_id != nomination.kabupaten_id
    replaced_by = related_or_none(nomination, "replaced_by")
    as_submitted = privacy.shows_as_submitted(request.user, nomination)
    if as_submitted:
        # The operator sees what they typed, and no correction made to the registry.
        for event in nomination.events.all():
            event.change_list = []
        nomination.person = privacy.person_as_submitted(nomination)
    for shown in (nomination, nomination.replaces, replaced_by):
        privacy.shield(request.user, shown)
    return render(
        request,
        "participants/review_nomination.html",
        {
            "nomination": nomination,
            "person": nomination.person,
            "as_submitted": as_submitted,
            # What an operator typed is theirs to see while the nomination holds a seat; the person's own page is
            # reached from elsewhere, so that this page reads the same whoever the NIK belongs to.
            "personal_data": nomination.is_active
            if as_submitted
            else request.user.has_perm("participants.person.personal_data", nomination.person),
            "may_view_person": not as_submitted
            and request.user.has_perm("participants.person.view", nomination.person),
            "replaced_by": replaced_by,
            "enrollment": related_or_none(nomination, "enrollment"),
            "is_staff": is_staff,
            # Only then can what was typed differ from the registry: otherwise it was written to it.
            "conflicts": selectors.nomination_conflicts(nomination) if registered_elsewhere else [],
            "registered_elsewhere": registered_elsewhere,
        },
    )


# ------------------------------------------------------------------------------------------------ people


@login_required
@require_GET
def person_detail(request, pk):
    try:
        person = selectors.person_record(user=request.user, pk=pk)
    except Person.DoesNotExist as error:
        raise Http404 from error
    require(request.user, "participants.person.view", person)
    # The batches they took part in, with attendance and certificates; and the nominations that did not
    # become an enrolment. Staff see their organiser's batches only.
    rows = history_selectors.person_history(person=person, user=request.user)
    for row in rows:
        row.may_view = request.user.has_perm("participants.nomination.view", row.nomination)
        row.batch_staff = request.user.has_perm("participants.review", row.batch)
        for certificate in row.certificates:
            certificate.may_download = bool(certificate.pdf) and request.user.has_perm(
                "certificates.certificate.download", certificate
            )
    may_merge = request.user.has_perm("participants.person.merge", person)
    return render(
        request,
        "participants/person_detail.html",
        {
            "person": person,
            "personal_data": request.user.has_perm("participants.person.personal_data", person),
            "taken": [row for row in rows if row.enrollment is not None],
            "not_enrolled": [row for row in rows if row.enrollment is None],
            "may_merge": may_merge,
            "merges": history_selectors.person_merges(person=person) if may_merge else [],
        },
    )


class NikSearchForm(forms.Form):
    nik = forms.CharField(
        label=gettext_lazy("NIK"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_nik(self):
        nik = stdnum_nik.compact(self.cleaned_data["nik"])
        if len(nik) != 16 or not nik.isdigit():
            raise ValidationError(_("NIK must be 16 digits."))
        return nik


@login_required
@require_http_methods(["GET", "POST"])
def person_list(request):
    """The registry for staff: by part of the name (?q=) or by NIK, which is posted and never put in a URL."""
    require(request.user, "participants.people.view")
    nik_form = NikSearchForm(request.POST if request.method == "POST" else None)
    if nik_form.is_valid():
        person = people_visible_to(request.user).filter(nik=nik_form.cleaned_data["nik"]).first()
        if person is not None:
            return redirect("participants:person_detail", pk=person.pk)
        nik_form.add_error("nik", _("No one with this NIK is in the registry."))
    name = request.GET.get("q", "").strip()[:100]
    people = selectors.people_search(user=request.user, name=name)
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "participants/person_list.html",
        {"page": page, "q": name, "nik_form": nik_form, "query": urlencode({"q": name}) if name else ""},
    )


urlpatterns = [
    path("angkatan/<int:batch_pk>/tinjau/", review, name="review"),
    path("angkatan/<int:batch_pk>/tinjau/putuskan/", review_decide, name="review_decide"),
    path("angkatan/<int:batch_pk>/peserta/", enrollments, name="enrollments"),
    path("angkatan/<int:batch_pk>/peserta/kode-akses/", access_codes, name="access_codes"),
    path("angkatan/<int:batch_pk>/peserta/unduh/", enrollments_export, name="enrollments_export"),
    path("usulan/<int:pk>/", nomination_detail, name="nomination_detail"),
    path("orang/", person_list, name="person_list"),
    path("orang/<int:pk>/", person_detail, name="person_detail"),
]
