"""Every write to people, nominations and enrolments. Single nominations, spreadsheet imports and staff
decisions all go through here, so the quota, deadline and duplicate rules hold whichever door is used.

Quotas hold under concurrency: every function that takes or frees a seat locks the batch row first, so
nominations for one batch are decided one transaction after another."""

import functools
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from pillars.models import PillarType, Region
from trainings.models import Batch, QuotaAllocation
from trainings.services import batch_lock

from .models import (
    AssignmentLetter,
    Enrollment,
    Nomination,
    NominationEvent,
    NominationUpload,
    Person,
    PersonMerge,
    new_access_code,
)
from .nik import nik_check
from .privacy import hides_registry_from

# ------------------------------------------------------------------------------------------- person data


@dataclass
class PersonData:
    """What an operator enters about a person, by form or spreadsheet row."""

    nik: str
    full_name: str
    gender: str
    birth_place: str
    birth_date: date
    kabupaten: Region
    pillar_type: PillarType
    kecamatan: Region | None = None
    village: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    pillar_detail: str = ""
    education: str = ""


PERSON_FIELDS = [f.name for f in fields(PersonData)]
# The ages a member of the social-welfare workforce can plausibly have; a year outside is a typing mistake.
MIN_AGE, MAX_AGE = 15, 90


def person_data_errors(data: PersonData, *, known_codes: set[str] | None = None) -> tuple[dict, list]:
    """Field errors ({field: message}) and warnings for one person's data; no query when known_codes is given."""
    errors, warnings = {}, []
    for name in ("full_name", "gender", "birth_place"):
        if not str(getattr(data, name) or "").strip():
            errors[name] = _("This field is required.")
    if data.birth_date is None:
        errors["birth_date"] = _("This field is required.")
    else:
        today = timezone.localdate()
        if not today.year - MAX_AGE <= data.birth_date.year <= today.year - MIN_AGE:
            errors["birth_date"] = _("A participant is between %(min)s and %(max)s years old; check the year.") % {
                "min": MIN_AGE,
                "max": MAX_AGE,
            }
    if data.pillar_type is None:
        errors["pillar_type"] = _("Choose a pillar type.")
    if data.kecamatan is not None and data.kabupaten is not None and data.kecamatan.parent_id != data.kabupaten.pk:
        errors["kecamatan"] = _("Kecamatan %(kecamatan)s is not in %(kabupaten)s.") % {
            "kecamatan": data.kecamatan.name,
            "kabupaten": data.kabupaten.name,
        }
    try:
        check = nik_check(
            data.nik,
            birth_date=data.birth_date if "birth_date" not in errors else None,
            gender=data.gender or None,
            known_codes=known_codes,
        )
    except ValidationError as error:
        target = {"birth_date": "birth_date", "gender": "gender"}.get(error.code, "nik")
        errors.setdefault(target, error.messages[0])
    else:
        data.nik = check.nik
        warnings.extend(check.warnings)
        if data.kabupaten is not None and check.kabupaten_code != data.kabupaten.code:
            warnings.append(
                _("The NIK was issued in another regency/city (%(code)s).") % {"code": check.kabupaten_code}
            )
    return errors, warnings


REGISTRY_RELATED = ("kabupaten", "kecamatan", "pillar_type")
REGISTRY_TEXT = ("full_name", "birth_place", "village", "address", "phone", "email", "pillar_detail")
# Left empty by an operator for someone already in the registry, these keep what the registry knows.
OPTIONAL_FROM_REGISTRY = ("address", "village", "phone", "email", "pillar_detail", "education")


def keep_registry_values(data: PersonData, person: Person, *, kecamatan: Region | None = None) -> None:
    """Fill the empty optional fields of `data` from the person's registry record, so that nominating someone
    again without retyping everything does not erase their phone or address. Their kecamatan is kept only if it
    lies in the nominating kabupaten (pass it as `kecamatan` when already loaded)."""
    for name in OPTIONAL_FROM_REGISTRY:
        if not getattr(data, name):
            setattr(data, name, getattr(person, name))
    if data.kecamatan is None and person.kecamatan_id:
        kecamatan = kecamatan if kecamatan is not None else person.kecamatan
        if data.kabupaten is not None and kecamatan.parent_id == data.kabupaten.pk:
            data.kecamatan = kecamatan


def _registry_values(data: PersonData) -> dict:
    """The registry fields of a person as saving `data` writes them."""
    values = {name: getattr(data, name) for name in PERSON_FIELDS if name != "nik"}
    for name in REGISTRY_TEXT:
        values[name] = (values[name] or "").strip()
    return values


# Where a person is registered: a nomination, even staff's on behalf of another kabupaten, never moves them (that
# would hand their record to that kabupaten's operator); only the registry import corrects it.
HOME_FIELDS = ("kabupaten", "kecamatan")


def person_registry_changes(person: Person, data: PersonData, *, keep_home: bool = False) -> dict:
    """{field: (old, new)} that saving `data` would correct in the person's record. Related records are
    compared by id (the old value is the id), so checking 2,000 rows costs no query. With `keep_home` (every
    nomination), the person's kabupaten and kecamatan stay as they are when `data` names another kabupaten."""
    skip = ()
    if keep_home and person.kabupaten_id != (data.kabupaten.pk if data.kabupaten is not None else None):
        skip = HOME_FIELDS
    changes = {}
    for name, value in _registry_values(data).items():
        if name in skip:
            continue
        if name in REGISTRY_RELATED:
            old = getattr(person, f"{name}_id")
            differs = old != (value.pk if value is not None else None)
        else:
            old = getattr(person, name)
            differs = old != value
        if differs:
            changes[name] = (old, value)
    return changes


class NikTaken(ValidationError):
    """Another transaction registered one of the NIKs being created, after they were read as new."""

    def __init__(self):
        super().__init__(
            _("Someone else registered the same person at the same moment; please try again."), code="nik_taken"
        )


def people_create(people: list[Person]) -> None:
    """The one place new people enter the registry (a nomination, a spreadsheet confirm, the registry import).
    Their NIKs were read as new; should another transaction register one of them meanwhile, the unique NIK
    makes this insert wait for it and then fail. The insert is undone in a savepoint and NikTaken raised, so
    the caller can run again and find that person known (see retried_on_nik_clash)."""
    # In NIK order: two writers inserting the same new NIKs then wait for each other in one order, never in a
    # circle (a deadlock, which no retry would turn into NikTaken).
    people = sorted(people, key=lambda person: person.nik)
    try:
        with transaction.atomic():
            Person.objects.bulk_create(people, batch_size=500)
    except IntegrityError:
        if not Person.objects.filter(nik__in=[person.nik for person in people]).exists():
            raise  # not a NIK clash: a fault, not a race
        raise NikTaken() from None


def retried_on_nik_clash(service):
    """Run an atomic service once more when it lost a race to register a new NIK (NikTaken): its first run is
    rolled back whole, and the second reads that person as known and decides as if it had come second. A
    second loss (yet another new NIK taken meanwhile) reaches the user as NikTaken's message."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        try:
            return service(*args, **kwargs)
        except NikTaken:
            return service(*args, **kwargs)

    return run


def _person_save(*, data: PersonData, existing: Person | None) -> tuple[Person, dict]:
    """Create the person or correct their registry record; returns it and the corrections for the audit
    trail ({field: [old, new]})."""
    values = _registry_values(data)
    if existing is None:
        person = Person(nik=data.nik, **values)
        # The unique NIK is checked by the insert itself, which also catches a NIK registered a moment ago.
        person.full_clean(validate_unique=False)
        people_create([person])
        return person, {}
    changes = person_registry_changes(existing, data, keep_home=True)
    audit = {}
    for name in changes:
        audit[name] = [_audit_value(getattr(existing, name)), _audit_value(values[name])]
        setattr(existing, name, values[name])
    if changes:
        existing.full_clean()
        existing.save()
    return existing, audit


def submitted_values(data: PersonData) -> dict:
    """What a nomination keeps of the person's data as submitted (Nomination.submitted), as JSON."""
    values = {}
    for name in PERSON_FIELDS:
        value = getattr(data, name)
        if name in REGISTRY_RELATED:
            values[name] = value.pk if value is not None else None
        else:
            values[name] = _audit_value(value.strip() if isinstance(value, str) else value)
    return values


# What an operator is told when a NIK of someone registered in another kabupaten cannot be nominated: the
# same words whatever the reason, so that the answer does not tell what the registry knows of them.
NOT_NOMINABLE = _lazy("This NIK cannot be nominated to this batch; please contact the organiser's staff.")


def answers_for(
    actor, person: Person | None, errors: dict, warnings: list, *, own_seat: bool = False
) -> tuple[dict, list]:
    """The errors and warnings of nominating `person` as `actor` may hear them. For an operator and a person
    registered elsewhere (privacy.hides_registry_from), every answer drawn from the registry or its history
    goes: a refusal on the NIK becomes NOT_NOMINABLE and those warnings are dropped, so the operator hears what
    they would hear of a NIK the registry does not know. Quota answers depend on what they typed and stay, and
    so does "already nominated" when the seat is held by the actor's own kabupaten (`own_seat`)."""
    if not hides_registry_from(actor, person):
        return errors, warnings
    if "nik" in errors and not own_seat:
        errors = {**errors, "nik": str(NOT_NOMINABLE)}
    return errors, []


def may_correct_registry(actor, person: Person | None) -> bool:
    """Staff correct any registry record; an operator only the records of their own kabupaten's people, so a
    nomination from elsewhere cannot rewrite someone's data (or move them to another kabupaten)."""
    if person is None or actor.is_organiser_staff:
        return True
    return actor.is_operator and person.kabupaten_id == actor.kabupaten_id


def _audit_value(value):
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------------------------------------ quota


@dataclass
class QuotaState:
    """The seats taken in a batch, per allocation, while a submission is being decided. Built once (two
    queries) and updated in memory, so a spreadsheet of 2,000 rows is checked without a query per row."""

    batch: Batch
    allocations: list
    total: int = 0
    by_region: Counter = field(default_factory=Counter)
    by_pillar: Counter = field(default_factory=Counter)

    @classmethod
    def load(cls, batch: Batch, allocations=None) -> "QuotaState":
        """Pass `allocations` when they are already loaded (with region and pillar_type) to save a query."""
        if allocations is None:
            allocations = batch.allocations.select_related("region", "pillar_type")
        state = cls(batch=batch, allocations=list(allocations))
        active = batch.nominations.filter(status__in=Nomination.ACTIVE)
        for row in active.values("kabupaten_id", "kecamatan_id", "pillar_type_id").annotate(n=Count("pk")):
            state._count(row)
        return state

    @classmethod
    def load_many(cls, batches) -> dict[int, "QuotaState"]:
        """The states of several batches (by batch id) in one query; their allocations must be prefetched
        (with region and pillar_type)."""
        states = {batch.pk: cls(batch=batch, allocations=list(batch.allocations.all())) for batch in batches}
        active = Nomination.objects.filter(batch_id__in=list(states), status__in=Nomination.ACTIVE)
        for row in active.values("batch_id", "kabupaten_id", "kecamatan_id", "pillar_type_id").annotate(n=Count("pk")):
            states[row["batch_id"]]._count(row)
        return states

    def _count(self, row) -> None:
        self.total += row["n"]
        self.by_region[row["kabupaten_id"]] += row["n"]
        if row["kecamatan_id"]:
            self.by_region[row["kecamatan_id"]] += row["n"]
        self.by_pillar[row["pillar_type_id"]] += row["n"]

    def _allocation(self, kind, *, region_id=None, pillar_type_id=None):
        for allocation in self.allocations:
            if allocation.kind == kind and (
                allocation.region_id == region_id if region_id else allocation.pillar_type_id == pillar_type_id
            ):
                return allocation
        return None

    def kabupaten_may_nominate(self, kabupaten: Region) -> bool:
        return QuotaAllocation.open_to_kabupaten(self.allocations, kabupaten.pk)

    def problem(
        self, *, kabupaten: Region, kecamatan: Region | None, pillar_type: PillarType
    ) -> tuple[str, str] | None:
        """(field, message) if one more seat for this person would break a quota, else None."""
        if self.total + 1 > self.batch.quota_total:
            return "nik", _("The batch is full: all %(total)s seats are taken.") % {"total": self.batch.quota_total}
        if not self.kabupaten_may_nominate(kabupaten):
            return "nik", _("%(kabupaten)s has no quota in this batch.") % {"kabupaten": kabupaten.name}
        allocation = self._allocation(QuotaAllocation.Kind.KABUPATEN, region_id=kabupaten.pk)
        if allocation and self.by_region[kabupaten.pk] + 1 > allocation.seats:
            return "nik", _("The quota of %(target)s (%(seats)s seats) is full.") % {
                "target": kabupaten.name,
                "seats": allocation.seats,
            }
        allocation = self._allocation(QuotaAllocation.Kind.PILLAR, pillar_type_id=pillar_type.pk)
        if allocation and self.by_pillar[pillar_type.pk] + 1 > allocation.seats:
            return "pillar_type", _("The quota of %(target)s (%(seats)s seats) is full.") % {
                "target": pillar_type,
                "seats": allocation.seats,
            }
        if kecamatan is None:
            # With quotas per kecamatan, every nominee of that kabupaten must say which kecamatan is theirs.
            if any(
                a.kind == QuotaAllocation.Kind.KECAMATAN and a.region.parent_id == kabupaten.pk
                for a in self.allocations
            ):
                return "kecamatan", _("This batch has quotas per kecamatan: choose the kecamatan.")
        else:
            allocation = self._allocation(QuotaAllocation.Kind.KECAMATAN, region_id=kecamatan.pk)
            if allocation and self.by_region[kecamatan.pk] + 1 > allocation.seats:
                return "kecamatan", _("The quota of kecamatan %(target)s (%(seats)s seats) is full.") % {
                    "target": kecamatan.name,
                    "seats": allocation.seats,
                }
        return None

    def take(self, *, kabupaten, kecamatan, pillar_type, seats: int = 1) -> None:
        self.total += seats
        self.by_region[kabupaten.pk] += seats
        if kecamatan is not None:
            self.by_region[kecamatan.pk] += seats
        self.by_pillar[pillar_type.pk] += seats

    def seats_left(self) -> list[tuple[QuotaAllocation | None, int, int]]:
        """(allocation or None for the total, seats, taken) for every allocation, the total first."""
        rows = [(None, self.batch.quota_total, self.total)]
        for allocation in self.allocations:
            taken = (
                self.by_pillar[allocation.pillar_type_id]
                if allocation.kind == QuotaAllocation.Kind.PILLAR
                else self.by_region[allocation.region_id]
            )
            rows.append((allocation, allocation.seats, taken))
        return rows


# -------------------------------------------------------------------------------------------- context


@dataclass
class NominationContext:
    """What deciding on a set of NIKs for one batch needs to know, loaded in a fixed number of queries."""

    batch: Batch
    quota: QuotaState
    people: dict  # nik -> Person
    active: set  # NIKs holding a seat in this batch
    overlapping: dict  # nik -> name of another batch at overlapping dates where they are enrolled
    completed: set  # NIKs who already completed this program
    rejected: dict = field(default_factory=dict)  # nik -> the staff's reason, for people rejected in this batch
    pending_elsewhere: dict = field(default_factory=dict)  # nik -> another overlapping batch they wait for
    active_by: dict = field(default_factory=dict)  # nik -> the kabupaten whose nomination holds the seat

    def answers_for(self, actor, *, kabupaten: Region, data: PersonData) -> tuple[dict, list]:
        """problems() as `actor` may hear them (see the module function answers_for)."""
        errors, warnings = self.problems(kabupaten=kabupaten, data=data, by_staff=actor.is_organiser_staff)
        # Already nominated by this very kabupaten: they see that nomination in their list anyway.
        own_seat = self.active_by.get(data.nik) == kabupaten.pk
        return answers_for(actor, self.people.get(data.nik), errors, warnings, own_seat=own_seat)

    @classmethod
    def load(cls, batch: Batch, niks) -> "NominationContext":
        niks = set(niks)
        people = {p.nik: p for p in Person.objects.filter(nik__in=niks)}
        active_by = dict(
            batch.nominations.filter(status__in=Nomination.ACTIVE, person__nik__in=niks).values_list(
                "person__nik", "kabupaten_id"
            )
        )
        active = set(active_by)
        others = Enrollment.objects.filter(person__nik__in=niks).exclude(batch=batch).select_related("batch")
        overlapping, completed = {}, set()
        for enrollment in others.only(
            "person__nik", "batch__name", "batch__start_date", "batch__end_date", "batch__program_id", "batch__status"
        ):
            other = enrollment.batch
            nik = enrollment.person.nik
            if other.start_date <= batch.end_date and other.end_date >= batch.start_date:
                overlapping[nik] = other.name
            if other.program_id == batch.program_id and other.status == Batch.Status.FINISHED:
                completed.add(nik)
        rejected = dict(
            batch.nominations.filter(status=Nomination.Status.REJECTED, person__nik__in=niks).values_list(
                "person__nik", "reason"
            )
        )
        pending_elsewhere = dict(
            Nomination.objects.filter(
                person__nik__in=niks,
                status__in=[Nomination.Status.PENDING, Nomination.Status.REPLACEMENT_REQUESTED],
                batch__start_date__lte=batch.end_date,
                batch__end_date__gte=batch.start_date,
            )
            .exclude(batch=batch)
            .values_list("person__nik", "batch__name")
        )
        return cls(
            batch=batch,
            quota=QuotaState.load(batch),
            people=people,
            active=active,
            overlapping=overlapping,
            completed=completed,
            rejected=rejected,
            pending_elsewhere=pending_elsewhere,
            active_by=active_by,
        )

    def problems(self, *, kabupaten: Region, data: PersonData, by_staff: bool = False) -> tuple[dict, list]:
        """Errors ({field: message}) and warnings of nominating this person now; data.nik must be compact.
        Someone the staff rejected for this batch can be nominated again by the staff only."""
        errors, warnings = {}, []
        if data.nik in self.active:
            errors["nik"] = _("This person is already nominated to this batch.")
        elif data.nik in self.rejected and not by_staff:
            errors["nik"] = _("The organiser rejected this person for this batch: %(reason)s") % {
                "reason": self.rejected[data.nik]
            }
        elif data.nik in self.overlapping:
            errors["nik"] = _("This person is enrolled in %(batch)s, at overlapping dates.") % {
                "batch": self.overlapping[data.nik]
            }
        else:
            problem = self.quota.problem(kabupaten=kabupaten, kecamatan=data.kecamatan, pillar_type=data.pillar_type)
            if problem:
                errors[problem[0]] = problem[1]
        if data.nik in self.completed:
            warnings.append(_("This person already completed this program."))
        if data.nik in self.pending_elsewhere:
            warnings.append(
                _("This person is also nominated to %(batch)s, at overlapping dates; only one can be accepted.")
                % {"batch": self.pending_elsewhere[data.nik]}
            )
        return errors, warnings

    def take(self, *, kabupaten: Region, data: PersonData) -> None:
        self.active.add(data.nik)
        self.quota.take(kabupaten=kabupaten, kecamatan=data.kecamatan, pillar_type=data.pillar_type)


# ------------------------------------------------------------------------------------------ who may


def nomination_window_open(*, actor, batch: Batch, today: date | None = None) -> bool:
    """Operators add, withdraw and replace while nomination is open, until the deadline (inclusive);
    the organiser's staff also later, as long as the batch is not finished."""
    today = today or timezone.localdate()
    if actor.is_organiser_staff and batch.organiser_id == actor.organiser_id:
        return batch.status in (Batch.Status.NOMINATION_OPEN, Batch.Status.NOMINATION_CLOSED, Batch.Status.RUNNING)
    if actor.is_operator:
        deadline_ok = batch.nomination_deadline is None or today <= batch.nomination_deadline
        return batch.status == Batch.Status.NOMINATION_OPEN and deadline_ok
    return False


def _check_may_nominate(
    *, actor, batch: Batch, kabupaten: Region, today: date | None, answering_request: bool = False
) -> None:
    """`answering_request`: an operator replacing a nominee the staff asked them to replace may do so after
    the deadline too, as long as the batch has not finished."""
    if actor.is_operator and actor.kabupaten_id != kabupaten.pk:
        raise PermissionDenied
    if not (actor.is_operator or (actor.is_organiser_staff and batch.organiser_id == actor.organiser_id)):
        raise PermissionDenied
    if (
        answering_request
        and actor.is_operator
        and batch.status
        in (
            Batch.Status.NOMINATION_OPEN,
            Batch.Status.NOMINATION_CLOSED,
            Batch.Status.RUNNING,
        )
    ):
        return
    if not nomination_window_open(actor=actor, batch=batch, today=today):
        if batch.status == Batch.Status.NOMINATION_OPEN and actor.is_operator:
            raise ValidationError(_("The nomination deadline has passed; ask the organiser's staff."))
        raise ValidationError(_("This batch is not open for nomination."))


def _event(nomination, action, actor, *, changes=None, note=""):
    return NominationEvent(nomination=nomination, action=action, actor=actor, changes=changes or {}, note=note)


# ------------------------------------------------------------------------------------------- nominate


@retried_on_nik_clash
@transaction.atomic
def nomination_submit(
    *,
    actor,
    batch: Batch,
    kabupaten: Region,
    data: PersonData,
    replaces: Nomination | None = None,
    today: date | None = None,
) -> tuple[Nomination, list]:
    """Nominate one person (creating or correcting their registry record). Returns the nomination and the
    warnings that did not block it."""
    batch = batch_lock(batch)
    if replaces is not None:
        replaces.refresh_from_db(fields=["status"])
    answering = replaces is not None and replaces.status == Nomination.Status.REPLACEMENT_REQUESTED
    _check_may_nominate(actor=actor, batch=batch, kabupaten=kabupaten, today=today, answering_request=answering)
    errors, warnings = person_data_errors(data)
    if errors:
        raise ValidationError(errors)
    if replaces is not None:
        if replaces.person.nik == data.nik:
            raise ValidationError({"nik": _("A nominee cannot be replaced by the same person.")})
        _release_for_replacement(actor=actor, nomination=replaces, batch=batch)
    context = NominationContext.load(batch, [data.nik])
    existing = context.people.get(data.nik)
    correct = may_correct_registry(actor, existing)
    # What was typed, before empty fields are filled from the registry (shown to the nominating operator).
    submitted = submitted_values(data)
    if existing is not None and correct:
        keep_registry_values(data, existing)
    errors, more_warnings = context.answers_for(actor, kabupaten=kabupaten, data=data)
    if errors:
        raise ValidationError(errors)
    if correct:
        person, changes = _person_save(data=data, existing=existing)
    else:
        # Registered by another kabupaten: their record stays; staff see the conflict on the review page.
        person, changes = existing, {}
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=kabupaten,
        pillar_type=data.pillar_type,
        kecamatan=data.kecamatan,
        submitted=submitted,
        replaces=replaces,
        nominated_by=actor,
    )
    events = [_event(nomination, NominationEvent.Action.CREATED, actor)]
    if changes:
        events.append(_event(nomination, NominationEvent.Action.PERSON_CHANGED, actor, changes=changes))
    if replaces is not None:
        events.append(
            _event(
                replaces,
                NominationEvent.Action.REPLACED,
                actor,
                # The name as submitted: the operator reads this note, and may not see the registry's.
                note=_("Replaced by %(name)s.") % {"name": data.full_name.strip()},
            )
        )
    NominationEvent.objects.bulk_create(events)
    return nomination, warnings + more_warnings


def _release_for_replacement(*, actor, nomination: Nomination, batch: Batch) -> None:
    nomination = Nomination.objects.select_for_update().get(pk=nomination.pk)
    if nomination.batch_id != batch.pk:
        raise ValidationError(_("This nomination belongs to another batch."))
    if nomination.status not in Nomination.ACTIVE:
        raise ValidationError(
            _("A nomination with status “%(status)s” cannot be replaced.") % {"status": nomination.get_status_display()}
        )
    _drop_enrollment(nomination)
    nomination.status = Nomination.Status.REPLACED
    nomination.save(update_fields=["status"])


def nomination_replace(*, actor, nomination: Nomination, data: PersonData, today: date | None = None):
    """Put another person in the place of a nominee; both records are kept, linked."""
    return nomination_submit(
        actor=actor,
        batch=nomination.batch,
        kabupaten=nomination.kabupaten,
        data=data,
        replaces=nomination,
        today=today,
    )


def _drop_enrollment(nomination: Nomination) -> None:
    """Withdrawing or replacing an accepted nominee ends their enrolment, unless it already has attendance:
    that is a record, kept whatever happens to the nomination. The enrolment is locked before looking (see
    Enrollment.objects.locked), so attendance being saved at this moment is finished first and seen here."""
    if nomination.status != Nomination.Status.ACCEPTED:
        return
    enrollment = Enrollment.objects.filter(nomination=nomination).locked().first()
    if enrollment is None:
        return
    if enrollment.attendances.exists():
        raise ValidationError(
            _("This participant already has attendance records; they cannot be withdrawn or replaced.")
        )
    enrollment.delete()


@transaction.atomic
def nomination_withdraw(*, actor, nomination: Nomination, reason: str = "", today: date | None = None) -> Nomination:
    batch = batch_lock(nomination.batch)
    nomination = Nomination.objects.select_for_update().get(pk=nomination.pk)
    _check_may_nominate(actor=actor, batch=batch, kabupaten=nomination.kabupaten, today=today)
    if nomination.status not in Nomination.ACTIVE:
        raise ValidationError(
            _("A nomination with status “%(status)s” cannot be withdrawn.")
            % {"status": nomination.get_status_display()}
        )
    _drop_enrollment(nomination)
    nomination.status = Nomination.Status.WITHDRAWN
    nomination.save(update_fields=["status"])
    _event(nomination, NominationEvent.Action.WITHDRAWN, actor, note=reason.strip()).save()
    return nomination


# --------------------------------------------------------------------------------------------- review


class Decision:
    ACCEPT = "accept"
    REJECT = "reject"
    REQUEST_REPLACEMENT = "replace"
    CHOICES = (ACCEPT, REJECT, REQUEST_REPLACEMENT)


def _unique_access_codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        batch_of_codes = {new_access_code() for _ in range(count - len(codes))}
        taken = set(Enrollment.objects.filter(access_code__in=batch_of_codes).values_list("access_code", flat=True))
        codes |= batch_of_codes - taken
    return list(codes)


@transaction.atomic
def nominations_decide(*, actor, batch: Batch, nomination_ids, decision: str, reason: str = "") -> list[Nomination]:
    """Accept, reject (with a reason) or ask for a replacement (with a reason), one or many at once.
    Accepted nominations become enrolments with a personal access code. All or nothing."""
    batch = batch_lock(batch)
    if not (actor.is_organiser_staff and batch.organiser_id == actor.organiser_id):
        raise PermissionDenied
    if batch.status == Batch.Status.FINISHED:
        raise ValidationError(_("This batch is finished; its participants can no longer change."))
    if decision not in Decision.CHOICES:
        raise ValidationError(_("Unknown decision."))
    reason = reason.strip()
    if decision != Decision.ACCEPT and not reason:
        raise ValidationError({"reason": _("Give a reason; the Dinsos operator will see it.")})
    nominations = list(
        batch.nominations.select_for_update(of=("self",))
        .filter(pk__in=list(nomination_ids))
        .select_related("person", "kabupaten")
        .order_by("pk")
    )
    if not nominations:
        raise ValidationError(_("Choose at least one nomination."))
    not_pending = [n for n in nominations if n.status != Nomination.Status.PENDING]
    if not_pending:
        raise ValidationError(
            _("Only nominations waiting for review can be decided; %(name)s is “%(status)s”.")
            % {"name": not_pending[0].person.full_name, "status": not_pending[0].get_status_display()}
        )
    if decision == Decision.ACCEPT:
        clash = (
            Enrollment.objects.filter(
                person_id__in=[n.person_id for n in nominations],
                batch__start_date__lte=batch.end_date,
                batch__end_date__gte=batch.start_date,
            )
            .exclude(batch=batch)
            .select_related("person", "batch")
            .first()
        )
        if clash:
            raise ValidationError(
                _("%(name)s is already enrolled in %(batch)s, at overlapping dates.")
                % {"name": clash.person.full_name, "batch": clash.batch.name}
            )
    if decision == Decision.ACCEPT and batch.requires_assignment_letter:
        with_letter = set(batch.assignment_letters.values_list("kabupaten_id", flat=True))
        missing = sorted({n.kabupaten.name for n in nominations if n.kabupaten_id not in with_letter})
        if missing:
            raise ValidationError(
                _("The assignment letter of %(kabupaten)s is missing; it is required for this batch.")
                % {"kabupaten": ", ".join(missing)}
            )
    now = timezone.now()
    status = {
        Decision.ACCEPT: Nomination.Status.ACCEPTED,
        Decision.REJECT: Nomination.Status.REJECTED,
        Decision.REQUEST_REPLACEMENT: Nomination.Status.REPLACEMENT_REQUESTED,
    }[decision]
    action = {
        Decision.ACCEPT: NominationEvent.Action.ACCEPTED,
        Decision.REJECT: NominationEvent.Action.REJECTED,
        Decision.REQUEST_REPLACEMENT: NominationEvent.Action.REPLACEMENT_REQUESTED,
    }[decision]
    for nomination in nominations:
        nomination.status = status
        nomination.reason = reason
        nomination.decided_by = actor
        nomination.decided_at = now
    Nomination.objects.bulk_update(nominations, ["status", "reason", "decided_by", "decided_at"])
    if decision == Decision.ACCEPT:
        codes = _unique_access_codes(len(nominations))
        Enrollment.objects.bulk_create(
            Enrollment(batch=batch, person=n.person, nomination=n, access_code=code)
            for n, code in zip(nominations, codes, strict=True)
        )
    NominationEvent.objects.bulk_create(_event(n, action, actor, note=reason) for n in nominations)
    return nominations


# ------------------------------------------------------------------------------------- assignment letter

LETTER_MAX_BYTES = 5 * 1024 * 1024
# Recognised by their first bytes, not by the name the file was given: (signature, content type).
LETTER_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def letter_content_type(file) -> str | None:
    """The content type of an uploaded letter judged by its first bytes: PDF, PNG, JPEG, or None."""
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    return next((content_type for signature, content_type in LETTER_SIGNATURES if head.startswith(signature)), None)


@transaction.atomic
def assignment_letter_upload(*, actor, batch: Batch, kabupaten: Region, file, today: date | None = None):
    """Attach a kabupaten's assignment letter to its nominations for a batch (PDF, JPEG or PNG, at most
    5 MB), replacing the letter it sent before. Same window as nominating: operators until the deadline."""
    batch = batch_lock(batch)
    _check_may_nominate(actor=actor, batch=batch, kabupaten=kabupaten, today=today)
    if not file.size:
        raise ValidationError({"file": _("The file is empty.")})
    if file.size > LETTER_MAX_BYTES:
        raise ValidationError(
            {"file": _("The file is %(size).1f MB; at most 5 MB is accepted.") % {"size": file.size / 1024 / 1024}}
        )
    content_type = letter_content_type(file)
    if content_type is None:
        raise ValidationError({"file": _("The letter must be a PDF, JPG or PNG file; this file is none of these.")})
    letter = AssignmentLetter.objects.select_for_update().filter(batch=batch, kabupaten=kabupaten).first()
    previous = letter.file.name if letter else None
    if letter is None:
        letter = AssignmentLetter(batch=batch, kabupaten=kabupaten)
    letter.original_name = (file.name or "letter").rsplit("/", 1)[-1][-200:]
    letter.content_type = content_type
    letter.uploaded_by = actor
    letter.uploaded_at = timezone.now()
    letter.file.save(letter.original_name, file, save=False)
    letter.save()
    if previous:
        storage = letter.file.storage
        transaction.on_commit(lambda: storage.delete(previous))
    return letter


# ------------------------------------------------------------------------------------ spreadsheet upload


def nomination_upload_check(
    *, actor, batch: Batch, kabupaten: Region, file, today: date | None = None
) -> NominationUpload:
    """Read an uploaded spreadsheet (.xlsx or .csv) and check every row as nominating it now would; keep the
    file and the report. Writes no nomination: that waits for nomination_upload_confirm(). A file that is too
    big, too long, not a spreadsheet or without the template's columns is refused (ValidationError on "file")."""
    from .imports import check_rows, check_upload_file, read_spreadsheet  # imports.py builds on this module

    _check_may_nominate(actor=actor, batch=batch, kabupaten=kabupaten, today=today)
    name = (file.name or "peserta.xlsx").replace("\\", "/").rsplit("/", 1)[-1]
    check_upload_file(name=name, size=file.size)
    file.seek(0)
    content = file.read()
    check = check_rows(read_spreadsheet(content, name), batch=batch, kabupaten=kabupaten, actor=actor)
    report = check.report()
    upload = NominationUpload(
        batch=batch,
        kabupaten=kabupaten,
        original_name=name[-200:],
        report=report,
        rows_total=report["rows_total"],
        rows_valid=report["rows_valid"],
        uploaded_by=actor,
    )
    upload.file.save(name, ContentFile(content), save=False)
    upload.save()
    return upload


def _check_upload_open(upload: NominationUpload) -> None:
    if upload.status == NominationUpload.Status.CONFIRMED:
        raise ValidationError(_("This file was imported already."), code="confirmed")
    if upload.status == NominationUpload.Status.DISCARDED:
        raise ValidationError(_("This file was discarded; upload it again."), code="discarded")


@retried_on_nik_clash
@transaction.atomic
def nomination_upload_confirm(*, actor, upload: NominationUpload, today: date | None = None) -> NominationUpload:
    """Nominate the rows of a checked upload that the preview showed as valid and that are still valid now:
    they are checked again under the batch lock, counting quotas in file order. People new to the registry
    are created, known people corrected (a PERSON_CHANGED event keeps old and new). All in one transaction;
    an upload is imported once."""
    from .imports import check_rows, read_spreadsheet  # imports.py builds on this module

    batch = batch_lock(upload.batch)
    # Only the upload's row: locking its kabupaten's row too would hold up every write that refers to the region.
    upload = NominationUpload.objects.select_for_update(of=("self",)).select_related("kabupaten").get(pk=upload.pk)
    _check_may_nominate(actor=actor, batch=batch, kabupaten=upload.kabupaten, today=today)
    _check_upload_open(upload)
    previewed = {row["row"] for row in upload.report.get("valid", [])}
    if not previewed:
        raise ValidationError(_("This file has no valid rows to import."), code="empty")
    with upload.file.open("rb") as stored:
        content = stored.read()
    rows = read_spreadsheet(content, upload.original_name)
    check = check_rows(rows, batch=batch, kabupaten=upload.kabupaten, actor=actor, only=previewed)
    valid = check.valid

    new_people, corrected, changes_by_nik = [], [], {}
    for row in valid:
        values = _registry_values(row.data)
        person = check.context.people.get(row.data.nik)
        if person is None:
            person = Person(nik=row.data.nik, **values)
            new_people.append(person)
        else:
            correct = may_correct_registry(actor, person)
            changes = person_registry_changes(person, row.data, keep_home=True) if correct else {}
            if not changes:
                continue
            for name in changes:
                setattr(person, name, values[name])
            corrected.append(person)
            changes_by_nik[person.nik] = changes
        # The related records come from the check's own lists; validating them would cost a query each.
        person.clean_fields(exclude=REGISTRY_RELATED)
    people_create(new_people)
    if corrected:
        now = timezone.now()
        for person in corrected:
            person.updated_at = now
        registry_fields = [name for name in PERSON_FIELDS if name != "nik"]
        Person.objects.bulk_update(corrected, [*registry_fields, "updated_at"], batch_size=500)
    person_ids = dict(Person.objects.filter(nik__in=[row.data.nik for row in valid]).values_list("nik", "pk"))
    Nomination.objects.bulk_create(
        (
            Nomination(
                batch=batch,
                person_id=person_ids[row.data.nik],
                kabupaten=upload.kabupaten,
                pillar_type=row.data.pillar_type,
                kecamatan=row.data.kecamatan,
                submitted=row.submitted,
                upload=upload,
                nominated_by=actor,
            )
            for row in valid
        ),
        batch_size=500,
    )
    nomination_ids = dict(upload.nominations.values_list("person_id", "pk"))
    old_region_ids = {
        old
        for changes in changes_by_nik.values()
        for name, (old, _new) in changes.items()
        if name in ("kabupaten", "kecamatan") and old is not None
    }
    old_regions = Region.objects.in_bulk(old_region_ids) if old_region_ids else {}

    def audit(name, old, new):
        if name in ("kabupaten", "kecamatan"):
            old = old_regions.get(old)
        elif name == "pillar_type":
            old = check.references.pillars_by_id.get(old)
        return [_audit_value(old), _audit_value(new)]

    events = []
    for row in valid:
        nomination_id = nomination_ids[person_ids[row.data.nik]]
        note = _("From the spreadsheet “%(file)s”, row %(row)s.") % {"file": upload.original_name, "row": row.number}
        events.append(
            NominationEvent(nomination_id=nomination_id, action=NominationEvent.Action.CREATED, actor=actor, note=note)
        )
        changes = changes_by_nik.get(row.data.nik)
        if changes:
            events.append(
                NominationEvent(
                    nomination_id=nomination_id,
                    action=NominationEvent.Action.PERSON_CHANGED,
                    actor=actor,
                    changes={name: audit(name, old, new) for name, (old, new) in changes.items()},
                )
            )
    NominationEvent.objects.bulk_create(events, batch_size=1000)

    upload.status = NominationUpload.Status.CONFIRMED
    upload.rows_imported = len(valid)
    upload.confirmed_at = timezone.now()
    # The rows the preview showed as valid that were refused now (seats taken meanwhile, …).
    upload.report = {**upload.report, "refused_on_confirm": check.report()["problems"]}
    upload.save(update_fields=["status", "rows_imported", "confirmed_at", "report"])
    return upload


@transaction.atomic
def nomination_upload_discard(*, actor, upload: NominationUpload) -> NominationUpload:
    """Drop a checked upload that will not be imported; its file (personal data of people never nominated)
    is deleted, the report kept."""
    upload = NominationUpload.objects.select_for_update().select_related("batch").get(pk=upload.pk)
    staff = actor.is_organiser_staff and upload.batch.organiser_id == actor.organiser_id
    if not (staff or (actor.is_operator and actor.kabupaten_id == upload.kabupaten_id)):
        raise PermissionDenied
    _check_upload_open(upload)
    stored = upload.file.name
    upload.status = NominationUpload.Status.DISCARDED
    upload.file = ""
    upload.save(update_fields=["status", "file"])
    if stored:
        storage = upload.file.storage
        transaction.on_commit(lambda: storage.delete(stored))
    return upload


# ---------------------------------------------------------------------------------------------- merge

# The registry fields staff may take from the duplicate when merging two records of one person: all of them.
MERGE_FIELDS = tuple(PERSON_FIELDS)


def _merge_conflicts(keep: Person, duplicate: Person) -> list[str]:
    """The names of the batches in which both records hold an active nomination or an enrolment."""
    active = Nomination.ACTIVE
    both = set(Nomination.objects.filter(person=keep, status__in=active).values_list("batch_id", flat=True)) & set(
        Nomination.objects.filter(person=duplicate, status__in=active).values_list("batch_id", flat=True)
    )
    both |= set(Enrollment.objects.filter(person=keep).values_list("batch_id", flat=True)) & set(
        Enrollment.objects.filter(person=duplicate).values_list("batch_id", flat=True)
    )
    return sorted(Batch.objects.filter(pk__in=both).values_list("name", flat=True))


@transaction.atomic
def person_merge(*, actor, keep: Person, duplicate: Person, take_from_duplicate=()) -> Person:
    """Merge a duplicate registry record (the same person, registered again with a mistyped NIK) into `keep`:
    the duplicate's nominations and enrolments (with their attendance and certificates) move to the kept
    person, each moved nomination gets a "merged" event, a PersonMerge row records it (the duplicate's NIK
    masked only), and the duplicate is deleted. The kept record keeps its own values except the fields named in
    `take_from_duplicate` (of MERGE_FIELDS), which take the duplicate's.

    Only an organiser's staff, for two people both nominated to their organiser's batches. Refused when both
    hold an active nomination or an enrolment in the same batch: one of those must be withdrawn first."""
    from .selectors import people_visible_to  # selectors read the models; services are imported by them

    if not (actor.is_authenticated and actor.is_organiser_staff):
        raise PermissionDenied
    if keep.pk == duplicate.pk:
        raise ValidationError(_("Choose another record to merge with: this is the same one."))
    unknown = set(take_from_duplicate) - set(MERGE_FIELDS)
    if unknown:
        raise ValidationError(_("These fields cannot be merged: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    # Both rows locked in pk order, so two merges of the same pair wait for each other instead of deadlocking.
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[keep.pk, duplicate.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ValidationError(_("One of the two records no longer exists; it may have been merged already."))
    keep, duplicate = locked[keep.pk], locked[duplicate.pk]
    if people_visible_to(actor).filter(pk__in=[keep.pk, duplicate.pk]).count() != 2:
        raise PermissionDenied
    conflicts = _merge_conflicts(keep, duplicate)
    if conflicts:
        raise ValidationError(
            _("Both records take part in %(batches)s: withdraw one of the two nominations there before merging.")
            % {"batches": ", ".join(conflicts)}
        )

    moved = list(Nomination.objects.select_for_update().filter(person=duplicate).order_by("pk"))
    enrollments_moved = Enrollment.objects.filter(person=duplicate).update(person=keep)
    Nomination.objects.filter(pk__in=[n.pk for n in moved]).update(person=keep)
    note = _("Moved from the duplicate record %(nik)s (%(name)s).") % {
        "nik": duplicate.masked_nik,
        "name": duplicate.full_name,
    }
    NominationEvent.objects.bulk_create(_event(n, NominationEvent.Action.MERGED, actor, note=note) for n in moved)
    # The records merged into the duplicate earlier now belong to the kept person.
    PersonMerge.objects.filter(person=duplicate).update(person=keep)
    taken = [name for name in MERGE_FIELDS if name in set(take_from_duplicate)]
    PersonMerge.objects.create(
        person=keep,
        duplicate_masked_nik=duplicate.masked_nik,
        duplicate_full_name=duplicate.full_name,
        fields_from_duplicate=taken,
        nominations_moved=len(moved),
        enrollments_moved=enrollments_moved,
        merged_by=actor,
    )
    values = {name: getattr(duplicate, name) for name in taken}
    duplicate.delete()  # before saving its NIK on the kept record, which must stay unique
    if values:
        for name, value in values.items():
            setattr(keep, name, value)
        if keep.kecamatan is not None and keep.kecamatan.parent_id != keep.kabupaten_id:
            raise ValidationError(
                _("Kecamatan %(kecamatan)s is not in %(kabupaten)s.")
                % {"kecamatan": keep.kecamatan.name, "kabupaten": keep.kabupaten.name}
            )
        keep.full_clean()
        keep.save()
    return keep
