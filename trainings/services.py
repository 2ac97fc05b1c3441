"""Every write to programs, batches, quotas and the timetable goes through these functions.

They take keyword-only arguments, run in a transaction where several rows change and raise
ValidationError with an Indonesian-ready message when a rule is broken."""

import hashlib
import hmac
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from pillars.models import Region

from .models import JP_MINUTES, Attendance, AttendanceChange, Batch, BatchVenue, Facilitator, QuotaAllocation, Session


def _long_date(value: date) -> str:
    return date_format(value, "l, j F Y")


def batch_lock(batch: Batch) -> Batch:
    """The one lock on a batch, used by every app: a write that depends on the batch's status, quotas,
    timetable, nominations or certificates first takes the batch's row (inside its transaction) and works on
    the fresh copy returned, so two such writes to one batch run one after the other. The batch is always
    locked before its own rows (certificate counter, enrolments), in that order everywhere."""
    return Batch.objects.select_for_update().get(pk=batch.pk)


def _check_batch_editable(batch: Batch) -> None:
    if not batch.is_editable:
        raise ValidationError(_("This batch is finished; its data can no longer be changed."))


# ---------------------------------------------------------------------------------------------- batches


def _check_batch_fields(*, program, organiser, start_date, end_date, nomination_deadline, quota_total) -> None:
    errors = {}
    if program.organiser_id != organiser.pk:
        errors["program"] = _("This program belongs to another organiser.")
    if end_date < start_date:
        errors["end_date"] = _("The end date cannot be before the start date.")
    if nomination_deadline and nomination_deadline > start_date:
        errors["nomination_deadline"] = _("The nomination deadline must be on or before the first day.")
    if quota_total < 0:
        errors["quota_total"] = _("The quota cannot be negative.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def batch_create(
    *,
    organiser,
    program,
    name: str,
    start_date: date,
    end_date: date,
    venue: str,
    nomination_deadline: date | None = None,
    quota_total: int = 0,
    requires_assignment_letter: bool = False,
    notes: str = "",
) -> Batch:
    _check_batch_fields(
        program=program,
        organiser=organiser,
        start_date=start_date,
        end_date=end_date,
        nomination_deadline=nomination_deadline,
        quota_total=quota_total,
    )
    batch = Batch(
        organiser=organiser,
        program=program,
        name=name,
        start_date=start_date,
        end_date=end_date,
        venue=venue,
        nomination_deadline=nomination_deadline,
        quota_total=quota_total,
        requires_assignment_letter=requires_assignment_letter,
        notes=notes,
    )
    batch.full_clean()
    batch.save()
    return batch


@transaction.atomic
def batch_update(*, batch: Batch, **fields) -> Batch:
    batch = batch_lock(batch)
    _check_batch_editable(batch)
    allowed = {
        "program",
        "name",
        "start_date",
        "end_date",
        "venue",
        "nomination_deadline",
        "quota_total",
        "requires_assignment_letter",
        "notes",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"batch_update() got unexpected fields {sorted(unknown)}")
    previous_program_id = batch.program_id
    for key, value in fields.items():
        setattr(batch, key, value)
    _check_batch_fields(
        program=batch.program,
        organiser=batch.organiser,
        start_date=batch.start_date,
        end_date=batch.end_date,
        nomination_deadline=batch.nomination_deadline,
        quota_total=batch.quota_total,
    )
    if batch.program_id != previous_program_id and batch.sessions.exists():
        raise ValidationError({"program": _("The program cannot be changed once the timetable has sessions.")})
    outside = batch.sessions.exclude(date__range=(batch.start_date, batch.end_date)).order_by("date").first()
    if outside:
        raise ValidationError(
            _("The session on %(date)s would fall outside the new dates; move or delete it first.")
            % {"date": _long_date(outside.date)}
        )
    for kind, label in QuotaAllocation.Kind.choices:
        allocated = batch.allocations.filter(kind=kind).aggregate(total=Sum("seats"))["total"] or 0
        if allocated > batch.quota_total:
            raise ValidationError(
                {
                    "quota_total": _(
                        "The total quota (%(total)s) is smaller than the seats already allocated "
                        "per %(kind)s (%(allocated)s)."
                    )
                    % {"total": batch.quota_total, "kind": str(label).lower(), "allocated": allocated}
                }
            )
    batch.day_venues.exclude(date__range=(batch.start_date, batch.end_date)).delete()
    batch.full_clean()
    batch.save()
    return batch


@transaction.atomic
def batch_set_day_venue(*, batch: Batch, day: date, venue: str) -> BatchVenue | None:
    """Set (or clear, with an empty venue) the venue of one day of the batch."""
    return batch_set_day_venues(batch=batch, venues={day: venue}).get(day)


@transaction.atomic
def batch_set_day_venues(*, batch: Batch, venues: dict) -> dict:
    """Set the venues of several days at once, all or nothing; an empty venue means the batch's own.
    Returns the day venues that remain set, by date."""
    batch = batch_lock(batch)
    _check_batch_editable(batch)
    saved = {}
    for day, venue in venues.items():
        if not batch.start_date <= day <= batch.end_date:
            raise ValidationError(_("%(date)s is not a day of this batch.") % {"date": _long_date(day)})
        venue = venue.strip()
        if not venue or venue == batch.venue:
            BatchVenue.objects.filter(batch=batch, date=day).delete()
        else:
            saved[day], _created = BatchVenue.objects.update_or_create(batch=batch, date=day, defaults={"venue": venue})
    return saved


def _transition(batch: Batch, *, source: set, target: str) -> Batch:
    if batch.status not in source:
        raise ValidationError(
            _("A batch with status “%(status)s” cannot be moved to “%(target)s”.")
            % {"status": batch.get_status_display(), "target": Batch.Status(target).label}
        )
    batch.status = target
    batch.save(update_fields=["status", "updated_at"])
    return batch


@transaction.atomic
def batch_open_nominations(*, batch: Batch, today: date | None = None) -> Batch:
    batch = batch_lock(batch)
    today = today or timezone.localdate()
    if batch.quota_total <= 0:
        raise ValidationError(_("Set the total quota before opening nomination."))
    if not batch.nomination_deadline:
        raise ValidationError(_("Set the nomination deadline before opening nomination."))
    if batch.nomination_deadline < today:
        raise ValidationError(_("The nomination deadline has already passed."))
    return _transition(batch, source={Batch.Status.DRAFT, Batch.Status.NOMINATION_CLOSED}, target="open")


@transaction.atomic
def batch_close_nominations(*, batch: Batch) -> Batch:
    batch = batch_lock(batch)
    return _transition(batch, source={Batch.Status.NOMINATION_OPEN}, target="closed")


@transaction.atomic
def batch_start(*, batch: Batch, today: date | None = None) -> Batch:
    batch = batch_lock(batch)
    today = today or timezone.localdate()
    if not batch.sessions.exists():
        raise ValidationError(_("A batch without a timetable cannot start."))
    if today < batch.start_date - timedelta(days=1):
        raise ValidationError(_("A batch can start at the earliest the day before its first day."))
    return _transition(batch, source={Batch.Status.NOMINATION_CLOSED}, target="running")


@transaction.atomic
def batch_finish(*, batch: Batch, today: date | None = None) -> Batch:
    batch = batch_lock(batch)
    today = today or timezone.localdate()
    if today < batch.end_date:
        raise ValidationError(
            _("The batch cannot be finished before its last day (%(date)s).") % {"date": _long_date(batch.end_date)}
        )
    return _transition(batch, source={Batch.Status.RUNNING}, target="finished")


# ----------------------------------------------------------------------------------------------- quotas


@transaction.atomic
def allocation_save(
    *,
    batch: Batch,
    kind: str,
    seats: int,
    region: Region | None = None,
    pillar_type=None,
    allocation: QuotaAllocation | None = None,
) -> QuotaAllocation:
    """Create or change a quota allocation; the seats of one kind never add up to more than the total."""
    batch = batch_lock(batch)
    _check_batch_editable(batch)
    if seats is None or seats < 1:
        raise ValidationError({"seats": _("An allocation needs at least one seat.")})
    if kind == QuotaAllocation.Kind.PILLAR:
        if pillar_type is None:
            raise ValidationError({"pillar_type": _("Choose a pillar type.")})
        region = None
    elif kind in (QuotaAllocation.Kind.KABUPATEN, QuotaAllocation.Kind.KECAMATAN):
        pillar_type = None
        expected = Region.Level.REGENCY if kind == QuotaAllocation.Kind.KABUPATEN else Region.Level.DISTRICT
        if region is None or region.level != expected:
            message = (
                _("Choose a regency or city.") if kind == QuotaAllocation.Kind.KABUPATEN else _("Choose a kecamatan.")
            )
            raise ValidationError({"region": message})
    else:
        raise ValidationError({"kind": _("Unknown allocation kind.")})

    duplicate = batch.allocations.filter(region=region, pillar_type=pillar_type)
    if allocation is not None:
        duplicate = duplicate.exclude(pk=allocation.pk)
    if duplicate.exists():
        raise ValidationError(
            _("%(target)s already has an allocation in this batch.") % {"target": region or pillar_type}
        )

    others = batch.allocations.filter(kind=kind)
    if allocation is not None:
        others = others.exclude(pk=allocation.pk)
    allocated = others.aggregate(total=Sum("seats"))["total"] or 0
    if allocated + seats > batch.quota_total:
        raise ValidationError(
            {
                "seats": _("Only %(left)s of the %(total)s seats are left to allocate per %(kind)s.")
                % {
                    "left": max(batch.quota_total - allocated, 0),
                    "total": batch.quota_total,
                    "kind": str(QuotaAllocation.Kind(kind).label).lower(),
                }
            }
        )

    if allocation is None:
        allocation = QuotaAllocation(batch=batch)
    allocation.kind = kind
    allocation.region = region
    allocation.pillar_type = pillar_type
    allocation.seats = seats
    _check_regional_quotas(
        [a for a in batch.allocations.select_related("region") if a.pk != allocation.pk] + [allocation]
    )
    allocation.save()
    return allocation


def _check_regional_quotas(allocations: list[QuotaAllocation]) -> None:
    """Kecamatan quotas lie inside the batch's kabupaten quotas (when it has any) and fit in their seats."""
    kabupaten = {a.region_id: a for a in allocations if a.kind == QuotaAllocation.Kind.KABUPATEN}
    per_kabupaten = defaultdict(int)
    for allocation in allocations:
        if allocation.kind != QuotaAllocation.Kind.KECAMATAN:
            continue
        if kabupaten and allocation.region.parent_id not in kabupaten:
            raise ValidationError(
                {
                    "region": _("Kecamatan %(kecamatan)s is not in a regency or city that has a quota in this batch.")
                    % {"kecamatan": allocation.region.name}
                }
            )
        per_kabupaten[allocation.region.parent_id] += allocation.seats
    for region_id, seats in per_kabupaten.items():
        parent = kabupaten.get(region_id)
        if parent and seats > parent.seats:
            raise ValidationError(
                {
                    "seats": _("The kecamatan of %(kabupaten)s would get %(seats)s seats, more than its %(quota)s.")
                    % {"kabupaten": parent.region.name, "seats": seats, "quota": parent.seats}
                }
            )


@transaction.atomic
def allocation_delete(*, allocation: QuotaAllocation) -> None:
    batch = batch_lock(allocation.batch)
    _check_batch_editable(batch)
    if (
        allocation.kind == QuotaAllocation.Kind.KABUPATEN
        and batch.allocations.filter(kind=QuotaAllocation.Kind.KECAMATAN, region__parent=allocation.region_id).exists()
    ):
        raise ValidationError(_("Delete the kecamatan allocations of this regency or city first."))
    allocation.delete()


# --------------------------------------------------------------------------------------------- schedule


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _check_session(
    *,
    batch: Batch,
    day: date,
    start_time: time,
    end_time: time,
    kind: str,
    module,
    jp: int,
    facilitators,
    exclude_pk: int | None,
) -> None:
    if end_time <= start_time:
        raise ValidationError({"end_time": _("The session must end after it starts.")})
    if not batch.start_date <= day <= batch.end_date:
        raise ValidationError(
            {
                "date": _("%(date)s is outside the batch (%(start)s – %(end)s).")
                % {
                    "date": _long_date(day),
                    "start": _long_date(batch.start_date),
                    "end": _long_date(batch.end_date),
                }
            }
        )
    if kind == Session.Kind.MATERI and module is None:
        raise ValidationError({"module": _("Choose the materi of this session.")})
    if module is not None and module.program_id != batch.program_id:
        raise ValidationError({"module": _("This materi is not part of the batch's program.")})
    if kind == Session.Kind.MATERI and jp < 1:
        raise ValidationError({"jp": _("A materi session needs at least 1 JP.")})
    duration = _minutes(end_time) - _minutes(start_time)
    if jp * JP_MINUTES > duration:
        raise ValidationError(
            {
                "jp": _("%(jp)s JP need %(needed)s minutes, but the session lasts only %(duration)s minutes.")
                % {"jp": jp, "needed": jp * JP_MINUTES, "duration": duration}
            }
        )
    for facilitator in facilitators:
        if not facilitator.is_active:
            raise ValidationError(
                {"facilitators": _("%(name)s is no longer an active facilitator.") % {"name": facilitator.name}}
            )
        if facilitator.organiser_id != batch.organiser_id:
            raise ValidationError(
                {"facilitators": _("%(name)s is not a facilitator of this organiser.") % {"name": facilitator.name}}
            )

    overlapping = Session.objects.filter(date=day, start_time__lt=end_time, end_time__gt=start_time)
    if exclude_pk:
        overlapping = overlapping.exclude(pk=exclude_pk)
    same_batch = overlapping.filter(batch=batch).select_related("module").first()
    if same_batch:
        raise ValidationError(
            _("This time overlaps “%(title)s” (%(time)s) on the same day.")
            % {"title": same_batch.display_title, "time": same_batch.time_range}
        )
    facilitator_ids = [f.pk for f in facilitators]
    if facilitator_ids:
        clash = (
            overlapping.filter(facilitators__in=facilitator_ids)
            .select_related("batch", "module")
            .prefetch_related("facilitators")
            .first()
        )
        if clash:
            names = ", ".join(f.name for f in clash.facilitators.all() if f.pk in facilitator_ids)
            raise ValidationError(
                {
                    "facilitators": _(
                        "%(names)s is already booked at %(time)s on %(date)s for “%(title)s” in %(batch)s."
                    )
                    % {
                        "names": names,
                        "time": clash.time_range,
                        "date": _long_date(clash.date),
                        "title": clash.display_title,
                        "batch": clash.batch.name,
                    }
                }
            )


@transaction.atomic
def session_save(
    *,
    batch: Batch,
    day: date,
    start_time: time,
    end_time: time,
    kind: str = Session.Kind.MATERI,
    module=None,
    title: str = "",
    jp: int = 0,
    facilitators=(),
    venue: str = "",
    session: Session | None = None,
) -> Session:
    """Create or change a session. Refuses overlaps within the batch and facilitator double bookings
    across all batches; facilitator rows are locked so two editors cannot book one person twice."""
    batch = batch_lock(batch)
    _check_batch_editable(batch)
    facilitators = list(
        Facilitator.objects.select_for_update().filter(pk__in=[f.pk for f in facilitators]).order_by("pk")
    )
    _check_session(
        batch=batch,
        day=day,
        start_time=start_time,
        end_time=end_time,
        kind=kind,
        module=module,
        jp=jp,
        facilitators=facilitators,
        exclude_pk=session.pk if session else None,
    )
    if session is None:
        session = Session(batch=batch)
    elif session.batch_id != batch.pk:
        raise ValidationError(_("This session belongs to another batch."))
    session.date = day
    session.start_time = start_time
    session.end_time = end_time
    session.kind = kind
    session.module = module
    session.title = title.strip()
    session.jp = jp
    session.venue = venue.strip()
    session.full_clean(exclude=["batch"])
    session.save()
    session.facilitators.set(facilitators)
    return session


@transaction.atomic
def session_delete(*, session: Session) -> None:
    batch = batch_lock(session.batch)
    _check_batch_editable(batch)
    # Attendance is a record that must outlive any timetable change (the foreign key protects it too). Holding
    # the session's row, no check-in or tap can add a record between this look and the delete.
    _lock_session(session)
    if Attendance.objects.filter(session_id=session.pk).exists():
        raise ValidationError(_("This session already has attendance records, so it cannot be deleted."))
    session.delete()


# A training day as the centre runs it: a morning block and an afternoon block after lunch.
DAY_BLOCKS = ((_minutes(time(8, 0)), _minutes(time(12, 0))), (_minutes(time(13, 0)), _minutes(time(16, 45))))


@transaction.atomic
def schedule_from_curriculum(*, batch: Batch) -> list[Session]:
    """Lay the program's materi out over the batch's days as a draft timetable.

    Each materi becomes one or more sessions (a materi is split when a block ends), in curriculum order,
    with no facilitators yet. Only for a batch whose timetable is still empty."""
    batch = batch_lock(batch)
    _check_batch_editable(batch)
    if batch.sessions.exists():
        raise ValidationError(_("The timetable already has sessions; delete them first to copy the curriculum."))
    modules = list(batch.program.modules.order_by("order", "pk"))
    if not modules:
        raise ValidationError(_("The program has no materi to copy."))

    slots = [(day, start, end) for day in batch.days for start, end in DAY_BLOCKS]
    capacity = sum((end - start) // JP_MINUTES for _day, start, end in slots)
    needed = sum(m.jp for m in modules)
    if needed > capacity:
        raise ValidationError(
            _(
                "The curriculum has %(needed)s JP but %(days)s days hold at most %(capacity)s JP; "
                "lengthen the batch or schedule by hand."
            )
            % {"needed": needed, "days": len(batch.days), "capacity": capacity}
        )
    # Spread the JP evenly over the days rather than filling the first days to the brim.
    per_day = -(-needed // len(batch.days))
    sessions = []
    slot_index, cursor, used_today = 0, slots[0][1], 0
    for module in modules:
        remaining = module.jp
        while remaining:
            day, start, end = slots[slot_index]
            fits = min(remaining, (end - cursor) // JP_MINUTES, per_day - used_today)
            if fits <= 0:
                slot_index += 1
                next_day = slots[slot_index][0]
                if next_day != day:
                    used_today = 0
                cursor = slots[slot_index][1]
                continue
            session = Session(
                batch=batch,
                date=day,
                start_time=_clock(cursor),
                end_time=_clock(cursor + fits * JP_MINUTES),
                kind=Session.Kind.MATERI,
                module=module,
                jp=fits,
            )
            sessions.append(session)
            cursor += fits * JP_MINUTES
            used_today += fits
            remaining -= fits
    Session.objects.bulk_create(sessions)
    return sessions


# ------------------------------------------------------------------------------------------- attendance

NOTE_MAX_LENGTH = 200  # Attendance.note
REASON_MAX_LENGTH = 300  # AttendanceChange.reason


def session_facilitator_ids(session: Session) -> set[int]:
    """Facilitators who may record the session: those scheduled and those recorded as having taught."""
    return {f.pk for f in session.facilitators.all()} | {f.pk for f in session.taught_by.all()}


def batch_is_over(batch: Batch, today: date) -> bool:
    """Finished, or past its last day: from then on only the staff correct attendance, with a reason."""
    return batch.status == Batch.Status.FINISHED or today > batch.end_date


def attendance_may_record(*, actor, session: Session, now: datetime | None = None) -> bool:
    """The organiser's staff always (with a reason once the batch is over); the session's facilitators from
    the opening of its check-in until the end of the batch, so not sessions still to come."""
    batch = session.batch
    if actor.is_organiser_staff and actor.organiser_id == batch.organiser_id:
        return True
    if not actor.is_facilitator:
        return False
    facilitator = actor.facilitator_record
    if facilitator is None or facilitator.pk not in session_facilitator_ids(session):
        return False
    now = now or timezone.now()
    opens, _closes = checkin_window(session)
    return opens <= now and not batch_is_over(batch, timezone.localdate(now))


def reason_required(*, actor, batch: Batch, today: date) -> bool:
    return actor.is_organiser_staff and batch_is_over(batch, today)


def _method_of(actor) -> str:
    return Attendance.Method.STAFF if actor.is_organiser_staff else Attendance.Method.FACILITATOR


def _lock_session(session: Session) -> None:
    """Every write to a session's attendance holds the session's row first, and nothing else before it: taps,
    check-ins and “semua hadir” on one session run one after another, so none of them meets a record created
    meanwhile (a unique-constraint error) and no two of them wait for each other (a deadlock)."""
    if Session.objects.select_for_update().filter(pk=session.pk).values_list("pk", flat=True).first() is None:
        raise ValidationError(_("This session no longer exists."))


def _hold_enrollment(enrollment) -> bool:
    """Lock the participant's enrolment before adding attendance to it, after the session's lock (see
    Enrollment.objects.locked): a withdrawal or replacement of the participant then either finished first, and
    the enrolment is gone (False), or waits and sees the attendance, which protects the enrolment."""
    from participants.models import Enrollment  # participants builds on trainings

    return Enrollment.objects.filter(pk=enrollment.pk).locked().values_list("pk", flat=True).first() is not None


def _check_texts(*, note: str, reason: str) -> None:
    errors = {}
    if "\x00" in note:
        errors["note"] = _("The note contains a character that cannot be saved; retype it.")
    elif len(note) > NOTE_MAX_LENGTH:
        errors["note"] = _("The note is too long: at most %(limit)s characters.") % {"limit": NOTE_MAX_LENGTH}
    if "\x00" in reason:
        errors["reason"] = _("The reason contains a character that cannot be saved; retype it.")
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = _("The reason is too long: at most %(limit)s characters.") % {"limit": REASON_MAX_LENGTH}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def attendance_record(
    *,
    actor,
    session: Session,
    enrollment,
    status: str,
    note: str = "",
    reason: str = "",
    now=None,
) -> Attendance:
    """Record or correct one participant's status at a session; every change is kept in the history."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not attendance_may_record(actor=actor, session=session, now=now):
        raise PermissionDenied
    if status not in Attendance.Status.values:
        raise ValidationError({"status": _("Unknown attendance status.")})
    if enrollment.batch_id != session.batch_id:
        raise ValidationError(_("This participant is not enrolled in the session's batch."))
    note, reason = note.strip(), reason.strip()
    _check_texts(note=note, reason=reason)
    if reason_required(actor=actor, batch=session.batch, today=today) and not reason:
        raise ValidationError({"reason": _("The batch is over: give a reason for the correction.")})
    _lock_session(session)
    if not _hold_enrollment(enrollment):
        raise ValidationError(
            _("This participant is no longer enrolled in the batch (withdrawn or replaced)."), code="not_enrolled"
        )
    attendance = Attendance.objects.filter(session=session, enrollment=enrollment).first()
    old = attendance.status if attendance else ""
    if attendance and attendance.status == status and attendance.note == note:
        return attendance
    if attendance is None:
        attendance = Attendance(session=session, enrollment=enrollment)
    attendance.status = status
    attendance.note = note
    attendance.method = _method_of(actor)
    attendance.recorded_by = actor
    attendance.recorded_at = now
    attendance.save()
    AttendanceChange.objects.create(
        attendance=attendance,
        old_status=old,
        new_status=status,
        note=note,
        reason=reason,
        method=attendance.method,
        changed_by=actor,
        changed_at=now,
    )
    return attendance


@transaction.atomic
def attendance_mark_all_present(*, actor, session: Session, now=None) -> int:
    """“Semua hadir”: everyone without a status yet is marked present; recorded statuses stay as they are.
    Returns how many were marked."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not attendance_may_record(actor=actor, session=session, now=now):
        raise PermissionDenied
    if reason_required(actor=actor, batch=session.batch, today=today):
        raise ValidationError(_("The batch is over: correct participants one by one, with a reason."))
    from participants.models import Enrollment  # participants builds on trainings

    _lock_session(session)
    # Held until the end, so nobody withdrawn or replaced meanwhile is marked (see Enrollment.objects.locked).
    missing = Enrollment.objects.filter(batch_id=session.batch_id).exclude(attendances__session=session).locked()
    method = _method_of(actor)
    created = Attendance.objects.bulk_create(
        Attendance(
            session=session,
            enrollment=enrollment,
            status=Attendance.Status.PRESENT,
            method=method,
            recorded_by=actor,
            recorded_at=now,
        )
        for enrollment in missing
    )
    AttendanceChange.objects.bulk_create(
        AttendanceChange(
            attendance=attendance,
            new_status=Attendance.Status.PRESENT,
            method=method,
            changed_by=actor,
            changed_at=now,
        )
        for attendance in created
    )
    return len(created)


@transaction.atomic
def session_record_teaching(*, actor, session: Session, facilitators) -> Session:
    """Staff record who actually taught a session; facilitator JP in the workload count these."""
    if not (actor.is_organiser_staff and actor.organiser_id == session.batch.organiser_id):
        raise PermissionDenied
    facilitators = list(facilitators)
    for facilitator in facilitators:
        if facilitator.organiser_id != session.batch.organiser_id:
            raise ValidationError(
                {"facilitators": _("%(name)s is not a facilitator of this organiser.") % {"name": facilitator.name}}
            )
    session.taught_by.set(facilitators)
    session.taught_recorded = True
    session.save(update_fields=["taught_recorded"])
    return session


# ------------------------------------------------------------------------------------------ QR check-in

CHECKIN_STEP_SECONDS = 30
# A participant who opened the check-in page with a valid QR code has this long to type their access code.
CHECKIN_STAMP_SECONDS = 180

CHECKIN_TOKEN = re.compile(r"(\d{1,12})-([0-9a-f]{16})", re.ASCII)
ACCESS_CODE = re.compile(r"[A-Z0-9]{8}", re.ASCII)


def _checkin_signature(session_id: int, step: int) -> str:
    message = f"checkin:{session_id}:{step}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:16]


def checkin_window(session: Session) -> tuple[datetime, datetime]:
    """Check-in opens CHECKIN_OPEN_MINUTES before the start and closes at the end of the session."""
    return session.starts_at - timedelta(minutes=settings.CHECKIN_OPEN_MINUTES), session.ends_at


def checkin_token(session: Session, now=None) -> str:
    """The token the projector shows now; it changes every 30 seconds."""
    now = now or timezone.now()
    step = int(now.timestamp()) // CHECKIN_STEP_SECONDS
    return f"{step}-{_checkin_signature(session.pk, step)}"


def _token_step(session: Session, token) -> int | None:
    """The time step of a well-formed token signed for this session; None for anything else."""
    match = CHECKIN_TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        return None
    step = int(match[1])
    return step if hmac.compare_digest(match[2], _checkin_signature(session.pk, step)) else None


def checkin_token_signature_valid(session: Session, token) -> bool:
    """The token was issued for this session, at whatever time: anything else is a forgery."""
    return _token_step(session, token) is not None


def checkin_token_valid(session: Session, token, now=None) -> bool:
    """A token is valid in its own 30 seconds and the next 30 (time to scan it), and only while check-in is
    open for the session."""
    now = now or timezone.now()
    opens, closes = checkin_window(session)
    if not opens <= now <= closes:
        return False
    step = _token_step(session, token)
    current = int(now.timestamp()) // CHECKIN_STEP_SECONDS
    return step is not None and step in (current, current - 1)


def _stamp_signer(session: Session) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"sinergi.checkin.{session.pk}")


def checkin_stamp(session: Session, token, now=None) -> str:
    """The proof, carried by the check-in form, that its page was opened with a valid QR code: the participant
    then has CHECKIN_STAMP_SECONDS to type their code, however often the projected code changes meanwhile."""
    if checkin_token_valid(session, token, now):
        return _stamp_signer(session).sign(str(session.pk))
    raise ValidationError(
        _("This QR code has expired or is not valid; scan the code on the screen again."), code="expired"
    )


def _unknown_code() -> ValidationError:
    return ValidationError(
        {
            "access_code": ValidationError(
                _("This access code is not enrolled in this batch. Check the code on your card."),
                code="unknown_code",
            )
        }
    )


def _already_recorded() -> ValidationError:
    # The same words whatever the status recorded: the page is public, and the code may be someone else's.
    return ValidationError(_("You are already recorded for this session."), code="already")


@transaction.atomic
def attendance_checkin(*, session: Session, stamp: str, access_code: str, now=None) -> Attendance:
    """A participant checks in with the stamp of the page they opened by the QR code and their personal access
    code. Refusals: code "expired" (stale or forged stamp, check-in closed), an error on access_code with code
    "unknown_code", code "already" (recorded before, by anyone)."""
    from participants.models import Enrollment

    now = now or timezone.now()
    try:
        genuine = _stamp_signer(session).unsign(stamp or "", max_age=CHECKIN_STAMP_SECONDS) == str(session.pk)
    except signing.BadSignature:  # also SignatureExpired
        genuine = False
    if not genuine:
        raise ValidationError(
            _("This check-in page has expired or is not valid; scan the code on the screen again."), code="expired"
        )
    opens, closes = checkin_window(session)
    if not opens <= now <= closes:
        raise ValidationError(_("Check-in for this session is closed."), code="expired")
    code = "".join((access_code or "").split()).upper()
    if not ACCESS_CODE.fullmatch(code):
        raise _unknown_code()
    enrollment = Enrollment.objects.filter(batch_id=session.batch_id, access_code=code).first()
    if enrollment is None:
        raise _unknown_code()
    _lock_session(session)
    # Withdrawn or replaced since the code was read: the code is no longer in the batch, so the same refusal.
    if not _hold_enrollment(enrollment):
        raise _unknown_code()
    if Attendance.objects.filter(session=session, enrollment=enrollment).exists():
        raise _already_recorded()
    late = now > session.starts_at + timedelta(minutes=settings.CHECKIN_LATE_MINUTES)
    status = Attendance.Status.LATE if late else Attendance.Status.PRESENT
    try:
        # A savepoint: should a record appear without holding the session's lock, the refusal stays clean.
        with transaction.atomic():
            attendance = Attendance.objects.create(
                session=session,
                enrollment=enrollment,
                status=status,
                method=Attendance.Method.SELF,
                recorded_at=now,
            )
    except IntegrityError:
        raise _already_recorded() from None
    AttendanceChange.objects.create(
        attendance=attendance, new_status=status, method=Attendance.Method.SELF, changed_at=now
    )
    return attendance
