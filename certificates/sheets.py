"""Attendance sheets (daftar hadir) as PDF, A4 portrait: one sheet per session and one per day of a batch.

A sheet is named by a key: "session-<pk>" or "day-<YYYY-MM-DD>". `sheet_keys()` lists the keys of a batch,
`attendance_sheets()` gathers the data of the sheets asked for in a fixed number of queries, and
`render_attendance_sheet()` turns one sheet into a PDF. The sheets carry the participants' names, regency/city
and pillar only: never a NIK, birth date, phone or address.

Documents are always in the site's language (Indonesian), whatever language the person asking for them uses, so
the texts of a sheet are built, and its template rendered, under `settings.LANGUAGE_CODE`."""

import re
from collections import Counter
from datetime import date

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from participants.models import Enrollment
from trainings.models import Attendance, Batch, BatchVenue, Session

from .formatting import day_and_date, format_nip, long_date
from .rendering import file_data_uri, html_to_pdf

TEMPLATE = "certificates/pdf/attendance_sheet.html"
SESSION_KEY = re.compile(r"^session-(\d{1,18})$")
DAY_KEY = re.compile(r"^day-(\d{4}-\d{2}-\d{2})$")
BLANK_COUNT = "....."  # a count still to be written in by hand
# The statuses counted in the footer, as on paper forms: sakit, izin, alpa.
COUNTED = {"sick": Attendance.Status.SICK, "excused": Attendance.Status.EXCUSED, "absent": Attendance.Status.ABSENT}
TIMETABLE_ORDER = ("date", "start_time", "pk")
TITLE_LENGTH = 250  # what a stored document's title holds (DocumentFile.title)


def day_key(day: date) -> str:
    return f"day-{day.isoformat()}"


def sheet_keys(*, batch: Batch) -> list[str]:
    """Every sheet of the batch: one per session in timetable order, then one per day that has sessions. One query."""
    rows = list(Session.objects.filter(batch=batch).order_by(*TIMETABLE_ORDER).values_list("pk", "date"))
    days = sorted({day for _pk, day in rows})
    return [f"session-{pk}" for pk, _day in rows] + [day_key(day) for day in days]


def _parse_keys(keys) -> list[tuple[str, object]]:
    """("session", pk) and ("day", date) in the order given, without repeats; what is not a key is dropped."""
    parsed = []
    for key in keys:
        if not isinstance(key, str):
            continue
        if match := SESSION_KEY.match(key):
            item = ("session", int(match[1]))
        elif match := DAY_KEY.match(key):
            try:
                item = ("day", date.fromisoformat(match[1]))
            except ValueError:
                continue
        else:
            continue
        if item not in parsed:
            parsed.append(item)
    return parsed


def _facilitators(session: Session) -> list[dict]:
    """Who taught, once recorded; until then who is scheduled. From the prefetched rows."""
    people = session.taught_by.all() if session.taught_recorded else session.facilitators.all()
    return [{"name": person.name, "nip": format_nip(person.nip) if person.nip else ""} for person in people]


def _counts(statuses) -> dict[str, int]:
    statuses = list(statuses)
    return {name: statuses.count(status) for name, status in COUNTED.items()}


def _remarks(counts: dict | None) -> str:
    """The footer line: "Keterangan: Sakit 2 org, Izin 1 org, Alpa 0 org", dots while the counts are not known."""
    values = counts or dict.fromkeys(COUNTED, BLANK_COUNT)
    return gettext("Remarks: sick %(sick)s people, excused %(excused)s people, absent %(absent)s people") % values


def _legend() -> str:
    """H = Hadir, T = Terlambat, … from the statuses' own labels."""
    return ", ".join(f"{Attendance.LETTERS[value]} = {label}" for value, label in Attendance.Status.choices)


def _filename(session: Session | None, day: date, clash: bool = False) -> str:
    if session is None:
        return f"daftar-hadir-{day.isoformat()}.pdf"
    suffix = f"-{session.pk}" if clash else ""
    return f"daftar-hadir-{day.isoformat()}-{session.start_time:%H%M}{suffix}.pdf"


def attendance_sheets(*, batch: Batch, keys, now=None) -> list[dict]:
    """The data of the sheets named by `keys` (see `sheet_keys`), in that order; unknown keys are ignored.

    Seven queries whatever the number of participants, sessions and keys: the batch with its organiser and
    program, the sessions with their materi, their scheduled and their recorded facilitators, the venues per
    day, the participants, and all attendance of the batch. A session counts as held once it has ended
    (`now`, by default the current time) or once attendance was recorded for it; held sessions show the
    recorded status of each participant and the footer counts."""
    wanted = _parse_keys(keys)
    if not wanted:
        return []
    now = now or timezone.now()
    batch = Batch.objects.select_related("organiser", "program").get(pk=batch.pk)
    sessions = list(
        Session.objects.filter(batch=batch)
        .select_related("module")
        .prefetch_related("facilitators", "taught_by")
        .order_by(*TIMETABLE_ORDER)
    )
    day_venues = dict(BatchVenue.objects.filter(batch=batch).values_list("date", "venue"))
    # Only what the sheet prints: no NIK, birth date, phone or address is even read.
    enrollments = list(
        Enrollment.objects.filter(batch=batch)
        .order_by("person__full_name", "pk")
        .values_list(
            "pk",
            "person__full_name",
            "nomination__kabupaten__name",
            "nomination__pillar_type__abbreviation",
            "nomination__pillar_type__name",
        )
    )
    status = {
        (session_id, enrollment_id): value
        for session_id, enrollment_id, value in Attendance.objects.filter(session__batch=batch).values_list(
            "session_id", "enrollment_id", "status"
        )
    }
    recorded_sessions = {session_id for session_id, _enrollment_id in status}

    organiser = batch.organiser
    with translation.override(settings.LANGUAGE_CODE):
        common = {
            "organiser": {
                "name": organiser.name,
                "address": organiser.address,
                "city": organiser.city,
                "logo": file_data_uri(organiser.logo),
            },
            "program_title": batch.program.title,
            "batch_name": batch.name,
            "legend": _legend(),
        }
        participants = [
            {"pk": pk, "number": number, "name": name, "origin": origin, "pillar": abbreviation or pillar_name}
            for number, (pk, name, origin, abbreviation, pillar_name) in enumerate(enrollments, start=1)
        ]
        starts = Counter((s.date, s.start_time) for s in sessions)  # parallel classes need distinct filenames
        by_pk = {}
        by_day = {}
        for session in sessions:
            entry = {
                "pk": session.pk,
                "date": session.date,
                "start": f"{session.start_time:%H.%M}",
                "time_range": session.time_range,
                "title": session.display_title,
                "venue": session.venue or day_venues.get(session.date) or batch.venue,
                "facilitators": _facilitators(session),
                "held": session.pk in recorded_sessions or session.ends_at <= now,
                "filename": _filename(session, session.date, clash=starts[session.date, session.start_time] > 1),
            }
            by_pk[session.pk] = entry
            by_day.setdefault(session.date, []).append(entry)

        sheets = []
        for kind, value in wanted:
            if kind == "session":
                entry = by_pk.get(value)
                if entry is None:
                    continue
                day, day_sessions = entry["date"], [entry]
                title = gettext("Attendance sheet · %(date)s · %(time)s · %(materi)s") % {
                    "date": day_and_date(day),
                    "time": entry["time_range"],
                    "materi": entry["title"],
                }
                key, filename = f"session-{entry['pk']}", entry["filename"]
                page_label = f"{batch.name} · {day_and_date(day)} · {entry['time_range']}"
            else:
                day, day_sessions = value, by_day.get(value)
                if not day_sessions:
                    continue
                title = gettext("Attendance sheet · %(date)s") % {"date": day_and_date(day)}
                key, filename = day_key(day), _filename(None, day)
                page_label = f"{batch.name} · {day_and_date(day)}"
            if len(title) > TITLE_LENGTH:
                title = title[: TITLE_LENGTH - 1] + "…"
            held = [entry for entry in day_sessions if entry["held"]]
            counts = (
                _counts(status.get((entry["pk"], p["pk"])) for entry in held for p in participants) if held else None
            )
            venues = list(dict.fromkeys(entry["venue"] for entry in day_sessions))
            sheets.append(
                {
                    **common,
                    "key": key,
                    "kind": kind,
                    "title": title,
                    "filename": filename,
                    "page_label": page_label,
                    "date": day,
                    "day_text": day_and_date(day),
                    "place_and_date": f"{organiser.city}, {long_date(day)}",
                    "venue": "; ".join(venues),
                    "sessions": day_sessions,
                    "session": day_sessions[0] if kind == "session" else None,
                    "held_sessions": held,
                    "rows": [
                        {
                            **p,
                            "odd": p["number"] % 2 == 1,
                            "marks": [Attendance.LETTERS.get(status.get((entry["pk"], p["pk"])), "") for entry in held],
                        }
                        for p in participants
                    ],
                    "counts": counts,
                    "remarks": _remarks(counts),
                }
            )
    return sheets


def _css_string(text: str) -> str:
    """`text` as a CSS string literal, safe inside a <style> element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return f'"{escaped}"'


def _css_page_counter(text: str) -> str:
    """ "Halaman %(page)s dari %(pages)s" as CSS content with the page counters in place."""
    parts = []
    for part in re.split(r"(%\(pages?\)s)", text):
        if part == "%(page)s":
            parts.append("counter(page)")
        elif part == "%(pages)s":
            parts.append("counter(pages)")
        elif part:
            parts.append(_css_string(part))
    return " ".join(parts)


def attendance_sheet_html(sheet: dict) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "sheet": sheet,
            "page_left": _css_string(sheet["page_label"]),
            "page_right": _css_page_counter(gettext("Page %(page)s of %(pages)s")),
        }
        return render_to_string(TEMPLATE, context)


def render_attendance_sheet(sheet: dict) -> bytes:
    """One sheet from `attendance_sheets()` as a PDF."""
    return html_to_pdf(attendance_sheet_html(sheet))
