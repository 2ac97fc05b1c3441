"""Reference data in the admin: pillar types, regions and organisers. Organiser staff see and edit only
their own organiser's record."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Organiser, PillarType, Region


@admin.register(PillarType)
class PillarTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "abbreviation", "code", "sort_order", "is_active")
    list_editable = ("sort_order", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "abbreviation")
    prepopulated_fields = {"code": ("name",)}


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    list_select_related = ("parent",)
    search_fields = ("code", "name")
    ordering = ("code",)
    autocomplete_fields = ("parent",)
    list_per_page = 100


@admin.register(Organiser)
class OrganiserAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "city", "head_name")
    search_fields = ("name", "code", "city")
    autocomplete_fields = ("region",)
    fieldsets = (
        (None, {"fields": ("name", "code", "city", "address", "phone", "email", "region", "logo")}),
        (_("Head (signatory of certificates)"), {"fields": ("head_name", "head_title", "head_nip")}),
    )

    def get_queryset(self, request):
        organisers = super().get_queryset(request)
        if request.user.is_superuser:
            return organisers
        return organisers.filter(pk=request.user.organiser_id)

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ()
        return ("code",)  # certificate numbers carry it
