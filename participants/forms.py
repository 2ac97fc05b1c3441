"""Forms of the nomination pages. They parse input; the services decide what is allowed (the NIK, its
agreement with the date of birth and gender, quotas, duplicates)."""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pillars.forms import RegionChoiceField
from pillars.models import PillarType, Region
from trainings.forms import DateInput

from .models import Person
from .services import PersonData

PERSON_FORM_FIELDS = [
    "nik",
    "full_name",
    "gender",
    "birth_place",
    "birth_date",
    "pillar_type",
    "pillar_detail",
    "kecamatan",
    "village",
    "address",
    "phone",
    "email",
    "education",
]


class PersonForm(forms.ModelForm):
    """One person to nominate, for the nominating kabupaten. NIK first: typing a NIK already in the
    registry fills the rest in (see the person_lookup view)."""

    # A plain text field: the NIK check in the service says which part of a wrong NIK is wrong.
    nik = forms.CharField(
        label=_("NIK"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("16 digits, as on the KTP. A NIK already in the registry fills the form in."),
    )
    kecamatan = RegionChoiceField(label=_("Kecamatan"), queryset=Region.objects.none(), required=False)

    class Meta:
        model = Person
        fields = PERSON_FORM_FIELDS
        widgets = {"birth_date": DateInput(), "address": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, kabupaten: Region, **kwargs):
        super().__init__(*args, **kwargs)
        self.kabupaten = kabupaten
        self.fields["pillar_type"].queryset = PillarType.objects.filter(is_active=True)
        self.fields["kecamatan"].queryset = Region.objects.filter(
            level=Region.Level.DISTRICT, parent=kabupaten
        ).select_related("parent")
        self.fields["nik"].widget.attrs.update(
            {
                "hx-post": reverse("participants:person_lookup"),
                "hx-trigger": "change",
                "hx-target": "#person-fields",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
            }
        )

    def _post_clean(self):
        # The registry record is created or corrected by the service, which reports errors back to this form.
        pass

    def person_data(self) -> PersonData:
        data = self.cleaned_data
        return PersonData(kabupaten=self.kabupaten, **{name: data[name] for name in PERSON_FORM_FIELDS})

    @staticmethod
    def initial_from(person: Person, kabupaten: Region) -> dict:
        """The registry's values of a person, to fill the form in."""
        initial = {
            name: getattr(person, name) for name in PERSON_FORM_FIELDS if name not in ("pillar_type", "kecamatan")
        }
        initial["pillar_type"] = person.pillar_type_id
        initial["kecamatan"] = (
            person.kecamatan_id if person.kecamatan_id and person.kecamatan.parent_id == kabupaten.pk else None
        )
        return initial


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), max_length=500, required=False)


class LetterForm(forms.Form):
    file = forms.FileField(
        label=_("Assignment letter"),
        help_text=_("The surat tugas of your office: PDF, JPG or PNG, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}),
    )
