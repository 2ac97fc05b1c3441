"""Forms for the staff's batch and timetable pages. They parse input; the services decide what is allowed."""

from datetime import date

from django import forms
from django.db.models import Q
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from pillars.forms import RegionChoiceField
from pillars.models import PillarType, Region

from .models import Batch, Facilitator, Module, QuotaAllocation, Session


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class BatchForm(forms.ModelForm):
    class Meta:
        model = Batch
        fields = [
            "program",
            "name",
            "start_date",
            "end_date",
            "venue",
            "nomination_deadline",
            "quota_total",
            "requires_assignment_letter",
            "notes",
        ]
        widgets = {
            "start_date": DateInput(),
            "end_date": DateInput(),
            "nomination_deadline": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, organiser, **kwargs):
        super().__init__(*args, **kwargs)
        # A batch of a program that was since retired stays editable.
        current = self.initial.get("program")
        self.fields["program"].queryset = organiser.programs.filter(Q(is_active=True) | Q(pk=current))
        self.fields["program"].empty_label = _("— choose a program —")

    def _post_clean(self):
        # Model validation (constraints) runs in the service, which reports errors back to this form.
        pass


class AllocationForm(forms.Form):
    kind = forms.ChoiceField(label=_("Allocation for"), choices=QuotaAllocation.Kind.choices)
    region = RegionChoiceField(
        label=_("Regency/city or kecamatan"),
        queryset=Region.objects.none(),
        required=False,
        help_text=_("For an allocation per regency/city or per kecamatan."),
    )
    pillar_type = forms.ModelChoiceField(
        label=_("Pillar type"),
        queryset=PillarType.objects.filter(is_active=True),
        required=False,
        help_text=_("For an allocation per pillar type."),
    )
    seats = forms.IntegerField(label=_("Seats"), min_value=1)

    def __init__(self, *args, batch, **kwargs):
        super().__init__(*args, **kwargs)
        kabupaten_ids = [a.region_id for a in batch.allocations.all() if a.kind == QuotaAllocation.Kind.KABUPATEN]
        regions = Region.objects.filter(level=Region.Level.REGENCY, code__startswith="35.")
        if kabupaten_ids:
            regions = regions | Region.objects.filter(level=Region.Level.DISTRICT, parent_id__in=kabupaten_ids)
        self.fields["region"].queryset = regions.select_related("parent").order_by("code")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == QuotaAllocation.Kind.PILLAR and not data.get("pillar_type"):
            self.add_error("pillar_type", _("Choose a pillar type."))
        if kind in (QuotaAllocation.Kind.KABUPATEN, QuotaAllocation.Kind.KECAMATAN) and not data.get("region"):
            self.add_error("region", _("Choose a regency/city or a kecamatan."))
        return data


class DayVenueForm(forms.Form):
    """One venue field per day of the batch; empty means the batch's default venue."""

    def __init__(self, *args, batch, **kwargs):
        super().__init__(*args, **kwargs)
        current = {v.date: v.venue for v in batch.day_venues.all()}
        for day in batch.days:
            self.fields[day.isoformat()] = forms.CharField(
                label=date_format(day, "l, j F Y"),
                required=False,
                max_length=200,
                initial=current.get(day, ""),
                widget=forms.TextInput(attrs={"placeholder": batch.venue}),
            )


class SessionForm(forms.Form):
    date = forms.TypedChoiceField(label=_("Day"), coerce=date.fromisoformat)
    start_time = forms.TimeField(label=_("Start"), widget=TimeInput())
    end_time = forms.TimeField(label=_("End"), widget=TimeInput())
    kind = forms.ChoiceField(label=_("Kind"), choices=Session.Kind.choices, initial=Session.Kind.MATERI)
    module = forms.ModelChoiceField(label=_("Materi"), queryset=Module.objects.none(), required=False)
    title = forms.CharField(label=_("Title"), max_length=250, required=False)
    jp = forms.IntegerField(label=_("JP"), min_value=0, max_value=20, initial=2)
    facilitators = forms.ModelMultipleChoiceField(
        label=_("Facilitators"),
        queryset=Facilitator.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    venue = forms.CharField(label=_("Venue"), max_length=200, required=False)

    def __init__(self, *args, batch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].choices = [(d.isoformat(), date_format(d, "l, j F Y")) for d in batch.days]
        self.fields["module"].queryset = batch.program.modules.order_by("order", "pk")
        self.fields["module"].label_from_instance = lambda m: f"{m.title} ({m.jp} JP)"
        self.fields["facilitators"].queryset = Facilitator.objects.filter(
            organiser_id=batch.organiser_id, is_active=True
        )
        self.fields["venue"].widget.attrs["placeholder"] = batch.venue

    @classmethod
    def initial_from(cls, session: Session) -> dict:
        return {
            "date": session.date.isoformat(),
            "start_time": session.start_time,
            "end_time": session.end_time,
            "kind": session.kind,
            "module": session.module_id,
            "title": session.title,
            "jp": session.jp,
            "facilitators": list(session.facilitators.all()),
            "venue": session.venue,
        }


class BatchFilterForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    status = forms.ChoiceField(label=_("Status"), required=False)
    program = forms.ModelChoiceField(label=_("Program"), queryset=None, required=False)
    kabupaten = forms.ModelChoiceField(label=_("Regency/city"), queryset=None, required=False)

    def __init__(self, *args, organiser, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("All statuses")), *Batch.Status.choices]
        self.fields["program"].queryset = organiser.programs.all()
        self.fields["program"].empty_label = _("All programs")
        self.fields["kabupaten"].queryset = Region.objects.filter(level=Region.Level.REGENCY, code__startswith="35.")
        self.fields["kabupaten"].empty_label = _("All regencies/cities")
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select form-select-sm" if is_select else "form-control form-control-sm"
