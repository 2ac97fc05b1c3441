"""The dashboard: a year's figures as inline SVG bar charts with their tables, for the organiser's staff and,
scoped to their kabupaten/kota, for Dinsos operators; each table also as .xlsx with the same filters. Thin:
parse, check the role, call trainings.dashboard, render."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from config.views_helpers import require
from pillars.models import Region

from . import dashboard
from .exports import XLSX_CONTENT_TYPE
from .models import Program
from .selectors import batches_visible_to

FIRST_YEAR = 2015


def _require_staff_or_operator(user) -> None:
    require(user, "trainings.dashboard.view")


class DashboardFilterForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int, required=False)
    program = forms.ModelChoiceField(label=gettext_lazy("Program"), queryset=Program.objects.none(), required=False)
    kabupaten = forms.ModelChoiceField(
        label=gettext_lazy("Regency/city"), queryset=Region.objects.none(), required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        this_year = timezone.localdate().year
        self.this_year = this_year
        self.fields["year"].choices = [(year, str(year)) for year in range(this_year + 1, FIRST_YEAR - 1, -1)]
        if user.is_organiser_staff:
            programs = Program.objects.filter(organiser_id=user.organiser_id)
            self.fields["kabupaten"].queryset = Region.objects.filter(
                level=Region.Level.REGENCY, code__startswith="35."
            ).order_by("code")
            self.fields["kabupaten"].empty_label = gettext_lazy("All regencies/cities")
        else:
            programs = Program.objects.filter(pk__in=batches_visible_to(user).values("program_id"))
            del self.fields["kabupaten"]  # always their own
        self.fields["program"].queryset = programs.order_by("title")
        self.fields["program"].empty_label = gettext_lazy("All programs")
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def filters(self) -> dashboard.Filters:
        """The chosen filters; anything invalid counts as not chosen (this year for the year)."""
        data = self.cleaned_data if self.is_valid() else {}
        return dashboard.Filters(
            year=data.get("year") or self.this_year, program=data.get("program"), kabupaten=data.get("kabupaten")
        )


def _filters(request) -> tuple[DashboardFilterForm, dashboard.Filters]:
    _require_staff_or_operator(request.user)
    form = DashboardFilterForm(request.GET or None, user=request.user)
    return form, form.filters()


@login_required
@require_GET
def dashboard_view(request):
    form, filters = _filters(request)
    return render(
        request,
        "trainings/dashboard.html",
        {
            "filters": form,
            "year": filters.year,
            "tables": dashboard.dashboard(user=request.user, filters=filters),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def dashboard_export(request, table):
    form, filters = _filters(request)
    if table not in dashboard.tables_for(request.user):
        raise Http404
    user = request.user
    kabupaten = user.kabupaten if user.is_operator else filters.kabupaten
    # The files go into the organiser's and the Dinsos offices' own reports: in Indonesian whatever the interface.
    with translation.override("id"):
        result = dashboard.dashboard_table(user=user, filters=filters, key=table)
        lines = [
            (_("Year"), str(filters.year)),
            (_("Program"), filters.program.title if filters.program else _("All programs")),
            (_("Regency/city"), kabupaten.name if kabupaten else _("All regencies/cities")),
        ]
        content = dashboard.table_xlsx(result, filter_lines=lines)
    parts = ["dasbor", table, str(filters.year)]
    if kabupaten is not None:
        parts.append(kabupaten.code)
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{"-".join(parts)}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("dasbor/", dashboard_view, name="dashboard"),
    path("dasbor/unduh/<slug:table>/", dashboard_export, name="dashboard_export"),
]
