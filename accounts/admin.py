"""Users in the admin, with their role and its scope. Organiser staff who may see users here see only
the accounts of their own organiser; day-to-day account management has its own pages
(accounts:account_list)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User
from .rules import MANAGED_ROLES

admin.site.site_header = _("Sinergi administration")
admin.site.site_title = _("Sinergi")
admin.site.index_title = _("Reference data")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "get_full_name",
        "role",
        "organiser",
        "kabupaten",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_filter = ("role", "is_active", "is_staff", "is_superuser", "organiser")
    list_select_related = ("organiser", "kabupaten")
    search_fields = ("username", "first_name", "last_name", "email", "kabupaten__name")
    autocomplete_fields = ("kabupaten",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:2],
        (_("Role and scope"), {"fields": ("role", "organiser", "kabupaten", "phone")}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Role and scope"), {"fields": ("role", "organiser", "kabupaten", "email", "first_name", "phone")}),
    )

    @admin.display(description=_("name"), ordering="first_name")
    def get_full_name(self, obj):
        return obj.get_full_name()

    def get_queryset(self, request):
        users = super().get_queryset(request)
        if request.user.is_superuser:
            return users
        # As on the account pages: operators and facilitators of their own organiser, never staff accounts.
        return users.filter(organiser_id=request.user.organiser_id, role__in=MANAGED_ROLES, is_superuser=False)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organiser" and not request.user.is_superuser:
            from pillars.models import Organiser

            kwargs["queryset"] = Organiser.objects.filter(pk=request.user.organiser_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not request.user.is_superuser:
            # Only superusers hand out roles and admin rights.
            readonly = (*readonly, "role", "is_staff", "is_superuser", "groups", "user_permissions")
        return readonly
