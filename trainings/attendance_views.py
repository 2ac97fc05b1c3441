"""Attendance pages: a facilitator's sessions, recording a session's attendance on a phone (one tap per
participant, saved through htmx), the change history for the staff, and QR self check-in (the projector
screen and the participants' public page).

Thin like the other views: find the session (404 when its batch is hidden from the user), check the role and
the session (403), call a service or selector, render."""

from datetime import timedelta

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage

from config.proxy import client_ip
from participants.models import Enrollment

from . import selectors, services
from .models import Attendance, Session

# How many refused check-ins one address may make at one session per minute. Only refusals count: a whole room
# behind the venue's Wi-Fi shares one address, and their successful check-ins must all go through.
CHECKIN_FAILURE_RATE = "10/m"

STATUS_COLOURS = {"hadir": "success", "terlambat": "warning", "izin": "info", "sakit": "primary", "alpa": "danger"}
STATUSES = [
    {"value": value, "label": label, "letter": Attendance.LETTERS[value], "colour": STATUS_COLOURS[value]}
    for value, label in Attendance.Status.choices
]


# ------------------------------------------------------------------------------------------------ helpers


def _session_for(request, pk) -> Session:
    """A session the user can find: its batch is visible to them, or they were recorded as having taught it.
    Anything else is a 404."""
    user = request.user
    visible = Exists(selectors.batches_visible_to(user).filter(pk=OuterRef("batch_id")))
    sessions = Session.objects.select_related("batch__program", "batch__organiser", "module")
    if user.is_facilitator:
        taught = Session.taught_by.through.objects.filter(session=OuterRef("pk"), facilitator__user=user)
        # The permission checks (here and in the services) read both lists: load them once.
        sessions = sessions.filter(visible | Exists(taught)).prefetch_related("facilitators", "taught_by")
    else:
        sessions = sessions.filter(visible)
    return get_object_or_404(sessions, pk=pk)


def _is_batch_staff(user, session) -> bool:
    return user.is_organiser_staff and user.organiser_id == session.batch.organiser_id


def _teaches(user, session) -> bool:
    if not user.is_facilitator:
        return False
    facilitator = user.facilitator_record
    return facilitator is not None and facilitator.pk in services.session_facilitator_ids(session)


def _session_for_attendance(request, pk) -> Session:
    """A session whose attendance and check-in screen the user may open: the staff of its organiser and its
    facilitators (read-only for these once the batch is over). Operators only read attendance in the recap."""
    session = _session_for(request, pk)
    if not (_is_batch_staff(request.user, session) or _teaches(request.user, session)):
        raise PermissionDenied
    return session


def _id_or_404(value) -> int:
    """A primary key from a form; anything else (or out of the database's range) is a 404."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < number < 2**63:
        raise Http404
    return number


def _count_items(counts: dict) -> list[dict]:
    items = [{**status, "n": counts[status["value"]]} for status in STATUSES]
    items.append(
        {"value": "none", "label": _("Not yet recorded"), "letter": "?", "colour": "light", "n": counts["none"]}
    )
    return items


def _recording(request, session) -> dict:
    """What the attendance page and its pieces need to know about the user's rights on this session."""
    user, today = request.user, timezone.localdate()
    can_record = services.attendance_may_record(actor=user, session=session, today=today)
    return {
        "session": session,
        "batch": session.batch,
        "statuses": STATUSES,
        "can_record": can_record,
        "needs_reason": can_record and services.reason_required(actor=user, batch=session.batch, today=today),
        "is_batch_staff": _is_batch_staff(user, session),
    }


# ---------------------------------------------------------------------------------------------- my sessions


@login_required
@require_GET
def my_sessions(request):
    """A facilitator's landing page: today's sessions first, then those coming up, then the earlier sessions
    of batches not yet over (which they may still correct)."""
    if not request.user.is_facilitator:
        raise PermissionDenied
    today = timezone.localdate()
    # A batch lasts days, not months: a month back reaches the first day of any batch still under way.
    sessions = selectors.facilitator_sessions(user=request.user, since=today - timedelta(days=31)).filter(
        batch__end_date__gte=today
    )
    groups = {"today": [], "upcoming": [], "earlier": []}
    for session in sessions:
        key = "today" if session.date == today else "upcoming" if session.date > today else "earlier"
        groups[key].append(session)
    groups["earlier"].reverse()
    return render(request, "trainings/attendance_my_sessions.html", {"today": today, **groups})


# ------------------------------------------------------------------------------------------ the attendance


@login_required
@require_GET
def session_attendance(request, pk):
    session = _session_for_attendance(request, pk)
    data = selectors.session_attendance(session=session)
    context = _recording(request, session)
    context.update(rows=data.rows, counts=_count_items(data.counts), total=len(data.rows))
    return render(request, "trainings/attendance_session.html", context)


@login_required
@require_POST
def attendance_mark(request, pk):
    """One tap: a participant's status (and note) at the session. htmx gets the row back and the counts
    out of band; without JavaScript the form posts here and returns to the page."""
    session = _session_for_attendance(request, pk)
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("person__pillar_type", "nomination__kabupaten"),
        pk=_id_or_404(request.POST.get("enrollment")),
        batch_id=session.batch_id,
    )
    note = request.POST.get("note", "")
    error = ""
    try:
        attendance = services.attendance_record(
            actor=request.user,
            session=session,
            enrollment=enrollment,
            status=request.POST.get("status", ""),
            note=note,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        attendance = Attendance.objects.filter(session=session, enrollment=enrollment).first()
    if not request.htmx:
        if error:
            messages.error(request, f"{enrollment.person.full_name}: {error}")
        return redirect(f"{reverse('trainings:session_attendance', args=[session.pk])}#row-{enrollment.pk}")
    context = _recording(request, session)
    context.update(
        row=selectors.SessionAttendanceRow(enrollment=enrollment, attendance=attendance),
        error=error,
        # Keep what was typed when it could not be saved.
        note_value=note if error else (attendance.note if attendance else ""),
        counts=_count_items(selectors.session_attendance_counts(session=session)),
        oob=True,
    )
    return render(request, "trainings/attendance_row_update.html", context)


@login_required
@require_POST
def attendance_all_present(request, pk):
    """“Semua hadir”: everyone not yet recorded is present; the facilitator then taps the exceptions."""
    session = _session_for_attendance(request, pk)
    notice, error = "", ""
    try:
        marked = services.attendance_mark_all_present(actor=request.user, session=session)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    else:
        notice = _("%(count)s participants were marked present.") % {"count": marked}
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        return redirect("trainings:session_attendance", pk=session.pk)
    data = selectors.session_attendance(session=session)
    context = _recording(request, session)
    context.update(
        rows=data.rows, counts=_count_items(data.counts), total=len(data.rows), notice=notice, error=error, oob=True
    )
    return render(request, "trainings/attendance_list_update.html", context)


@login_required
@require_GET
def attendance_history(request, pk):
    """Every change to the session's attendance: old → new, note, reason, who, when and how. Staff only."""
    session = _session_for(request, pk)
    if not _is_batch_staff(request.user, session):
        raise PermissionDenied
    changes = selectors.session_attendance_history(session=session)
    return render(request, "trainings/attendance_history.html", {"session": session, "changes": changes})


# ---------------------------------------------------------------------------------------------- check-in


def _qr_context(request, session) -> dict:
    now = timezone.now()
    opens, closes = services.checkin_window(session)
    context = {
        "session": session,
        "opens": timezone.localtime(opens),
        "closes": timezone.localtime(closes),
        "is_open": opens <= now <= closes,
        "checked_in": Attendance.objects.filter(session=session, method=Attendance.Method.SELF).count(),
        "refresh_seconds": services.CHECKIN_STEP_SECONDS,
    }
    if context["is_open"]:
        url = request.build_absolute_uri(
            reverse("trainings:checkin", args=[session.pk, services.checkin_token(session, now)])
        )
        context["checkin_url"] = url
        # segno writes only path data and numbers into the SVG, no text taken from the request.
        context["qr"] = mark_safe(segno.make(url, error="m").svg_inline(scale=8, omitsize=True))  # noqa: S308
        # Poll just after the token changes, so the code on screen stays valid for at least 30 more seconds.
        step = services.CHECKIN_STEP_SECONDS
        context["refresh_seconds"] = step - int(now.timestamp()) % step + 1
    return context


@login_required
@require_GET
def checkin_screen(request, pk):
    """For the projector: the QR code that participants scan, renewed every 30 seconds."""
    session = _session_for_attendance(request, pk)
    context = _qr_context(request, session)
    context["enrolled"] = Enrollment.objects.filter(batch_id=session.batch_id).count()
    return render(request, "trainings/checkin_screen.html", context)


@login_required
@require_GET
def checkin_qr(request, pk):
    """htmx: the QR code with the current token and the number of check-ins so far."""
    session = _session_for_attendance(request, pk)
    return render(request, "trainings/checkin_qr.html", _qr_context(request, session))


def _checkin_client(group, request) -> str:
    return f"{client_ip(request)}:{request.resolver_match.kwargs['pk']}"


def _checkin_refusals(request, *, add: bool) -> dict | None:
    return get_usage(request, group="trainings.checkin", key=_checkin_client, rate=CHECKIN_FAILURE_RATE, increment=add)


def _too_many_refusals(request) -> bool:
    usage = _checkin_refusals(request, add=False)
    return usage is not None and usage["count"] >= usage["limit"]


@sensitive_post_parameters("access_code")
@require_http_methods(["GET", "POST"])
def checkin(request, pk, token):
    """The participant's phone, public: confirm the scanned code with the personal access code. The access
    code travels only in the POST body, never in a URL."""
    session = get_object_or_404(Session.objects.select_related("batch__organiser", "module"), pk=pk)
    context = {"session": session, "organiser": session.batch.organiser, "token": token}
    if request.method == "POST":
        if _too_many_refusals(request):
            return render(request, "trainings/checkin_throttled.html", context, status=429)
        code = request.POST.get("access_code", "")
        try:
            attendance = services.attendance_checkin(session=session, token=token, access_code=code)
        except ValidationError as exc:
            usage = _checkin_refusals(request, add=True)
            if usage is not None and usage["should_limit"]:
                return render(request, "trainings/checkin_throttled.html", context, status=429)
            if hasattr(exc, "error_dict") and "access_code" in exc.error_dict:
                context.update(code_error=" ".join(exc.message_dict["access_code"]), access_code=code)
            else:
                context["error"] = " ".join(exc.messages)
                context["refused"] = True
        else:
            context.update(attendance=attendance, recorded_at=timezone.localtime(attendance.recorded_at))
            return render(request, "trainings/checkin_done.html", context)
    context["token_valid"] = services.checkin_token_valid(session, token)
    return render(request, "trainings/checkin_page.html", context)


urlpatterns = [
    path("sesi-saya/", my_sessions, name="my_sessions"),
    path("sesi/<int:pk>/kehadiran/", session_attendance, name="session_attendance"),
    path("sesi/<int:pk>/kehadiran/tandai/", attendance_mark, name="attendance_mark"),
    path("sesi/<int:pk>/kehadiran/semua-hadir/", attendance_all_present, name="attendance_all_present"),
    path("sesi/<int:pk>/kehadiran/riwayat/", attendance_history, name="attendance_history"),
    path("sesi/<int:pk>/presensi-qr/", checkin_screen, name="checkin_screen"),
    path("sesi/<int:pk>/presensi-qr/kode/", checkin_qr, name="checkin_qr"),
    path("presensi/<int:pk>/<str:token>/", checkin, name="checkin"),
]
