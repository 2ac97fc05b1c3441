"""The attendance recap of a batch (participants × sessions, JP attended and the pass rule) as a page and as
.xlsx, and the staff's record of who really taught a session. Thin: parse, check the role and the object,
call a service or selector, render."""

import math

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from config.forms import add_service_errors
from config.views_helpers import parse_id, require
from participants.privacy import shield_enrollments
from participants.selectors import enrollments_visible_to

from . import exports, selectors, services
from .models import Attendance, Batch, Facilitator, Session


def _recap_for(request, pk):
    """The batch (404 if the user cannot find it, 403 if they may not see its attendance) and its matrix:
    every participant for the batch's staff, their kabupaten's participants for an operator."""
    batch = get_object_or_404(selectors.batches_visible_to(request.user).select_related("program", "organiser"), pk=pk)
    require(request.user, "trainings.attendance_recap.view", batch)
    enrollments = enrollments_visible_to(request.user).filter(batch=batch)
    recap = selectors.attendance_recap(batch=batch, enrollments=enrollments)
    # An operator's participant registered elsewhere appears as the operator typed them (participants.privacy).
    shield_enrollments(request.user, [row.enrollment for row in recap.rows])
    return batch, recap


@login_required
@require_GET
def attendance_matrix(request, pk):
    batch, matrix = _recap_for(request, pk)
    legend = [(value, Attendance.LETTERS[value], label) for value, label in Attendance.Status.choices]
    return render(
        request,
        "trainings/recap_matrix.html",
        {
            "batch": batch,
            "matrix": matrix,
            "legend": legend,
            # The JP a participant needs: the pass rule's share of the scheduled JP, rounded up.
            "required_jp": math.ceil(matrix.pass_percent * matrix.jp_scheduled / 100),
            "running": batch.status == Batch.Status.RUNNING,
            "view_all": request.user.has_perm("trainings.attendance_recap.view_all", batch),
        },
    )


@login_required
@require_GET
def attendance_export(request, pk):
    batch, matrix = _recap_for(request, pk)
    parts = ["rekap-kehadiran", f"angkatan-{batch.pk}", slugify(batch.name)[:60]]
    if request.user.is_operator:
        parts.append(request.user.kabupaten.code)
    response = HttpResponse(exports.attendance_xlsx(matrix), content_type=exports.XLSX_CONTENT_TYPE)
    filename = "-".join(part for part in parts if part) + ".xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# -------------------------------------------------------------------------------- who taught a session


class FacilitatorChoiceField(forms.ModelMultipleChoiceField):
    """Refuses what is not an id (text, or a number beyond the database's integer) as an invalid choice before
    asking the database, which would fail on it."""

    def _check_values(self, value):
        for pk in value:
            if parse_id(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": str(pk)[:20]}
                )
        return super()._check_values(value)


class TeachingForm(forms.Form):
    facilitators = FacilitatorChoiceField(
        label=gettext_lazy("Who taught this session"),
        queryset=Facilitator.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Their JP count in the facilitator workload instead of the scheduled facilitators'."),
    )

    def __init__(self, *args, session: Session, **kwargs):
        super().__init__(*args, **kwargs)
        involved = [f.pk for f in session.facilitators.all()] + [f.pk for f in session.taught_by.all()]
        # The organiser's active facilitators, and anyone already scheduled or recorded even if inactive now.
        self.fields["facilitators"].queryset = Facilitator.objects.filter(
            Q(is_active=True) | Q(pk__in=involved), organiser_id=session.batch.organiser_id
        ).order_by("name")


@login_required
def session_teaching(request, pk):
    """Staff record which facilitators actually taught a session; it starts from those recorded, or else
    from those scheduled."""
    session = get_object_or_404(
        Session.objects.filter(batch__in=selectors.batches_visible_to(request.user))
        .select_related("batch__organiser", "batch__program", "module")
        .prefetch_related("facilitators", "taught_by"),
        pk=pk,
    )
    require(request.user, "trainings.session.record_teaching", session.batch)
    chosen = session.taught_by.all() if session.taught_recorded else session.facilitators.all()
    data = request.POST if request.method == "POST" else None  # nobody ticked is an empty POST, still a POST
    form = TeachingForm(data, session=session, initial={"facilitators": [f.pk for f in chosen]})
    if request.method == "POST" and form.is_valid():
        try:
            services.session_record_teaching(
                actor=request.user, session=session, facilitators=form.cleaned_data["facilitators"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Who taught the session was recorded."))
            return redirect("trainings:batch_detail", pk=session.batch_id)
    return render(request, "trainings/recap_teaching.html", {"form": form, "session": session, "batch": session.batch})


urlpatterns = [
    path("angkatan/<int:pk>/rekap-kehadiran/", attendance_matrix, name="attendance_matrix"),
    path("angkatan/<int:pk>/rekap-kehadiran/unduh/", attendance_export, name="attendance_export"),
    path("sesi/<int:pk>/pengajar/", session_teaching, name="session_teaching"),
]
