"""Pages for batches, quotas, the timetable, the calendar and facilitator workload. Thin: parse, check
the role and the object, call a service or selector, render."""

import calendar as pycalendar
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.forms import add_service_errors
from config.views_helpers import require

from . import selectors, services
from .forms import AllocationForm, BatchFilterForm, BatchForm, DayVenueForm, SessionForm
from .models import Batch, QuotaAllocation, Session


def _batch_for(request, pk, perm) -> Batch:
    """A batch the user can find (else 404) and may act on with `perm` (else 403)."""
    batch = get_object_or_404(selectors.batches_visible_to(request.user).select_related("program", "organiser"), pk=pk)
    require(request.user, perm, batch)
    return batch


def _year(request) -> int:
    """The ?year= of the calendar and workload pages; anything unusable means this year."""
    this_year = timezone.localdate().year
    try:
        year = int(request.GET.get("year") or this_year)
    except ValueError:
        return this_year
    return year if 2000 <= year <= 2100 else this_year


# ------------------------------------------------------------------------------------------------ batches


@login_required
def batch_list(request):
    require(request.user, "trainings.batch.create")
    filters = BatchFilterForm(request.GET or None, organiser=request.user.organiser)
    params = filters.cleaned_data if filters.is_valid() else {}
    batches = selectors.batch_list(
        user=request.user,
        year=params.get("year"),
        status=params.get("status") or "",
        program_id=params["program"].pk if params.get("program") else None,
        kabupaten_id=params["kabupaten"].pk if params.get("kabupaten") else None,
    )
    page = Paginator(batches, 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "trainings/batch_list.html",
        {"page": page, "filters": filters, "query": query.urlencode()},
    )


@login_required
def batch_create(request):
    require(request.user, "trainings.batch.create")
    organiser = request.user.organiser
    form = BatchForm(request.POST or None, organiser=organiser)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.batch_create(organiser=organiser, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Batch “%(name)s” was created.") % {"name": batch.name})
            return redirect("trainings:batch_detail", pk=batch.pk)
    return render(request, "trainings/batch_form.html", {"form": form})


@login_required
def batch_edit(request, pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    initial = {f: getattr(batch, f) for f in BatchForm.Meta.fields}
    initial["program"] = batch.program_id
    form = BatchForm(request.POST or None, initial=initial, organiser=batch.organiser)
    if request.method == "POST" and form.is_valid():
        try:
            services.batch_update(batch=batch, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The batch was saved."))
            return redirect("trainings:batch_detail", pk=batch.pk)
    return render(request, "trainings/batch_form.html", {"form": form, "batch": batch})


@login_required
def batch_detail(request, pk):
    detail = selectors.batch_detail(user=request.user, pk=pk)
    require(request.user, "trainings.batch.view", detail.batch)
    can_change = request.user.has_perm("trainings.batch.change", detail.batch)
    view_attendance = request.user.has_perm("trainings.attendance_recap.view_all", detail.batch)
    selectors.timetable_teaching(detail)
    # Who is at risk of missing the pass rule: asked only while the batch runs.
    at_risk = None
    if view_attendance and detail.batch.status == Batch.Status.RUNNING:
        at_risk = selectors.attendance_matrix(batch=detail.batch).at_risk
    return render(
        request,
        "trainings/batch_detail.html",
        {
            "detail": detail,
            "batch": detail.batch,
            "can_change": can_change,
            "view_attendance": view_attendance,
            "at_risk": at_risk,
            "can_record_teaching": request.user.has_perm("trainings.session.record_teaching", detail.batch),
        },
    )


STATUS_ACTIONS = {
    "open": services.batch_open_nominations,
    "close": services.batch_close_nominations,
    "start": services.batch_start,
    "finish": services.batch_finish,
}


@login_required
@require_POST
def batch_status(request, pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    action = STATUS_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, _("Unknown action."))
    else:
        try:
            action(batch=batch)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            batch.refresh_from_db()
            messages.success(request, _("Status changed to “%(status)s”.") % {"status": batch.get_status_display()})
    return redirect("trainings:batch_detail", pk=batch.pk)


# ------------------------------------------------------------------------------------------------- quotas


@login_required
def allocation_form(request, pk, allocation_pk=None):
    batch = _batch_for(request, pk, "trainings.batch.change")
    allocation = get_object_or_404(QuotaAllocation, pk=allocation_pk, batch=batch) if allocation_pk else None
    initial = (
        {
            "kind": allocation.kind,
            "region": allocation.region_id,
            "pillar_type": allocation.pillar_type_id,
            "seats": allocation.seats,
        }
        if allocation
        else {"kind": QuotaAllocation.Kind.KABUPATEN}
    )
    form = AllocationForm(request.POST or None, initial=initial, batch=batch)
    if request.method == "POST" and form.is_valid():
        try:
            services.allocation_save(batch=batch, allocation=allocation, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The quota allocation was saved."))
            return redirect("trainings:batch_detail", pk=batch.pk)
    return render(request, "trainings/allocation_form.html", {"form": form, "batch": batch, "allocation": allocation})


@login_required
@require_POST
def allocation_delete(request, pk, allocation_pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    allocation = get_object_or_404(QuotaAllocation, pk=allocation_pk, batch=batch)
    try:
        services.allocation_delete(allocation=allocation)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The quota allocation was deleted."))
    return redirect("trainings:batch_detail", pk=batch.pk)


@login_required
def day_venues(request, pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    form = DayVenueForm(request.POST or None, batch=batch)
    if request.method == "POST" and form.is_valid():
        try:
            services.batch_set_day_venues(
                batch=batch, venues={day: form.cleaned_data[day.isoformat()] for day in batch.days}
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The venues were saved."))
            return redirect("trainings:batch_detail", pk=batch.pk)
    return render(request, "trainings/day_venues.html", {"form": form, "batch": batch})


# ----------------------------------------------------------------------------------------------- schedule


@login_required
def schedule(request, pk):
    """The schedule editor: the timetable with edit and delete per session, and an add form."""
    detail = selectors.batch_detail(user=request.user, pk=pk)
    require(request.user, "trainings.batch.change", detail.batch)
    form = SessionForm(batch=detail.batch, initial={"date": detail.batch.start_date.isoformat()})
    return render(request, "trainings/schedule.html", {"detail": detail, "batch": detail.batch, "form": form})


@login_required
def session_form(request, pk, session_pk=None):
    batch = _batch_for(request, pk, "trainings.batch.change")
    session = get_object_or_404(Session, pk=session_pk, batch=batch) if session_pk else None
    initial = SessionForm.initial_from(session) if session else {"date": batch.start_date.isoformat()}
    form = SessionForm(request.POST or None, initial=initial, batch=batch)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.session_save(
                batch=batch,
                session=session,
                day=data["date"],
                start_time=data["start_time"],
                end_time=data["end_time"],
                kind=data["kind"],
                module=data["module"],
                title=data["title"],
                jp=data["jp"],
                facilitators=data["facilitators"],
                venue=data["venue"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The session was saved."))
            return redirect("trainings:schedule", pk=batch.pk)
    return render(request, "trainings/session_form.html", {"form": form, "batch": batch, "session": session})


@login_required
@require_POST
def session_delete(request, pk, session_pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    session = get_object_or_404(Session, pk=session_pk, batch=batch)
    try:
        services.session_delete(session=session)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The session was deleted."))
    return redirect("trainings:schedule", pk=batch.pk)


@login_required
@require_POST
def schedule_copy(request, pk):
    batch = _batch_for(request, pk, "trainings.batch.change")
    try:
        sessions = services.schedule_from_curriculum(batch=batch)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("%(count)s sessions were drafted from the curriculum; add the facilitators next.")
            % {"count": len(sessions)},
        )
    return redirect("trainings:schedule", pk=batch.pk)


# --------------------------------------------------------------------------------- calendar and workload


@login_required
def calendar_view(request):
    require(request.user, "trainings.calendar.view")
    year = _year(request)
    months = selectors.calendar_year(user=request.user, year=year)
    try:
        month = int(request.GET.get("month", 0))
    except ValueError:
        month = 0
    context = {"year": year, "months": [(date(year, m, 1), months[m]) for m in range(1, 13)]}
    if 1 <= month <= 12:
        weeks = []
        for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            weeks.append(
                [
                    (day, day.month == month, [b for b in months[month] if b.start_date <= day <= b.end_date])
                    for day in week
                ]
            )
        context.update(month=date(year, month, 1), weeks=weeks)
    return render(request, "trainings/calendar.html", context)


@login_required
def workload(request):
    require(request.user, "trainings.workload.view")
    year = _year(request)
    rows = selectors.facilitator_workload(organiser=request.user.organiser, year=year)
    months = [date(year, m, 1) for m in range(1, 13)]
    return render(request, "trainings/workload.html", {"year": year, "rows": rows, "months": months})


@login_required
def my_batches(request):
    """The landing page of operators and facilitators: what concerns them, read-only."""
    require(request.user, "trainings.my_batches.view")
    today = timezone.localdate()
    batches = selectors.batch_list(user=request.user)
    sessions = selectors.facilitator_sessions(user=request.user, since=today) if request.user.is_facilitator else None
    return render(request, "trainings/my_batches.html", {"batches": batches, "sessions": sessions, "today": today})
