"""Attendance pages: a facilitator's sessions, recording a session's attendance on a phone (one tap per
participant, saved through htmx), the change history for the staff, and QR self check-in (the projector
screen and the participants' public page).

Thin like the other views: find the session (404 when its batch is hidden from the user), check the role and
the session (403), call a service or selector, render."""

import math
from datetime import datetime, timedelta

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
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import throttle
from config.views_helpers import id_or_404
from participants.models import Enrollment

from . import selectors, services
from .models import Attendance, Session
from .rules import is_batch_staff

# While check-in is open, the attendance page asks for the counts (and the rows of new check-ins) this often.
LIVE_REFRESH_SECONDS = 20
# Each refresh asks for the check-ins since a little before the previous one, so that none committed meanwhile
# is missed; a row sent twice is simply the same row again.
LIVE_OVERLAP_MS = 5000

# The colours of the statuses are the CSS classes status-<value> in static/css/sinergi.css, the same on every
# page; trainings/exports.py uses the same colours in the .xlsx.
STATUSES = [
    {"value": value, "label": label, "letter": Attendance.LETTERS[value]} for value, label in Attendance.Status.choices
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
    return get_object_or_404(sessions, pk=id_or_404(pk))


def _is_session_facilitator(user, session) -> bool:
    """Scheduled for the session or recorded as having taught it: they may open its attendance even when they
    may no longer change it (services.attendance_may_record says when they may)."""
    facilitator = user.facilitator_record if user.is_facilitator else None
    return facilitator is not None and facilitator.pk in services.session_facilitator_ids(session)


def _session_for_attendance(request, pk) -> Session:
    """A session whose attendance and check-in screen the user may open: the staff of its organiser and its
    facilitators (read-only for these before check-in opens and once the batch is over). Operators only read
    attendance in the recap."""
    session = _session_for(request, pk)
    if not (is_batch_staff(request.user, session.batch) or _is_session_facilitator(request.user, session)):
        raise PermissionDenied
    return session


def _count_items(counts: dict) -> list[dict]:
    items = [{**status, "n": counts[status["value"]]} for status in STATUSES]
    items.append({"value": "none", "label": _("Not yet recorded"), "letter": "?", "n": counts["none"]})
    return items


def _recording(request, session) -> dict:
    """What the attendance page and its pieces need to know about the user's rights on this session."""
    user, now = request.user, timezone.now()
    today = timezone.localdate(now)
    can_record = services.attendance_may_record(actor=user, session=session, now=now)
    opens, _closes = services.checkin_window(session)
    return {
        "session": session,
        "batch": session.batch,
        "statuses": STATUSES,
        "can_record": can_record,
        "needs_reason": can_record and services.reason_required(actor=user, batch=session.batch, today=today),
        # A facilitator opening a session still to come: they may record from the opening of its check-in.
        "opens_later": None if can_record or now >= opens else timezone.localtime(opens),
        "is_batch_staff": is_batch_staff(user, session.batch),
    }


def _live(session, now) -> dict:
    """How the attendance page keeps its counts up to date with the QR check-ins: every LIVE_REFRESH_SECONDS
    while check-in is open; before it opens on the day, once at the opening (then every 20 s); after it closes,
    not at all (nobody checks in any more)."""
    opens, closes = services.checkin_window(session)
    if opens <= now <= closes:
        trigger = f"every {LIVE_REFRESH_SECONDS}s"
    elif now < opens and timezone.localdate(opens) == timezone.localdate(now):
        trigger = f"load delay:{math.ceil((opens - now).total_seconds())}s"
    else:
        trigger = ""
    return {"live_trigger": trigger, "live_since": int(now.timestamp() * 1000) - LIVE_OVERLAP_MS}


def _since(value):
    """The time (milliseconds since the epoch) a refresh asks about; None for anything else."""
    try:
        milliseconds = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < milliseconds < 10**14:  # until the year 5138
        return None
    return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.get_current_timezone())


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
    context.update(_live(session, timezone.now()))
    return render(request, "trainings/attendance_session.html", context)


@login_required
@require_GET
def attendance_live(request, pk):
    """htmx, polled by the attendance page while check-in is open: the counts, and the rows of those who checked
    in by QR since the last refresh (out of band). Other rows are left alone, so that a note being typed is not
    lost; a check-in only ever fills a row that had no status, hence no note. Two queries besides the session."""
    session = _session_for_attendance(request, pk)
    now = timezone.now()
    data = selectors.session_attendance(session=session)
    since = _since(request.GET.get("since"))
    checked_in = [
        row
        for row in data.rows
        if since is not None
        and row.attendance is not None
        and row.attendance.method == Attendance.Method.SELF
        and row.attendance.recorded_at >= since
    ]
    context = _recording(request, session)
    context.update(counts=_count_items(data.counts), rows=checked_in, **_live(session, now))
    response = render(request, "trainings/attendance_live_update.html", context)
    if request.GET.get("recording") == ("0" if context["can_record"] else "1"):
        # Check-in opened (the facilitator may record from now) or the batch ended: the whole page changes.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def attendance_mark(request, pk):
    """One tap: a participant's status (and note) at the session. htmx gets the row back and the counts
    out of band; without JavaScript the form posts here and returns to the page."""
    session = _session_for_attendance(request, pk)
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("person__pillar_type", "nomination__kabupaten"),
        pk=id_or_404(request.POST.get("enrollment")),
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
    if not is_batch_staff(request.user, session.batch):
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


def _too_many_wrong_codes(request) -> bool:
    """Counts one more wrong code for the device and for the address and says whether either went over its
    limit (config/throttle.py). Only wrong codes are counted (nothing is read or written for a right one), and
    only wrong codes are refused for it: a right code still goes through, so a participant who mistyped ten
    times is not kept out, and a room keeps checking in while the throttle's cache is down."""
    by_device = throttle.CHECKIN_WRONG_CODES_BY_DEVICE.count(request)
    by_address = throttle.CHECKIN_WRONG_CODES_BY_ADDRESS.count(request)
    return by_device or by_address


def _checkin_path() -> str:
    """Where the check-in pages live ("/pelatihan/presensi/"): the device cookie is sent to them only."""
    return reverse("trainings:checkin", args=[1, "0-0"]).removesuffix("1/0-0/")


def _with_device_cookie(request, response):
    return throttle.remember_device(request, response, path=_checkin_path())


def _refusal_codes(error: ValidationError) -> set[str]:
    errors = (
        [e for field in error.error_dict.values() for e in field] if hasattr(error, "error_dict") else error.error_list
    )
    return {e.code for e in errors}


def _address_over_its_limit(request) -> bool:
    """Whether the address already made more wrong codes than its limit. Then every code is refused, right
    ones too: a guesser who throws away its device cookie would otherwise learn which codes are right from the
    one answer that is not a refusal. With the cache down this check gives way (a right code still checks in;
    a wrong one is refused when it is counted)."""
    try:
        return throttle.CHECKIN_WRONG_CODES_BY_ADDRESS.blocked(request)
    except throttle.ThrottleUnavailable:
        return False


def _checkin_post(request, session, context):
    code = request.POST.get("access_code", "")
    stamp = request.POST.get("stamp", "")
    if _address_over_its_limit(request):
        return render(request, "trainings/checkin_throttled.html", context, status=429)
    try:
        attendance = services.attendance_checkin(session=session, stamp=stamp, access_code=code)
    except ValidationError as exc:
        codes = _refusal_codes(exc)
        if "unknown_code" in codes:
            if _too_many_wrong_codes(request):
                return render(request, "trainings/checkin_throttled.html", context, status=429)
            # The page's stamp still holds: the participant retypes their code on the same form.
            context.update(stamp=stamp, access_code=code, code_error=" ".join(exc.message_dict["access_code"]))
            return render(request, "trainings/checkin_page.html", context)
        if "expired" in codes:
            context["expired"] = " ".join(exc.messages)
            return render(request, "trainings/checkin_page.html", context, status=410)
        context["error"] = " ".join(exc.messages)  # already recorded
        return render(request, "trainings/checkin_page.html", context)
    context.update(attendance=attendance, recorded_at=timezone.localtime(attendance.recorded_at))
    return render(request, "trainings/checkin_done.html", context)


@sensitive_post_parameters("access_code")
@never_cache
@require_http_methods(["GET", "POST"])
def checkin(request, pk, token):
    """The participant's phone, public. The scanned URL carries the projected token: a token not signed for
    this session is a 404 (it tells nothing about the session); a genuine one that expired asks to scan again
    (410). A valid one gives the form a stamp, good for CHECKIN_STAMP_SECONDS, and the form posts the stamp and
    the personal access code; the code travels only in the POST body, never in a URL."""
    session = get_object_or_404(Session.objects.select_related("batch__organiser", "module"), pk=id_or_404(pk))
    if not services.checkin_token_signature_valid(session, token):
        raise Http404
    context = {"session": session, "organiser": session.batch.organiser}
    if request.method == "POST":
        return _with_device_cookie(request, _checkin_post(request, session, context))
    try:
        context["stamp"] = services.checkin_stamp(session, token)
    except ValidationError as exc:
        context["expired"] = " ".join(exc.messages)
        response = render(request, "trainings/checkin_page.html", context, status=410)
    else:
        response = render(request, "trainings/checkin_page.html", context)
    return _with_device_cookie(request, response)


urlpatterns = [
    path("sesi-saya/", my_sessions, name="my_sessions"),
    path("sesi/<int:pk>/kehadiran/", session_attendance, name="session_attendance"),
    path("sesi/<int:pk>/kehadiran/terkini/", attendance_live, name="attendance_live"),
    path("sesi/<int:pk>/kehadiran/tandai/", attendance_mark, name="attendance_mark"),
    path("sesi/<int:pk>/kehadiran/semua-hadir/", attendance_all_present, name="attendance_all_present"),
    path("sesi/<int:pk>/kehadiran/riwayat/", attendance_history, name="attendance_history"),
    path("sesi/<int:pk>/presensi-qr/", checkin_screen, name="checkin_screen"),
    path("sesi/<int:pk>/presensi-qr/kode/", checkin_qr, name="checkin_qr"),
    path("presensi/<int:pk>/<str:token>/", checkin, name="checkin"),
]
