"""Training coverage: the registry per kabupaten/kota × pillar type (completed, in a batch now, never trained),
the people not yet trained behind a cell, and the operator's nomination of ticked people into an open batch.
Thin: parse, check the role and the object, call a selector or the nomination service, render."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from config.views_helpers import id_or_404, parse_id, require
from pillars.models import PillarType, Region
from trainings.models import Batch, Program
from trainings.selectors import batches_visible_to

from .. import services
from ..models import Person
from ..selectors import coverage as selectors

PAGE_SIZE = 50
MAX_TICKED = 200  # one submission; the page shows 50 people at a time


def _require_staff_or_operator(user) -> None:
    require(user, "participants.coverage.view")


def programs_for(user):
    """The programs a user may filter by: staff their organiser's, operators those of batches they can find."""
    if user.is_organiser_staff:
        return Program.objects.filter(organiser_id=user.organiser_id).order_by("title")
    return Program.objects.filter(pk__in=batches_visible_to(user).values("program_id")).order_by("title")


class CoverageFilterForm(forms.Form):
    program = forms.ModelChoiceField(label=gettext_lazy("Program"), queryset=Program.objects.none(), required=False)
    kabupaten = forms.ModelChoiceField(
        label=gettext_lazy("Regency/city"), queryset=Region.objects.none(), required=False
    )
    pillar = forms.ModelChoiceField(
        label=gettext_lazy("Pillar type"), queryset=PillarType.objects.all(), required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs_for(user)
        self.fields["program"].empty_label = gettext_lazy("Any program")
        self.fields["pillar"].empty_label = gettext_lazy("All pillar types")
        if user.is_operator:
            del self.fields["kabupaten"]  # always their own
        else:
            # The regencies/cities someone is registered in: the registry's, not all of Indonesia's.
            self.fields["kabupaten"].queryset = Region.objects.filter(
                level=Region.Level.REGENCY, pk__in=Person.objects.values("kabupaten_id")
            ).order_by("code")
            self.fields["kabupaten"].empty_label = gettext_lazy("All regencies/cities")
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def params(self) -> dict:
        """program, kabupaten and pillar_type as chosen; anything invalid counts as not chosen."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "program": data.get("program"),
            "kabupaten": data.get("kabupaten"),
            "pillar_type": data.get("pillar"),
        }


def _query(**values) -> str:
    return urlencode({key: value.pk for key, value in values.items() if value is not None})


@login_required
@require_GET
def coverage(request):
    _require_staff_or_operator(request.user)
    filters = CoverageFilterForm(request.GET or None, user=request.user)
    params = filters.params()
    table = selectors.coverage_table(user=request.user, **params)
    return render(
        request,
        "participants/coverage.html",
        {"filters": filters, "table": table, "program": params["program"], "is_operator": request.user.is_operator},
    )


def _drill_down_params(request, source) -> dict:
    """The kabupaten (an operator's own; 404 for another), pillar type and program (404 for one the user
    cannot filter by) a drill-down is about."""
    user = request.user
    kabupaten_id = id_or_404(source.get("kabupaten") or (user.kabupaten_id if user.is_operator else None))
    if user.is_operator and kabupaten_id != user.kabupaten_id:
        raise Http404
    kabupaten = get_object_or_404(Region, pk=kabupaten_id, level=Region.Level.REGENCY)
    pillar_type = get_object_or_404(PillarType, pk=id_or_404(source.get("pillar")))
    program = None
    if source.get("program"):
        program = get_object_or_404(programs_for(user), pk=id_or_404(source.get("program")))
    return {"kabupaten": kabupaten, "pillar_type": pillar_type, "program": program}


def open_batches_for(user, program=None):
    """The batches an operator may nominate to now (open, deadline not passed, concerning their kabupaten)."""
    batches = batches_visible_to(user).filter(status=Batch.Status.NOMINATION_OPEN).select_related("program")
    if program is not None:
        batches = batches.filter(program=program)
    return [b for b in batches.order_by("start_date", "name") if services.nomination_window_open(actor=user, batch=b)]


@login_required
@require_GET
def untrained(request):
    _require_staff_or_operator(request.user)
    params = _drill_down_params(request, request.GET)
    people = selectors.untrained_people(user=request.user, **params)
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    operator = request.user.is_operator
    return render(
        request,
        "participants/coverage_untrained.html",
        {
            **params,
            "page": page,
            "query": _query(kabupaten=params["kabupaten"], pillar=params["pillar_type"], program=params["program"]),
            "may_nominate": operator,
            "open_batches": open_batches_for(request.user, params["program"]) if operator else [],
        },
    )


def _person_data(person, kabupaten) -> services.PersonData:
    """The registry record of a person as the data of a nomination by their kabupaten."""
    return services.PersonData(
        nik=person.nik,
        full_name=person.full_name,
        gender=person.gender,
        birth_place=person.birth_place,
        birth_date=person.birth_date,
        kabupaten=kabupaten,
        pillar_type=person.pillar_type,
        kecamatan=person.kecamatan if person.kecamatan_id and person.kecamatan.parent_id == kabupaten.pk else None,
        village=person.village,
        address=person.address,
        phone=person.phone,
        email=person.email,
        pillar_detail=person.pillar_detail,
        education=person.education,
    )


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
@require_POST
def nominate(request):
    """An operator nominates the people they ticked into one open batch, one nomination_submit() each; every
    person's outcome (nominated, or the quota or rule that refused them) is reported."""
    require(request.user, "participants.coverage.nominate")
    params = _drill_down_params(request, request.POST)
    back = f"{reverse('participants:coverage_untrained')}?" + _query(
        kabupaten=params["kabupaten"], pillar=params["pillar_type"], program=params["program"]
    )
    batch_id = parse_id(request.POST.get("batch"))
    batch = next((b for b in open_batches_for(request.user) if b.pk == batch_id), None)
    if batch is None:
        messages.error(request, _("Choose a batch that is open for nomination."))
        return redirect(back)
    ids = [pk for pk in map(parse_id, request.POST.getlist("person")[:MAX_TICKED]) if pk is not None]
    people = list(
        selectors.people_in_scope(request.user)
        .filter(pk__in=ids)
        .select_related("kecamatan", "pillar_type")
        .order_by("full_name", "pk")
    )
    if len(people) != len(set(ids)):
        raise Http404  # someone the operator cannot count: ids are not to be guessed
    if not people:
        messages.error(request, _("Tick the people to nominate."))
        return redirect(back)
    kabupaten = request.user.kabupaten
    nominated = []
    for person in people:
        try:
            _nomination, warnings = services.nomination_submit(
                actor=request.user, batch=batch, kabupaten=kabupaten, data=_person_data(person, kabupaten)
            )
        except ValidationError as error:
            messages.error(
                request, _("%(name)s: %(message)s") % {"name": person.full_name, "message": _error_text(error)}
            )
            continue
        nominated.append(person.full_name)
        for warning in warnings:
            messages.warning(request, _("%(name)s: %(message)s") % {"name": person.full_name, "message": warning})
    if nominated:
        # One line for those nominated, however many; each refusal keeps its own line above.
        messages.success(
            request,
            _("%(done)s of %(total)s people were nominated to %(batch)s: %(names)s.")
            % {"done": len(nominated), "total": len(people), "batch": batch.name, "names": ", ".join(nominated)},
        )
    return redirect(back)


urlpatterns = [
    path("cakupan/", coverage, name="coverage"),
    path("cakupan/belum-dilatih/", untrained, name="coverage_untrained"),
    path("cakupan/usulkan/", nominate, name="coverage_nominate"),
]
