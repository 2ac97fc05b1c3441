"""Forms of the account pages. They parse input; the rules live in services.py, whose ValidationErrors
the views put back next to the fields they concern. The username and phone checks of the services also
run here, so that every mistake shows at once."""

from django import forms
from django.utils.translation import gettext_lazy as _

from pillars.forms import RegionChoiceField
from pillars.models import Region

from .models import Role, User
from .selectors import facilitators_without_account
from .services import EMAIL_MAX_LENGTH, account_username_clean, phone_validator

USERNAME_HELP = _("Letters, digits and @ . + - _ only, e.g. dinsos.situbondo. Used to log in.")


class FacilitatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.institution})" if obj.institution else obj.name


class UsernameCheckMixin:
    def clean_username(self):
        try:
            return account_username_clean(self.cleaned_data["username"])
        except forms.ValidationError as error:
            raise forms.ValidationError(error.message_dict["username"]) from error


class OperatorAccountForm(UsernameCheckMixin, forms.Form):
    kabupaten = RegionChoiceField(
        label=_("Regency/city"),
        queryset=Region.objects.filter(level=Region.Level.REGENCY).order_by("code"),
        empty_label=_("— choose a regency or city —"),
        help_text=_("The Dinsos office this operator nominates participants for."),
    )
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=USERNAME_HELP, validators=[User.username_validator]
    )
    email = forms.EmailField(
        max_length=EMAIL_MAX_LENGTH,
        label=_("E-mail"),
        required=False,
        help_text=_("Optional; the set-password link is sent here if e-mail is set up."),
    )
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False, validators=[phone_validator])

    field_order = ["kabupaten", "full_name", "username", "email", "phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocapitalize": "none", "autocomplete": "off"})
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})


class FacilitatorAccountForm(UsernameCheckMixin, forms.Form):
    facilitator = FacilitatorChoiceField(
        label=_("Facilitator"),
        queryset=None,
        empty_label=_("— choose a facilitator —"),
        help_text=_("Only facilitators of your organiser that have no account yet are listed."),
    )
    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=USERNAME_HELP, validators=[User.username_validator]
    )
    email = forms.EmailField(
        max_length=EMAIL_MAX_LENGTH,
        label=_("E-mail"),
        required=False,
        help_text=_("Optional; the set-password link is sent here if e-mail is set up."),
    )

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].queryset = facilitators_without_account(organiser=staff.organiser)
        self.fields["username"].widget.attrs.update({"autocapitalize": "none", "autocomplete": "off"})


class AccountFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    role = forms.ChoiceField(
        label=_("Role"),
        required=False,
        choices=[
            ("", _("All roles")),
            (Role.OPERATOR, Role.OPERATOR.label),
            (Role.FACILITATOR, Role.FACILITATOR.label),
        ],
    )
