"""What of a person's registry record an operator sees: the one home of this rule.

A Dinsos operator sees the registry's values of a person (name, NIK, gender, place and date of birth, address,
phone, e-mail, training history, certificates) only when the person is registered in the operator's own
kabupaten. Of a person registered elsewhere whom their kabupaten nominated, they see only what they typed into
that nomination (kept in `Nomination.submitted`), with the NIK masked and no birth data; and no answer they get
(form prefill, NIK search, messages, errors, spreadsheet reports) differs between a NIK the registry does not
know and a NIK of someone registered elsewhere, with two exceptions that the rules of a batch force (see the
README): a NIK that already holds a seat cannot be nominated again, and a new NIK becomes a person of the
operator's kabupaten. Staff of the organiser see the registry and the conflict.

Used by selectors.people_visible_to, rules.is_person_operator, the services' and imports' answers to an
operator, every participants page, export and message that shows a nominee, and certificates_visible_to."""

from datetime import date

from django.db.models import Q
from django.utils.translation import gettext as _

from .models import Nomination, Person
from .nik import mask_nik

# What an operator typed that is shown back to them for a person registered elsewhere. The birth date and gender
# they typed agree with the NIK they typed (the NIK check sees to it), so showing them back tells them nothing new.
SHOWN_AS_SUBMITTED = (
    "full_name",
    "gender",
    "birth_place",
    "address",
    "village",
    "phone",
    "email",
    "pillar_detail",
    "education",
)


def registry_scope(user, prefix: str = "") -> Q:
    """The people whose registry record an operator sees, as a filter (`prefix`: the path to the person, e.g.
    "enrollment__person__"). Only for operators."""
    return Q(**{f"{prefix}kabupaten_id": user.kabupaten_id})


def sees_registry_record(user, person: Person) -> bool:
    """Whether an operator sees the person's registry record (their own kabupaten's people). Staff and
    other roles are answered by rules.py; this is the operator's side."""
    return bool(user.is_authenticated and user.is_operator and person.kabupaten_id == user.kabupaten_id)


def hides_registry_from(user, person: Person | None) -> bool:
    """Whether answers to this user must not depend on the registry record of `person` (an existing person
    outside an operator's kabupaten): they are then given as for a NIK the registry does not know."""
    return person is not None and user.is_authenticated and user.is_operator and not sees_registry_record(user, person)


def person_as_submitted(nomination: Nomination) -> Person:
    """An unsaved stand-in for the nomination's person built from what the nominating operator typed, with
    the NIK masked; it refuses to be saved (see Person.save)."""
    submitted = nomination.submitted or {}
    birth_date = submitted.get("birth_date")
    shown = Person(
        pk=nomination.person_id,
        # The NIK is the operator's own input (an older nomination kept no copy of it, but was made with it).
        nik=mask_nik(submitted.get("nik") or nomination.person.nik),
        birth_date=date.fromisoformat(birth_date) if birth_date else None,
        pillar_type_id=nomination.pillar_type_id,
        kabupaten_id=nomination.kabupaten_id,
        kecamatan_id=nomination.kecamatan_id,
        **{name: submitted.get(name) or "" for name in SHOWN_AS_SUBMITTED},
    )
    if not shown.full_name:
        shown.full_name = _("(name not recorded)")
    if "pillar_type" in nomination._state.fields_cache:
        shown.pillar_type = nomination.pillar_type
    if nomination.kecamatan_id and "kecamatan" in nomination._state.fields_cache:
        shown.kecamatan = nomination.kecamatan
    if "kabupaten" in nomination._state.fields_cache:
        shown.kabupaten = nomination.kabupaten
    shown.shielded = True
    return shown


def shows_as_submitted(user, nomination: Nomination) -> bool:
    """Whether a nomination's own page shows this user what was typed into it rather than the registry record:
    for an operator, whenever the nomination kept what was typed, so that the page reads the same whether the
    NIK was new, of their own kabupaten or registered elsewhere; and for a person registered elsewhere always
    (an older nomination that kept nothing shows no name)."""
    if not (user.is_authenticated and user.is_operator):
        return False
    return bool(nomination.submitted) or hides_registry_from(user, nomination.person)


def shield(user, nomination: Nomination | None) -> Nomination | None:
    """Replace, for an operator, the loaded person of a nomination registered outside their kabupaten by what
    they typed (in place; returns the nomination)."""
    if nomination is not None and hides_registry_from(user, nomination.person):
        nomination.person = person_as_submitted(nomination)
    return nomination


def shield_enrollments(user, enrollments):
    """The same for enrolments (their person and their nomination's); returns them."""
    for enrollment in enrollments:
        if hides_registry_from(user, enrollment.person):
            enrollment.person = person_as_submitted(enrollment.nomination)
            enrollment.nomination.person = enrollment.person
    return enrollments


def shown_name(user, nomination: Nomination) -> str:
    """The name of a nominee as a message to this user may give it."""
    return shield(user, nomination).person.full_name
