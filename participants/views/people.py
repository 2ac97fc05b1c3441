"""Merging two registry records that turn out to be the same person (a duplicate registered with a mistyped NIK).

Staff open it from the kept person's page, find the duplicate by NIK (posted, never put in a URL) among the
people they may see, compare both side by side, choose which values to keep and confirm; services.person_merge
does the rest. Unknown or hidden people are 404; people one may see but not merge (an operator's) are 403."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from config.forms import add_service_errors
from config.views_helpers import id_or_404, require

from .. import services
from ..models import Person
from ..selectors import people_visible_to
from .review import NikSearchForm

KEEP, DUPLICATE = "keep", "duplicate"


def _person_for(request, pk) -> Person:
    """A person the user may find (else 404) and merge (else 403)."""
    person = (
        people_visible_to(request.user)
        .select_related("kabupaten", "kecamatan", "pillar_type")
        .filter(pk=id_or_404(pk))
        .first()
    )
    if person is None:
        raise Http404
    require(request.user, "participants.person.merge", person)
    return person


def _display(person: Person, name: str) -> str:
    """A field's value as the comparison shows it (the staff may see personal data)."""
    value = getattr(person, name)
    if value in (None, ""):
        return "—"
    if name == "birth_date":
        return value.strftime("%d-%m-%Y")
    display = getattr(person, f"get_{name}_display", None)
    return str(display() if display else value)


class MergeForm(forms.Form):
    """For each field, whose value the merged record keeps: the kept record's (default) or the duplicate's."""

    confirm = forms.BooleanField(
        label=gettext_lazy("I checked that both records are the same person."),
        error_messages={"required": gettext_lazy("Confirm that both records are the same person.")},
    )

    def __init__(self, *args, keep: Person, duplicate: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for name in services.MERGE_FIELDS:
            ours, theirs = _display(keep, name), _display(duplicate, name)
            self.fields[name] = forms.ChoiceField(
                label=Person._meta.get_field(name).verbose_name,
                choices=[(KEEP, ours), (DUPLICATE, theirs)],
                initial=KEEP,
                widget=forms.RadioSelect,
                required=False,
            )
            self.rows.append({"name": name, "field": self[name], "keep": ours, "duplicate": theirs})

    def take_from_duplicate(self) -> list[str]:
        return [name for name in services.MERGE_FIELDS if self.cleaned_data.get(name) == DUPLICATE]


@login_required
@require_http_methods(["GET", "POST"])
def person_merge_pick(request, pk):
    """Step 1: find the duplicate by its NIK, among the people the staff may see."""
    keep = _person_for(request, pk)
    form = NikSearchForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        duplicate = people_visible_to(request.user).filter(nik=form.cleaned_data["nik"]).first()
        if duplicate is not None and duplicate.pk == keep.pk:
            form.add_error("nik", _("This is the NIK of the record you keep; enter the duplicate's."))
        elif duplicate is not None:
            return redirect("participants:person_merge", pk=keep.pk, duplicate_pk=duplicate.pk)
        else:
            form.add_error("nik", _("No one with this NIK is in the registry."))
    # Records with the same name are the likely duplicates: offered by id, their NIK masked.
    same_name = (
        people_visible_to(request.user)
        .filter(full_name__iexact=keep.full_name)
        .exclude(pk=keep.pk)
        .select_related("kabupaten")
        .order_by("pk")[:10]
    )
    return render(
        request,
        "participants/person_merge.html",
        {"step": "pick", "keep": keep, "nik_form": form, "same_name": list(same_name)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def person_merge(request, pk, duplicate_pk):
    """Step 2: both records side by side; choose the values to keep and confirm."""
    keep = _person_for(request, pk)
    duplicate = _person_for(request, duplicate_pk)
    if keep.pk == duplicate.pk:
        raise Http404
    form = MergeForm(request.POST if request.method == "POST" else None, keep=keep, duplicate=duplicate)
    if form.is_valid():
        try:
            services.person_merge(
                actor=request.user, keep=keep, duplicate=duplicate, take_from_duplicate=form.take_from_duplicate()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The two records are merged; the duplicate was deleted."))
            return redirect("participants:person_detail", pk=keep.pk)
    return render(
        request,
        "participants/person_merge.html",
        {
            "step": "compare",
            "keep": keep,
            "duplicate": duplicate,
            "form": form,
            "counts": {
                "keep": keep.nominations.count(),
                "duplicate": duplicate.nominations.count(),
            },
        },
    )


urlpatterns = [
    path("orang/<int:pk>/gabung/", person_merge_pick, name="person_merge_pick"),
    path("orang/<int:pk>/gabung/<int:duplicate_pk>/", person_merge, name="person_merge"),
]
