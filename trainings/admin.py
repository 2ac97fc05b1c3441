"""Programs, facilitators, batches and sessions in the admin.

Organiser staff see only their own organiser's rows and can pick only their own organiser (and its programs,
batches, materi and facilitators) in foreign keys. Programs and facilitators are reference data and are edited
here. Batches and sessions are run from the trainings pages, whose services check quotas, dates and clashes:
here batches only take notes (through batch_update) and sessions are read-only."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from pillars.models import Organiser

from .models import Batch, BatchVenue, Facilitator, Module, Program, QuotaAllocation, Session
from .services import batch_update


class OrganiserScopedAdmin(admin.ModelAdmin):
    """Restricts rows and foreign-key choices to the organiser of the signed-in staff member (superusers see
    everything). `organiser_path` is the lookup from the model to its organiser."""

    organiser_path = "organiser"
    # Foreign keys and many-to-many fields whose choices are scoped, with the lookup to their organiser.
    scoped_choices = {
        "organiser": ("pk", Organiser),
        "program": ("organiser", Program),
        "batch": ("organiser", Batch),
        "module": ("program__organiser", Module),
        "facilitators": ("organiser", Facilitator),
    }

    @staticmethod
    def _organiser_id(request):
        return None if request.user.is_superuser else request.user.organiser_id

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organiser_path}_id": request.user.organiser_id})

    def _scope(self, request, db_field, kwargs):
        if request.user.is_superuser or db_field.name not in self.scoped_choices:
            return kwargs
        lookup, model = self.scoped_choices[db_field.name]
        kwargs["queryset"] = model._default_manager.filter(**{f"{lookup}": request.user.organiser_id})
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scope(request, db_field, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scope(request, db_field, kwargs))

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [f for f in filters if not (isinstance(f, str) and f.split("__")[-1] == "organiser")]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.organiser_path == "organiser" and not request.user.is_superuser:
            initial.setdefault("organiser", request.user.organiser_id)
        return initial


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 1
    fields = ("order", "title", "jp")


@admin.register(Program)
class ProgramAdmin(OrganiserScopedAdmin):
    list_display = ("title", "organiser", "pass_percent", "total_jp_display", "is_active")
    list_filter = ("is_active", "organiser")
    list_select_related = ("organiser",)
    search_fields = ("title", "description")
    inlines = [ModuleInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("modules")

    @admin.display(description=_("total JP"))
    def total_jp_display(self, obj):
        return obj.total_jp


@admin.register(Facilitator)
class FacilitatorAdmin(OrganiserScopedAdmin):
    list_display = ("name", "kind", "institution", "nip", "organiser", "user", "is_active")
    list_filter = ("kind", "is_active", "organiser")
    list_select_related = ("organiser", "user")
    search_fields = ("name", "nip", "institution")
    # Accounts are linked from the account pages (accounts.services.account_create_facilitator).
    readonly_fields = ("user",)


class QuotaAllocationInline(admin.TabularInline):
    model = QuotaAllocation
    fields = ("kind", "region", "pillar_type", "seats")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class BatchVenueInline(QuotaAllocationInline):
    model = BatchVenue
    fields = ("date", "venue")
    readonly_fields = fields


BATCH_FIELDS = (
    "program",
    "organiser",
    "name",
    "status",
    "start_date",
    "end_date",
    "venue",
    "nomination_deadline",
    "quota_total",
)


@admin.register(Batch)
class BatchAdmin(OrganiserScopedAdmin):
    """Read-mostly: batches are created and changed on the trainings pages; here only the notes."""

    list_display = ("name", "program", "start_date", "end_date", "status", "quota_total", "organiser")
    list_filter = ("status", "organiser", "program")
    list_select_related = ("program", "organiser")
    search_fields = ("name", "venue", "program__title")
    date_hierarchy = "start_date"
    fields = (*BATCH_FIELDS, "notes")
    readonly_fields = BATCH_FIELDS
    inlines = [QuotaAllocationInline, BatchVenueInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        editable = obj is None or obj.is_editable
        return editable and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        try:
            with transaction.atomic():
                batch_update(batch=obj, notes=form.cleaned_data["notes"])
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), level="error")


@admin.register(Session)
class SessionAdmin(OrganiserScopedAdmin):
    """Read-only: the timetable page checks clashes and JP when sessions change."""

    organiser_path = "batch__organiser"
    list_display = ("date", "time_range", "display_title", "kind", "jp", "batch")
    list_filter = ("kind", "batch__organiser", "date")
    list_select_related = ("batch", "module")
    search_fields = ("title", "module__title", "batch__name", "facilitators__name")
    date_hierarchy = "date"
    fields = (
        "batch",
        "date",
        "start_time",
        "end_time",
        "kind",
        "module",
        "title",
        "jp",
        "facilitators",
        "venue",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("time"))
    def time_range(self, obj):
        return obj.time_range

    @admin.display(description=_("title"))
    def display_title(self, obj):
        return obj.display_title
