"""People, nominations and enrolments in the admin, read-only.

Every change to these goes through participants.services (quotas, deadlines, the audit trail), from the
nomination and review pages; the admin only looks. Organiser staff see nominations and enrolments of their
own organiser's batches, and the people registry as selectors.people_visible_to() gives it to them. The NIK is
searchable on the pages (by POST), never here, where a search would put it in the URL."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from trainings.admin import OrganiserScopedAdmin

from .models import Enrollment, Nomination, NominationEvent, Person
from .selectors import people_visible_to


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Person)
class PersonAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("full_name", "masked_nik", "kabupaten", "pillar_type", "updated_at")
    list_filter = ("pillar_type", "gender", "education")
    list_select_related = ("kabupaten", "pillar_type")
    search_fields = ("full_name",)
    fields = (
        "nik",
        "full_name",
        "gender",
        "birth_place",
        "birth_date",
        "address",
        "village",
        "kecamatan",
        "kabupaten",
        "phone",
        "email",
        "pillar_type",
        "pillar_detail",
        "education",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request)
        return people_visible_to(request.user)

    @admin.display(description=_("NIK"))
    def masked_nik(self, obj):
        return obj.masked_nik


class NominationEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = NominationEvent
    fields = ("at", "action", "actor", "changes", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Nomination)
class NominationAdmin(ReadOnlyAdminMixin, OrganiserScopedAdmin):
    organiser_path = "batch__organiser"
    list_display = ("person", "batch", "kabupaten", "pillar_type", "status", "created_at")
    list_filter = ("status", "pillar_type", "created_at")
    list_select_related = ("person", "batch", "kabupaten", "pillar_type")
    search_fields = ("person__full_name", "batch__name", "kabupaten__name")
    date_hierarchy = "created_at"
    fields = (
        "batch",
        "person",
        "kabupaten",
        "pillar_type",
        "kecamatan",
        "status",
        "reason",
        "replaces",
        "upload",
        "nominated_by",
        "created_at",
        "decided_by",
        "decided_at",
    )
    readonly_fields = fields
    inlines = [NominationEventInline]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, OrganiserScopedAdmin):
    organiser_path = "batch__organiser"
    list_display = ("person", "batch", "kabupaten", "access_code", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("person", "batch", "nomination__kabupaten")
    search_fields = ("person__full_name", "batch__name")
    fields = ("batch", "person", "nomination", "access_code", "created_at")
    readonly_fields = fields

    @admin.display(description=_("nominating regency/city"), ordering="nomination__kabupaten__name")
    def kabupaten(self, obj):
        return obj.nomination.kabupaten
