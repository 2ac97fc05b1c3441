"""The batch report (laporan penyelenggaraan) as a PDF, A4 portrait: the batch's facts, its participants by
pillar and by regency/city, the timetable, the attendance recap, the pass rate, the certificates, and room for
the committee's notes, signatures and the head of the organiser's approval.

`batch_report()` gathers the data in a fixed number of queries; `render_batch_report()` turns it into a PDF. The
attendance figures come from `trainings.selectors.attendance_matrix`, so they are exactly the recap's. The report
carries names, regency/city, pillar and gender only: never a NIK, birth date, phone or address (those are not even
read). Like every document, it is written in the site's language (Indonesian), whoever asks for it."""

from collections import Counter

from django.conf import settings
from django.db.models import Count, Prefetch, Q, prefetch_related_objects
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from participants.models import Enrollment, Person
from trainings.models import Batch, BatchVenue, Facilitator, QuotaAllocation
from trainings.selectors import attendance_matrix

from .formatting import date_span, day_and_date, format_nip, long_date
from .models import Certificate
from .rendering import file_data_uri, html_to_pdf
from .sheets import _css_page_counter, _css_string

TEMPLATE = "certificates/pdf/batch_report.html"
REPORT_KEY = "report"  # the one DocumentFile of a report job
# Personal data the report never prints, so it is not loaded either.
PRIVATE_FIELDS = ("nik", "birth_place", "birth_date", "address", "village", "phone", "email")


def _number(value, digits: int = 1) -> str:
    """83,3 / 100,0: a percentage as Indonesian documents write it, with one decimal and a decimal comma."""
    return floatformat(value, digits)


def _gender_counts(groups: dict, key, gender: str) -> None:
    groups.setdefault(key, Counter())[gender] += 1


def _count_rows(groups: dict, labels: dict, order) -> tuple[list[dict], dict]:
    """One row per group in `order` with men, women and all; and the totals."""
    rows = []
    for number, key in enumerate(order, start=1):
        counts = groups[key]
        rows.append(
            {
                "number": number,
                "label": labels[key],
                "male": counts[Person.Gender.MALE],
                "female": counts[Person.Gender.FEMALE],
                "total": sum(counts.values()),
            }
        )
    totals = {name: sum(row[name] for row in rows) for name in ("male", "female", "total")}
    return rows, totals


def _facilitator_names(session) -> list[str]:
    """Who taught, once recorded; until then who is scheduled. From the prefetched rows."""
    people = session.taught_by.all() if session.taught_recorded else session.facilitators.all()
    return [person.name for person in people]


def _venues(batch: Batch, sessions, day_venues: dict) -> list[dict]:
    """Where the batch took place: one line if every day was at the same venue, else one line per day."""
    by_day = {}
    for session in sessions:
        venue = session.venue or day_venues.get(session.date) or batch.venue
        by_day.setdefault(session.date, []).append(venue)
    lines = []
    for day in batch.days:
        venues = by_day.get(day) or [day_venues.get(day) or batch.venue]
        lines.append({"day": day, "day_text": day_and_date(day), "venue": "; ".join(dict.fromkeys(venues))})
    if len({line["venue"] for line in lines}) <= 1:
        return [{"day": None, "day_text": "", "venue": lines[0]["venue"] if lines else batch.venue}]
    return lines


def batch_report(*, batch: Batch, today=None) -> dict:
    """The data of the batch's report. Nine queries whatever the size of the batch: the batch with its
    organiser and program, the venues per day, the regional quotas, the sessions with their materi (through
    the attendance recap), their scheduled and their recorded facilitators, the participants, all attendance,
    and the certificates' counts."""
    batch = Batch.objects.select_related("organiser", "program").get(pk=batch.pk)
    day_venues = dict(BatchVenue.objects.filter(batch=batch).values_list("date", "venue"))
    allocations = list(
        QuotaAllocation.objects.filter(
            batch=batch, kind__in=[QuotaAllocation.Kind.KABUPATEN, QuotaAllocation.Kind.KECAMATAN]
        ).select_related("region__parent")
    )
    enrollments = (
        Enrollment.objects.filter(batch=batch)
        .select_related("nomination__pillar_type")
        .defer(*(f"person__{name}" for name in PRIVATE_FIELDS))
    )
    matrix = attendance_matrix(batch=batch, enrollments=enrollments)
    facilitators = Facilitator.objects.only("pk", "name").order_by("name", "pk")
    prefetch_related_objects(
        matrix.sessions,
        Prefetch("facilitators", queryset=facilitators),
        Prefetch("taught_by", queryset=facilitators),
    )
    certificates = Certificate.objects.filter(enrollment__batch=batch).aggregate(
        valid=Count("pk", filter=Q(revoked_at__isnull=True)), revoked=Count("pk", filter=Q(revoked_at__isnull=False))
    )

    organiser = batch.organiser
    today = today or timezone.localdate()
    with translation.override(settings.LANGUAGE_CODE):
        # Partner regencies/cities: those with a quota (a kecamatan quota counts for its kabupaten), and those the
        # participants came from.
        regions = {}
        for allocation in allocations:
            region = allocation.region
            if allocation.kind == QuotaAllocation.Kind.KECAMATAN:
                region = region.parent
            if region is not None:
                regions[region.pk] = region
        by_pillar, pillar_labels, pillar_order = {}, {}, {}
        by_region, region_labels = {}, {}
        participants = []
        for number, row in enumerate(matrix.rows, start=1):
            enrollment = row.enrollment
            person, nomination = enrollment.person, enrollment.nomination
            kabupaten, pillar_type = nomination.kabupaten, nomination.pillar_type
            regions[kabupaten.pk] = kabupaten
            _gender_counts(by_pillar, pillar_type.pk, person.gender)
            _gender_counts(by_region, kabupaten.pk, person.gender)
            pillar_labels[pillar_type.pk] = pillar_type.name
            pillar_order[pillar_type.pk] = (pillar_type.sort_order, pillar_type.name)
            region_labels[kabupaten.pk] = kabupaten.name
            participants.append(
                {
                    "number": number,
                    "name": person.full_name,
                    "origin": kabupaten.name,
                    "pillar": pillar_type.abbreviation or pillar_type.name,
                    "gender": person.gender,
                    "jp_attended": row.jp_attended,
                    "percent": row.percent,
                    "percent_text": _number(row.percent),
                    "eligible": row.eligible,
                }
            )
        pillar_rows, pillar_totals = _count_rows(
            by_pillar, pillar_labels, sorted(by_pillar, key=lambda pk: pillar_order[pk])
        )
        region_rows, region_totals = _count_rows(
            by_region, region_labels, sorted(by_region, key=lambda pk: regions[pk].code)
        )

        timetable = []
        previous_day = None
        for number, session in enumerate(matrix.sessions, start=1):
            timetable.append(
                {
                    "number": number,
                    "date": session.date,
                    "day_text": long_date(session.date) if session.date != previous_day else "",
                    "time_range": session.time_range,
                    "title": session.display_title,
                    "facilitators": _facilitator_names(session),
                    "jp": session.jp,
                }
            )
            previous_day = session.date

        count = len(participants)
        passed = sum(1 for p in participants if p["eligible"])
        scheduled = matrix.jp_scheduled
        attended_total = sum(p["jp_attended"] for p in participants)
        average = round(attended_total * 100 / (scheduled * count), 1) if scheduled and count else 0.0
        pass_percent = round(passed * 100 / count, 1) if count else 0.0
        head_title = organiser.head_title or gettext("Head of %(organiser)s") % {"organiser": organiser.name}
        return {
            "key": REPORT_KEY,
            "title": gettext("Batch report · %(batch)s") % {"batch": batch.name},
            "filename": f"laporan-angkatan-{batch.pk}.pdf",
            "page_label": f"{batch.name} · {batch.program.title}",
            "organiser": {
                "name": organiser.name,
                "address": organiser.address,
                "city": organiser.city,
                "logo": file_data_uri(organiser.logo),
                "head_title": head_title,
                "head_name": organiser.head_name,
                "head_nip": format_nip(organiser.head_nip) if organiser.head_nip else "",
            },
            "program_title": batch.program.title,
            "batch_name": batch.name,
            "dates": date_span(batch.start_date, batch.end_date),
            "days": len(batch.days),
            "venues": _venues(batch, matrix.sessions, day_venues),
            "partners": [regions[pk].name for pk in sorted(regions, key=lambda pk: regions[pk].code)],
            "quota_total": batch.quota_total,
            "pass_rule": gettext("≥ %(percent)s%% of %(jp)s JP scheduled")
            % {"percent": floatformat(matrix.pass_percent, "-2"), "jp": scheduled},
            "by_pillar": pillar_rows,
            "pillar_totals": pillar_totals,
            "by_region": region_rows,
            "region_totals": region_totals,
            "timetable": timetable,
            "jp_scheduled": scheduled,
            "participants": participants,
            "count": count,
            "passed": passed,
            "failed": count - passed,
            "pass_percent": pass_percent,
            "pass_percent_text": _number(pass_percent),
            "average_percent": average,
            "average_percent_text": _number(average),
            "certificates_valid": certificates["valid"],
            "certificates_revoked": certificates["revoked"],
            "place_and_date": f"{organiser.city}, {long_date(today)}",
        }


def batch_report_html(report: dict) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "report": report,
            "page_left": _css_string(report["page_label"]),
            "page_right": _css_page_counter(gettext("Page %(page)s of %(pages)s")),
        }
        return render_to_string(TEMPLATE, context)


def render_batch_report(report: dict) -> bytes:
    """The report from `batch_report()` as a PDF."""
    return html_to_pdf(batch_report_html(report))
