"""Forms of the certificate pages: the organiser's certificate layout, a revocation, and the participant's
NIK and access code."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from participants.models import ACCESS_CODE_LENGTH

from .models import CertificateLayout

IMAGE_FORMATS = {"PNG", "JPEG"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024
# A small file can still hold a huge picture, which every render would decode: 3,600 px is A4 at 300 dpi.
MAX_IMAGE_PIXELS = 3600
IMAGE_FIELDS = ("logo", "background", "signature")


class ColourInput(forms.TextInput):
    input_type = "color"


class LayoutForm(forms.ModelForm):
    """The layout as staff set it; the images must really be PNG or JPEG (Pillow reads their content) and at
    most 2 MB each."""

    class Meta:
        model = CertificateLayout
        fields = [
            "header",
            "orientation",
            "primary_colour",
            "accent_colour",
            "logo",
            "background",
            "signature",
            "signatory_name",
            "signatory_title",
            "signatory_nip",
            "issue_place",
            "number_format",
            "result_text",
            "show_facilitators",
        ]
        widgets = {
            "header": forms.Textarea(attrs={"rows": 2}),
            "primary_colour": ColourInput(attrs={"class": "form-control-color"}),
            "accent_colour": ColourInput(attrs={"class": "form-control-color"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in IMAGE_FIELDS:
            field = self.fields[name]
            field.widget.attrs["accept"] = "image/png,image/jpeg"
            field.error_messages["invalid_image"] = _("Upload a PNG or JPEG image; this file is not one.")

    def _clean_image(self, name):
        image = self.cleaned_data.get(name)
        if not isinstance(image, UploadedFile):
            return image  # unchanged, or cleared
        if image.size > MAX_IMAGE_BYTES:
            raise ValidationError(_("The image may be at most 2 MB."), code="too_large")
        # Set by forms.ImageField after Pillow opened and verified the content.
        found = getattr(getattr(image, "image", None), "format", None)
        if found not in IMAGE_FORMATS:
            raise ValidationError(_("Upload a PNG or JPEG image; this file is not one."), code="format")
        if max(image.image.size) > MAX_IMAGE_PIXELS:
            raise ValidationError(
                _("The image may be at most %(pixels)s pixels wide and high.") % {"pixels": MAX_IMAGE_PIXELS},
                code="too_many_pixels",
            )
        return image

    def clean_logo(self):
        return self._clean_image("logo")

    def clean_background(self):
        return self._clean_image("background")

    def clean_signature(self):
        return self._clean_image("signature")


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"),
        max_length=1000,
        widget=forms.TextInput,
        error_messages={"required": _("Give the reason for revoking.")},
    )


def normalise_access_code(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


class ParticipantAccessForm(forms.Form):
    """A participant's NIK and the personal access code they were given; both are checked together."""

    nik = forms.CharField(
        label=_("NIK"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("The 16 digits of your identity card (KTP)."),
    )
    access_code = forms.CharField(
        label=_("Personal access code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
        help_text=_("The 8 characters you received from the organiser."),
    )

    def clean_nik(self):
        nik = re.sub(r"\s+", "", self.cleaned_data["nik"])
        if not re.fullmatch(r"\d{16}", nik):
            raise ValidationError(_("A NIK has 16 digits."), code="nik_format")
        return nik

    def clean_access_code(self):
        code = normalise_access_code(self.cleaned_data["access_code"])
        if len(code) != ACCESS_CODE_LENGTH:
            raise ValidationError(_("The access code has 8 characters."), code="code_format")
        return code
