"""Form fields for reference data shared by the apps' forms."""

from django import forms

from .models import Region


class RegionChoiceField(forms.ModelChoiceField):
    """Regions labelled with their Kemendagri code; a kecamatan also names its kabupaten/kota.
    Give it a queryset with select_related("parent") when kecamatan are among the choices."""

    def label_from_instance(self, obj):
        parent = f" ({obj.parent.name})" if obj.level == Region.Level.DISTRICT else ""
        return f"{obj.code} {obj.name}{parent}"
