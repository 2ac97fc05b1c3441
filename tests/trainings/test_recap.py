"""The attendance recap: the matrix page (letters, colours, JP, the pass rule and eligibility from the one
selector), its .xlsx export, the operator's kabupaten-only view, the at-risk flags on the staff's batch page
and the operator's page while a batch runs, the staff's record of who taught a session (and the workload JP
it moves), and query counts that do not grow with the batch."""

import re
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from io import BytesIO
from itertools import count

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override
from openpyxl import load_workbook

from participants.models import Enrollment, Nomination, Person
from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    OperatorFactory,
    OrganiserFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings import exports, selectors, services
from trainings.models import Attendance, Batch, QuotaAllocation, Session

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
MON = date(2025, 10, 13)  # a Monday
SERIALS = count(1)  # NIK serials, unique within a test


@contextmanager
def english(client):
    """Pages in English: the language cookie for the request, and English for strings the test formats."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    try:
        with override("en"):
            yield
    finally:
        del client.cookies[settings.LANGUAGE_COOKIE_NAME]


def at(day: date, hour: int, minute: int = 0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def add_session(batch, day, hour, jp, facilitators=()):
    session = Session.objects.create(
        batch=batch,
        date=day,
        start_time=time(hour, 0),
        end_time=time(hour + 1, 30),
        module=ModuleFactory(program=batch.program, jp=jp),
        jp=jp,
    )
    session.facilitators.set(facilitators)
    return session


def enrol(batch, name, *, kabupaten=SITUBONDO, pillar_code="psm", staff=None):
    person = Person.objects.create(
        nik=f"{kabupaten.replace('.', '')}01170885{next(SERIALS):04d}",
        full_name=name,
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(kabupaten),
        pillar_type=pillar(pillar_code),
        phone="081234567890",
    )
    nomination = Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=region(kabupaten),
        pillar_type=pillar(pillar_code),
        status=Nomination.Status.ACCEPTED,
        nominated_by=staff,
    )
    return Enrollment.objects.create(batch=batch, person=person, nomination=nomination)


def mark_all(staff, sessions, enrollment, statuses, now):
    for session, status in zip(sessions, statuses, strict=True):
        if status:
            services.attendance_record(actor=staff, session=session, enrollment=enrollment, status=status, now=now)


class Matrix(HTMLParser):
    """The matrix table of a page as {row id: [(class, title, text) of each status cell]} and the data-*
    attributes of each row."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.attrs, self.row, self.cell = {}, {}, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and (attrs.get("id") or "").startswith("enrollment-"):
            self.row = attrs["id"]
            self.rows[self.row], self.attrs[self.row] = [], attrs
        elif tag == "td" and self.row and "recap-cell" in (attrs.get("class") or ""):
            self.cell = [attrs["class"], attrs.get("title", ""), ""]

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[2] += data.strip()

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[self.row].append(tuple(self.cell))
            self.cell = None
        elif tag == "tr":
            self.row = None


@pytest.fixture
def upt():
    return OrganiserFactory(code="UPT-PTKS")


@pytest.fixture
def staff(upt):
    return StaffFactory(organiser=upt)


@pytest.fixture
def operator():
    return OperatorFactory(kabupaten=region(SITUBONDO))


@pytest.fixture
def finished(upt, staff):
    """A finished two-day batch of 10 JP (2 + 2 + 3 + 3) with a pass rule of 80 %, for Situbondo and Gresik:
    Ahmad attended everything (two of it late), Budi exactly 8 JP (izin once), Citra 2 JP (alpa, sakit, and
    the last session not recorded)."""
    batch = BatchFactory(
        organiser=upt, name="Angkatan I Situbondo", start_date=MON, end_date=MON + timedelta(days=1), status="running"
    )
    batch.program.pass_percent = Decimal("80")
    batch.program.save()
    for code in (SITUBONDO, GRESIK):
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(code), seats=10)
    tue = MON + timedelta(days=1)
    sessions = [add_session(batch, MON, 8, 2), add_session(batch, MON, 10, 2)]
    sessions += [add_session(batch, tue, 8, 3), add_session(batch, tue, 10, 3)]
    people = {
        "ahmad": enrol(batch, "Ahmad Fauzi", staff=staff),
        "budi": enrol(batch, "Budi Santoso", pillar_code="tksk", staff=staff),
        "citra": enrol(batch, "Citra Lestari", kabupaten=GRESIK, staff=staff),
    }
    now = at(tue, 17)
    mark_all(staff, sessions, people["ahmad"], ["hadir", "terlambat", "hadir", "terlambat"], now)
    mark_all(staff, sessions, people["budi"], ["hadir", "izin", "hadir", "hadir"], now)
    mark_all(staff, sessions, people["citra"], ["hadir", "hadir", "sakit", None], now)
    Attendance.objects.filter(session=sessions[1], enrollment=people["citra"]).update(status="alpa")
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FINISHED)
    batch.refresh_from_db()
    return {"batch": batch, "sessions": sessions, **people}


@pytest.fixture
def running(upt, staff):
    """A batch running today (yesterday to tomorrow), 10 JP with a pass rule of 80 %: yesterday's two 2-JP
    sessions are held, tomorrow's 2 and 4 JP are still to come. Absent missed both held sessions, Sick one of
    them, Fine none."""
    today = timezone.localdate()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    batch = BatchFactory(organiser=upt, start_date=yesterday, end_date=tomorrow, status=Batch.Status.RUNNING)
    batch.program.pass_percent = Decimal("80")
    batch.program.save()
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    sessions = [add_session(batch, yesterday, 8, 2), add_session(batch, yesterday, 10, 2)]
    sessions += [add_session(batch, tomorrow, 8, 2), add_session(batch, tomorrow, 10, 4)]
    people = {
        "absent": enrol(batch, "Absent Anwar", staff=staff),
        "sick": enrol(batch, "Sick Sumarni", staff=staff),
        "fine": enrol(batch, "Fine Fatimah", staff=staff),
    }
    now = at(yesterday, 17)
    mark_all(staff, sessions[:2], people["absent"], ["alpa", "alpa"], now)
    mark_all(staff, sessions[:2], people["sick"], ["sakit", "hadir"], now)
    mark_all(staff, sessions[:2], people["fine"], ["hadir", "terlambat"], now)
    return {"batch": batch, "sessions": sessions, **people}


def matrix_url(batch):
    return reverse("trainings:attendance_matrix", args=[batch.pk])


def export_url(batch):
    return reverse("trainings:attendance_export", args=[batch.pk])


def row_id(enrollment):
    return f"enrollment-{enrollment.pk}"


# ------------------------------------------------------------------------------------------ the matrix


def test_the_matrix_shows_letters_in_colour_and_a_dash_when_not_recorded(client, staff, finished):
    client.force_login(staff)
    with english(client):
        response = client.get(matrix_url(finished["batch"]))
        labels = {value: str(label) for value, label in Attendance.Status.choices}
    assert response.status_code == 200
    table = Matrix(response.content.decode())
    assert list(table.rows) == [row_id(finished[p]) for p in ("ahmad", "budi", "citra")]  # by name
    letters = {row: [(css.split()[-1], text) for css, _title, text in cells] for row, cells in table.rows.items()}
    assert letters[row_id(finished["ahmad"])] == [
        ("status-hadir", "H"),
        ("status-terlambat", "T"),
        ("status-hadir", "H"),
        ("status-terlambat", "T"),
    ]
    assert letters[row_id(finished["budi"])][1] == ("status-izin", "I")
    assert letters[row_id(finished["citra"])] == [
        ("status-hadir", "H"),
        ("status-alpa", "A"),
        ("status-sakit", "S"),
        ("text-muted", "—"),
    ]
    titles = [title for _css, title, _text in table.rows[row_id(finished["citra"])]]
    assert titles == [labels["hadir"], labels["alpa"], labels["sakit"], "not recorded"]
    html = response.content.decode()
    for value, letter in Attendance.LETTERS.items():  # the legend shows every letter in its colour
        assert f'<span class="recap-letter status-fill status-{value}">{letter}</span>' in html
    assert "NIK" not in html and finished["ahmad"].person.nik not in html and "081234567890" not in html


def test_the_matrix_gives_jp_percent_and_the_pass_rule(client, staff, finished):
    client.force_login(staff)
    with english(client):
        response = client.get(matrix_url(finished["batch"]))
    html = response.content.decode()
    assert "Pass rule: ≥ 80% of 10 JP, that is at least 8 JP attended" in html
    rows = {row.enrollment.pk: row for row in response.context["matrix"].rows}
    summary = {
        name: (rows[finished[name].pk].jp_attended, rows[finished[name].pk].percent)
        for name in ("ahmad", "budi", "citra")
    }
    assert summary == {"ahmad": (10, 100.0), "budi": (8, 80.0), "citra": (2, 20.0)}
    assert "80.0%" in html and "20.0%" in html
    assert html.count('class="text-center recap-session"') == 4
    assert "Mon 13/10<br>08.00<br>" in html


def test_the_eligibility_column_is_the_certificates_selector(client, staff, finished):
    client.force_login(staff)
    table = Matrix(client.get(matrix_url(finished["batch"])).content.decode())
    shown = {row for row, attrs in table.attrs.items() if attrs["data-eligible"] == "1"}
    assert shown == {row_id(e) for e in selectors.eligible_enrollments(batch=finished["batch"])}
    assert shown == {row_id(finished["ahmad"]), row_id(finished["budi"])}  # Budi exactly at the threshold


def test_an_operator_sees_only_their_kabupatens_participants(client, operator, finished):
    client.force_login(operator)
    response = client.get(matrix_url(finished["batch"]))
    assert response.status_code == 200
    assert list(Matrix(response.content.decode()).rows) == [row_id(finished["ahmad"]), row_id(finished["budi"])]
    assert "Citra Lestari" not in response.content.decode()
    assert response.context["view_all"] is False


def test_notes_are_shown_to_staff_only(client, staff, operator, finished):
    Attendance.objects.filter(enrollment=finished["budi"], status="izin").update(note="acara keluarga")
    client.force_login(staff)
    assert "acara keluarga" in client.get(matrix_url(finished["batch"])).content.decode()
    client.force_login(operator)
    assert "acara keluarga" not in client.get(matrix_url(finished["batch"])).content.decode()


def test_a_batch_without_participants_or_sessions_says_so(client, staff, upt):
    batch = BatchFactory(organiser=upt, status=Batch.Status.RUNNING)
    client.force_login(staff)
    with english(client):
        response = client.get(matrix_url(batch))
    assert response.status_code == 200
    assert "No participants are enrolled in this batch yet." in response.content.decode()


# ------------------------------------------------------------------------------------------ the export


def workbook_of(response):
    return load_workbook(BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def test_the_export_is_the_matrix_with_indonesian_headings(client, staff, finished):
    client.force_login(staff)
    with english(client):  # the file is Indonesian whatever the interface language
        response = client.get(export_url(finished["batch"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert (
        disposition
        == f'attachment; filename="rekap-kehadiran-angkatan-{finished["batch"].pk}-angkatan-i-situbondo.xlsx"'
    )
    sheet = workbook_of(response)["Rekap Kehadiran"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == [
        "No",
        "Nama",
        "Kabupaten/Kota",
        "Pilar",
        "Sen 13/10 08.00",
        "Sen 13/10 10.00",
        "Sel 14/10 08.00",
        "Sel 14/10 10.00",
        "JP Hadir",
        "% JP",
        "Memenuhi syarat",
    ]
    assert values[1:] == [
        [1, "Ahmad Fauzi", "Kabupaten Situbondo", "PSM", "H", "T", "H", "T", 10, 100.0, "Ya"],
        [2, "Budi Santoso", "Kabupaten Situbondo", "TKSK", "H", "I", "H", "H", 8, 80.0, "Ya"],
        [3, "Citra Lestari", "Kabupaten Gresik", "PSM", "H", "A", "S", "—", 2, 20.0, "Tidak"],
    ]
    assert sheet["E2"].fill.fgColor.rgb.endswith("A9DFBF")  # green, as on the page
    notes = [list(row[:2]) for row in workbook_of(response)["Keterangan"].iter_rows(values_only=True)]
    assert ["Syarat lulus", "Hadir (termasuk terlambat) ≥ 80% dari 10 JP yang dijadwalkan"] in notes
    assert ["I", "Izin"] in notes


def css_fills() -> dict:
    """The --status-fill of each .status-<value> class of the site's stylesheet."""
    css = (settings.BASE_DIR / "static" / "css" / "sinergi.css").read_text()
    return {
        value: fill.upper()
        for value, fill in re.findall(r"\.status-(\w+) \{ --status-fill: #([0-9A-Fa-f]{6});", css)
        if value in Attendance.Status.values
    }


def test_the_export_colours_are_the_pages_colours(client, staff, finished):
    assert css_fills() == {value: fill.upper() for value, fill in exports.STATUS_FILL.items()}
    assert set(css_fills()) == set(Attendance.Status.values)
    assert len(set(css_fills().values())) == len(Attendance.Status.values)  # one colour each
    client.force_login(staff)
    sheet = workbook_of(client.get(export_url(finished["batch"])))["Rekap Kehadiran"]
    status_of = {letter: value for value, letter in Attendance.LETTERS.items()}
    seen = set()
    for cell in (cell for row in sheet["E2:H4"] for cell in row if cell.value in status_of):
        assert cell.fill.fgColor.rgb.upper().endswith(css_fills()[status_of[cell.value]]), cell.coordinate
        seen.add(cell.value)
    assert seen == set(status_of)


def test_an_operator_exports_their_kabupatens_participants_only(client, operator, finished):
    client.force_login(operator)
    response = client.get(export_url(finished["batch"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'-{SITUBONDO}.xlsx"')
    names = [row[1] for row in workbook_of(response)["Rekap Kehadiran"].iter_rows(min_row=2, values_only=True)]
    assert names == ["Ahmad Fauzi", "Budi Santoso"]


def test_a_name_that_looks_like_a_formula_is_exported_as_text(client, staff, finished):
    Person.objects.filter(pk=finished["ahmad"].person_id).update(full_name="=HYPERLINK(1)")
    client.force_login(staff)
    sheet = workbook_of(client.get(export_url(finished["batch"])))["Rekap Kehadiran"]
    cell = next(c for c in sheet["B"] if c.value == "=HYPERLINK(1)")
    assert cell.data_type == "s"


# ------------------------------------------------------------------------------------ flags while running


def test_the_matrix_flags_participants_at_risk_while_the_batch_runs(client, staff, running):
    client.force_login(staff)
    table = Matrix(client.get(matrix_url(running["batch"])).content.decode())
    risks = {row: attrs.get("data-risk", "") for row, attrs in table.attrs.items()}
    assert risks == {
        row_id(running["absent"]): "cannot_pass",
        row_id(running["sick"]): "one_absence_away",
        row_id(running["fine"]): "",
    }


def test_the_matrix_says_which_held_sessions_are_not_recorded(client, staff, running):
    forgotten = enrol(running["batch"], "Forgotten Fikri", staff=staff)
    client.force_login(staff)
    response = client.get(matrix_url(running["batch"]))
    html = response.content.decode()
    assert re.search(r'id="unrecorded-held" data-count="2"', html)
    assert response.context["matrix"].unrecorded_held == 2
    table = Matrix(html)
    assert table.attrs[row_id(forgotten)].get("data-risk", "") == ""  # not counted as missed
    unrecorded = dict(re.findall(r'<tr id="(enrollment-\d+)".*?(?:data-unrecorded="(\d+)"|</tr>)', html, re.S))
    assert unrecorded[row_id(forgotten)] == "2"
    assert unrecorded[row_id(running["fine"])] == ""
    # Once recorded, the notice goes.
    mark_all(staff, running["sessions"][:2], forgotten, ["hadir", "hadir"], timezone.now())
    assert 'id="unrecorded-held"' not in client.get(matrix_url(running["batch"])).content.decode()


def test_the_staff_batch_page_lists_who_is_at_risk_while_the_batch_runs(client, staff, running):
    client.force_login(staff)
    with english(client):
        response = client.get(reverse("trainings:batch_detail", args=[running["batch"].pk]))
    html = response.content.decode()
    assert 'id="at-risk"' in html
    flagged = [row.enrollment for row in response.context["at_risk"]]
    assert flagged == [running["absent"], running["sick"]]
    assert f'data-enrollment="{running["absent"].pk}"' in html and f'data-enrollment="{running["fine"].pk}"' not in html
    assert "cannot pass anymore" in html and "one absence away" in html
    assert matrix_url(running["batch"]) in html


def test_the_batch_page_has_no_flags_once_the_batch_is_over(client, staff, finished, running):
    client.force_login(staff)
    response = client.get(reverse("trainings:batch_detail", args=[finished["batch"].pk]))
    assert response.context["at_risk"] is None
    assert 'id="at-risk"' not in response.content.decode()
    assert matrix_url(finished["batch"]) in response.content.decode()  # the recap stays one click away
    Batch.objects.filter(pk=running["batch"].pk).update(status=Batch.Status.FINISHED)
    response = client.get(reverse("trainings:batch_detail", args=[running["batch"].pk]))
    assert 'id="at-risk"' not in response.content.decode()


def test_the_flags_are_not_on_an_operators_view_of_the_batch_page(client, operator, running):
    client.force_login(operator)
    response = client.get(reverse("trainings:batch_detail", args=[running["batch"].pk]))
    assert response.status_code == 200
    assert 'id="at-risk"' not in response.content.decode()


def test_the_operator_page_shows_each_participants_attendance_and_flag(client, operator, staff, running):
    gresik = enrol(running["batch"], "Gresik Gunawan", kabupaten=GRESIK, staff=staff)
    client.force_login(operator)
    response = client.get(reverse("participants:batch_nominations", args=[running["batch"].pk]))
    rows = {row.nomination.pk: row for row in response.context["page"].rows}
    assert gresik.nomination_id not in rows
    attendance = {pk: (row.attendance.percent, row.attendance.risk) for pk, row in rows.items()}
    assert attendance == {
        running["absent"].nomination_id: (0.0, "cannot_pass"),
        running["sick"].nomination_id: (20.0, "one_absence_away"),
        running["fine"].nomination_id: (40.0, ""),
    }
    html = response.content.decode()
    assert 'data-risk="cannot_pass"' in html and 'data-risk="one_absence_away"' in html
    assert matrix_url(running["batch"]) in html


def test_the_operator_page_of_a_finished_batch_says_who_is_eligible(client, operator, finished):
    client.force_login(operator)
    response = client.get(reverse("participants:batch_nominations", args=[finished["batch"].pk]))
    rows = {row.nomination.pk: row.attendance for row in response.context["page"].rows}
    assert {pk: (a.percent, a.eligible, a.risk) for pk, a in rows.items()} == {
        finished["ahmad"].nomination_id: (100.0, True, ""),
        finished["budi"].nomination_id: (80.0, True, ""),
    }


# ---------------------------------------------------------------------------------- who taught a session


@pytest.fixture
def taught(upt, staff):
    scheduled = [
        FacilitatorFactory(organiser=upt, name="Bu Ani"),
        FacilitatorFactory(organiser=upt, name="Pak Bambang"),
    ]
    stand_in = FacilitatorFactory(organiser=upt, name="Pak Cahyo")
    batch = BatchFactory(organiser=upt, start_date=MON, end_date=MON, status=Batch.Status.RUNNING)
    session = add_session(batch, MON, 8, 3, facilitators=scheduled)
    return {"batch": batch, "session": session, "scheduled": scheduled, "stand_in": stand_in}


def teaching_url(session):
    return reverse("trainings:session_teaching", args=[session.pk])


def workload_jp(client):
    response = client.get(reverse("trainings:workload") + "?year=2025")
    return {row.facilitator.name: row.total_jp for row in response.context["rows"]}


def test_the_teaching_form_starts_from_the_scheduled_facilitators(client, staff, taught):
    client.force_login(staff)
    response = client.get(teaching_url(taught["session"]))
    assert response.status_code == 200
    assert set(response.context["form"].initial["facilitators"]) == {f.pk for f in taught["scheduled"]}
    choices = {pk.value for pk, _label in response.context["form"].fields["facilitators"].choices}
    assert choices == {f.pk for f in [*taught["scheduled"], taught["stand_in"]]}


def test_recording_who_taught_moves_the_jp_in_the_workload(client, staff, taught):
    client.force_login(staff)
    assert workload_jp(client) == {"Bu Ani": 3, "Pak Bambang": 3, "Pak Cahyo": 0}
    response = client.post(
        teaching_url(taught["session"]), {"facilitators": [taught["scheduled"][0].pk, taught["stand_in"].pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("trainings:batch_detail", args=[taught["batch"].pk])
    session = Session.objects.get(pk=taught["session"].pk)
    assert session.taught_recorded
    assert {f.name for f in session.taught_by.all()} == {"Bu Ani", "Pak Cahyo"}
    assert workload_jp(client) == {"Bu Ani": 3, "Pak Bambang": 0, "Pak Cahyo": 3}
    # Asked again, the form starts from what was recorded.
    initial = client.get(teaching_url(session)).context["form"].initial["facilitators"]
    assert set(initial) == {taught["scheduled"][0].pk, taught["stand_in"].pk}


def test_the_timetable_says_who_taught_when_it_differs(client, staff, taught):
    client.force_login(staff)
    detail_url = reverse("trainings:batch_detail", args=[taught["batch"].pk])
    assert 'class="taught-by' not in client.get(detail_url).content.decode()
    assert teaching_url(taught["session"]) in client.get(detail_url).content.decode()
    services.session_record_teaching(actor=staff, session=taught["session"], facilitators=taught["scheduled"])
    assert 'class="taught-by' not in client.get(detail_url).content.decode()  # as scheduled: nothing to say
    services.session_record_teaching(actor=staff, session=taught["session"], facilitators=[taught["stand_in"]])
    with english(client):
        html = client.get(detail_url).content.decode()
    assert '<div class="taught-by fst-italic">taught by Pak Cahyo</div>' in html


def test_nobody_may_be_recorded_as_having_taught(client, staff, taught):
    client.force_login(staff)
    assert client.post(teaching_url(taught["session"]), {}).status_code == 302
    session = Session.objects.get(pk=taught["session"].pk)
    assert session.taught_recorded and not session.taught_by.exists()
    assert workload_jp(client) == {"Bu Ani": 0, "Pak Bambang": 0, "Pak Cahyo": 0}


@pytest.mark.parametrize("value", ["999999999999999999999999", str(2**31), "abc", "-1", "0", "1.5", ""])
def test_a_facilitator_id_that_is_no_id_is_a_form_error(client, staff, taught, value):
    client.force_login(staff)
    response = client.post(teaching_url(taught["session"]), {"facilitators": [taught["stand_in"].pk, value]})
    assert response.status_code == 200
    assert "facilitators" in response.context["form"].errors
    session = Session.objects.get(pk=taught["session"].pk)
    assert not session.taught_recorded and not session.taught_by.exists()


def test_a_facilitator_of_another_organiser_is_refused_and_nothing_is_saved(client, staff, taught):
    outsider = FacilitatorFactory(organiser=OrganiserFactory(code="DINSOS-SBY"))
    client.force_login(staff)
    response = client.post(teaching_url(taught["session"]), {"facilitators": [outsider.pk]})
    assert response.status_code == 200
    assert "facilitators" in response.context["form"].errors
    session = Session.objects.get(pk=taught["session"].pk)
    assert not session.taught_recorded and not session.taught_by.exists()


# ------------------------------------------------------------------------------------------ query counts


def recap_batch(upt, staff, *, participants: int, sessions: int, status=Batch.Status.RUNNING):
    """A running batch (yesterday to tomorrow) of `sessions` 2-JP sessions and `participants` Situbondo
    participants, every one recorded at every session, with some statuses varied."""
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=upt, start_date=today - timedelta(days=1), end_date=today + timedelta(days=1), status=status
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=participants)
    module = ModuleFactory(program=batch.program, jp=2)
    days = [today - timedelta(days=1), today + timedelta(days=1)]
    rows = Session.objects.bulk_create(
        Session(
            batch=batch,
            date=days[i % 2],
            start_time=time(7 + i // 2),
            end_time=time(7 + i // 2, 50),
            module=module,
            jp=2,
        )
        for i in range(sessions)
    )
    for session in rows:
        session.facilitators.set([FacilitatorFactory(organiser=upt)])
    enrollments = [enrol(batch, f"Peserta {n + 1:03d}", staff=staff) for n in range(participants)]
    statuses = Attendance.Status.values
    Attendance.objects.bulk_create(
        Attendance(
            session=session,
            enrollment=enrollment,
            status=statuses[(i + j) % len(statuses)],
            method=Attendance.Method.STAFF,
            recorded_at=timezone.now(),
        )
        for i, enrollment in enumerate(enrollments)
        for j, session in enumerate(rows)
    )
    services.session_record_teaching(actor=staff, session=rows[0], facilitators=[FacilitatorFactory(organiser=upt)])
    return batch


def queries_of(client, url):
    client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# Session and user, the batch (+ program, organiser), then sessions (+ materi), participants (+ person, pillar,
# nomination, kabupaten) and their attendance. An operator's permission also reads the batch's allocations.
MATRIX_QUERIES = 6
MATRIX_OPERATOR_QUERIES = 7


@pytest.mark.parametrize("size", [(3, 4), (30, 12)])
def test_the_matrix_page_queries_do_not_grow_with_the_batch(
    client, upt, staff, operator, django_assert_num_queries, size
):
    participants, sessions = size
    batch = recap_batch(upt, staff, participants=participants, sessions=sessions)
    client.force_login(staff)
    client.get(matrix_url(batch))
    with django_assert_num_queries(MATRIX_QUERIES):
        response = client.get(matrix_url(batch))
    assert len(Matrix(response.content.decode()).rows) == participants
    client.force_login(operator)
    client.get(matrix_url(batch))
    with django_assert_num_queries(MATRIX_OPERATOR_QUERIES):
        response = client.get(matrix_url(batch))
    assert len(response.context["matrix"].rows) == participants
    assert len(response.context["matrix"].sessions) == sessions


def test_the_export_queries_do_not_grow_with_the_batch(client, upt, staff):
    client.force_login(staff)
    small = recap_batch(upt, staff, participants=3, sessions=4)
    large = recap_batch(upt, staff, participants=30, sessions=12)
    assert queries_of(client, export_url(small)) == queries_of(client, export_url(large)) == MATRIX_QUERIES


def test_the_running_batch_page_with_flags_does_not_grow_with_the_batch(client, upt, staff):
    """The batch page adds the matrix while a batch runs (three queries) and the recorded teachers (one)."""
    from tests.trainings.test_views import DETAIL_QUERIES

    client.force_login(staff)
    small = recap_batch(upt, staff, participants=3, sessions=4)
    large = recap_batch(upt, staff, participants=30, sessions=12)
    counts = [queries_of(client, reverse("trainings:batch_detail", args=[b.pk])) for b in (small, large)]
    assert counts == [DETAIL_QUERIES + 4, DETAIL_QUERIES + 4]


# The operator's page of a running batch: nine queries without the forms of an open batch, and three more
# for the attendance (sessions, participants, their records).
OPERATOR_PAGE_RUNNING_QUERIES = 12


def test_the_operator_page_of_a_running_batch_does_not_grow_with_the_batch(client, upt, staff, operator):
    client.force_login(operator)
    small = recap_batch(upt, staff, participants=3, sessions=4)
    large = recap_batch(upt, staff, participants=30, sessions=12)
    counts = [queries_of(client, reverse("participants:batch_nominations", args=[b.pk])) for b in (small, large)]
    assert counts[0] == counts[1] == OPERATOR_PAGE_RUNNING_QUERIES
