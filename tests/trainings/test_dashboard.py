"""The dashboard: its figures against counts worked out in plain Python over what the fixture made, a fixed
number of queries whatever the number of batches and participants, operators kept to their kabupaten in every
table, chart and export (the .xlsx read back with openpyxl), and the permission matrix over its URLs."""

import re
from collections import Counter
from datetime import date, datetime, time
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from certificates.models import Certificate
from participants.models import Enrollment, Nomination, Person
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    ModuleFactory,
    OperatorFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings import dashboard
from trainings.models import Attendance, Batch, QuotaAllocation
from trainings.selectors import attendance_matrix

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
YEAR = 2025
ATTENDED = {"hadir", "terlambat"}


class World:
    """Batches of two organisers with participants, sessions, attendance and certificates; every participant is
    also written down in `self.enrolled` so the tests can count without the database."""

    def __init__(self):
        self.upt = OrganiserFactory(code="UPT-PTKS")
        self.other = OrganiserFactory(code="DINSOS-SBY")
        self.staff = StaffFactory(organiser=self.upt)
        self.program = ProgramFactory(organiser=self.upt, title="Sinergitas Pilar")
        self.program_q = ProgramFactory(organiser=self.upt, title="Pendataan PMKS")
        self.teacher = FacilitatorUserFactory(record__organiser=self.upt)
        self.serial = 0
        self.seq = Counter()
        self.enrolled = []  # (batch, kabupaten code, pillar code, gender, enrollment)
        self.sessions = {}  # batch pk -> [(session, jp)]
        self.statuses = {}  # enrollment pk -> {session pk: status}
        self.certificates = []  # (batch, kabupaten code, issued month, revoked)

    def batch(self, *, status, start, program=None, organiser=None, quota=None, days=3):
        organiser = organiser or self.upt
        batch = BatchFactory(
            organiser=organiser,
            program=program or (self.program if organiser == self.upt else ProgramFactory(organiser=organiser)),
            status=status,
            start_date=start,
            end_date=date(start.year, start.month, start.day + days),
        )
        if quota:
            QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(quota), seats=40)
        self.sessions[batch.pk] = []
        return batch

    def session(self, batch, jp, hour=8):
        session = SessionFactory(
            batch=batch,
            module=ModuleFactory(program=batch.program, jp=jp),
            jp=jp,
            start_time=time(hour, 0),
            end_time=time(hour + 1, 30),
        )
        if batch.organiser == self.upt:
            session.facilitators.add(self.teacher.facilitator)
        self.sessions[batch.pk].append((session, jp))
        return session

    def participant(self, batch, kabupaten, pillar_code, gender="L", statuses=(), certificate=None):
        """statuses: one per session of the batch (None: not recorded). certificate: (month, revoked) or None."""
        self.serial += 1
        day = 17 if gender == "L" else 57
        person = Person.objects.create(
            nik=f"{kabupaten.replace('.', '')}01{day}0885{self.serial:04d}",
            full_name=f"Peserta {self.serial:04d}",
            gender=gender,
            birth_place="Situbondo",
            birth_date=date(1985, 8, 17),
            kabupaten=region(kabupaten),
            pillar_type=pillar(pillar_code),
        )
        nomination = Nomination.objects.create(
            batch=batch,
            person=person,
            kabupaten=region(kabupaten),
            pillar_type=pillar(pillar_code),
            status=Nomination.Status.ACCEPTED,
            nominated_by=self.staff,
        )
        enrollment = Enrollment.objects.create(batch=batch, person=person, nomination=nomination)
        self.enrolled.append((batch, kabupaten, pillar_code, gender, enrollment))
        self.statuses[enrollment.pk] = {}
        for (session, _jp), status in zip(self.sessions[batch.pk], statuses, strict=False):
            if status:
                Attendance.objects.create(
                    session=session,
                    enrollment=enrollment,
                    status=status,
                    method="staff",
                    recorded_at=timezone.now(),
                )
                self.statuses[enrollment.pk][session.pk] = status
        if certificate:
            month, revoked = certificate
            self.seq[batch.organiser.pk] += 1
            seq = self.seq[batch.organiser.pk]
            Certificate.objects.create(
                enrollment=enrollment,
                organiser=batch.organiser,
                year=YEAR,
                seq=seq,
                number=f"{seq:04d}/{batch.organiser.code}/{YEAR}",
                issued_at=timezone.make_aware(datetime(YEAR, month, 20, 10)),
                issued_by=self.staff,
                revoked_at=timezone.make_aware(datetime(YEAR, 12, 1, 10)) if revoked else None,
                revoke_reason="Salah nama" if revoked else "",
            )
            self.certificates.append((batch, kabupaten, month, revoked))
        return enrollment

    # ----------------------------------------------------------------------- the figures, counted in Python

    def visible(self, batch, user, kabupaten=None):
        """Whether the batch counts for the user: mirrors the scoping rules in words, not the query."""
        if batch.start_date.year != YEAR:
            return False
        if user.is_operator:
            kabupaten = user.kabupaten.code
            if batch.status == Batch.Status.DRAFT:
                return False
        elif batch.organiser != user.organiser:
            return False
        if kabupaten is None:
            return True
        quotas = [a.region.code for a in batch.allocations.all()]
        return not quotas or kabupaten in quotas

    def trained(self, user, kabupaten=None):
        own = user.kabupaten.code if user.is_operator else kabupaten
        return [
            row
            for row in self.enrolled
            if row[0].status == Batch.Status.FINISHED
            and self.visible(row[0], user, kabupaten)
            and (own is None or row[1] == own)
        ]

    def average_attendance(self, batch, kabupaten=None):
        sessions = self.sessions[batch.pk]
        scheduled = sum(jp for _session, jp in sessions)
        shares = [
            sum(jp for session, jp in sessions if self.statuses[row[4].pk].get(session.pk) in ATTENDED) / scheduled
            for row in self.enrolled
            if row[0] == batch and (kabupaten is None or row[1] == kabupaten)
        ]
        return round(sum(shares) * 100 / len(shares), 1)


def build(world: World, *, scale: int = 1) -> dict:
    """The batches of the year (and one of the year before); `scale` multiplies participants and batches."""
    w = world
    batches = {}
    for copy in range(scale):
        a = w.batch(status=Batch.Status.FINISHED, start=date(YEAR, 3, 10 + copy))  # open to every kabupaten
        for jp, hour in ((2, 8), (3, 10), (4, 13)):
            w.session(a, jp, hour)
        for n in range(scale):
            w.participant(a, SITUBONDO, "psm", "L", ["hadir", "hadir", "hadir"], certificate=(3, False))
            w.participant(a, SITUBONDO, "psm", "L", ["terlambat", "alpa", "hadir"], certificate=(3, True))
            w.participant(a, SITUBONDO, "tksk", "P", ["izin", "sakit", None], certificate=(4, False) if n else None)
            w.participant(a, GRESIK, "psm", "L", ["hadir", "hadir", "alpa"], certificate=(4, False))
            w.participant(a, GRESIK, "tagana", "P", ["hadir", None, "hadir"])
        b = w.batch(status=Batch.Status.RUNNING, start=date(YEAR, 11, 10 + copy), quota=SITUBONDO)
        w.session(b, 2)
        w.participant(b, SITUBONDO, "psm", "P", ["hadir"])
        w.participant(b, SITUBONDO, "tksk", "L", ["alpa"])
        c = w.batch(status=Batch.Status.FINISHED, start=date(YEAR, 6, 2 + copy), program=w.program_q, quota=GRESIK)
        w.session(c, 2)
        w.participant(c, GRESIK, "psm", "L", ["hadir"], certificate=(6, False))
        w.participant(c, GRESIK, "tksk", "P", ["alpa"])
        batches.update(a=a, b=b, c=c)
    batches["d"] = w.batch(status=Batch.Status.DRAFT, start=date(YEAR, 12, 1))
    e = w.batch(status=Batch.Status.FINISHED, start=date(YEAR - 1, 5, 6))
    w.session(e, 2)
    w.participant(e, SITUBONDO, "psm", "L", ["hadir"])
    f = w.batch(status=Batch.Status.FINISHED, start=date(YEAR, 8, 4), organiser=w.other)
    w.session(f, 2)
    w.participant(f, SITUBONDO, "psm", "L", ["hadir"], certificate=(8, False))
    batches.update(e=e, f=f)
    return batches


@pytest.fixture
def world():
    w = World()
    w.batches = build(w)
    return w


def filters(**kwargs):
    return dashboard.Filters(year=YEAR, **kwargs)


def table(world, user, key, **kwargs):
    return dashboard.dashboard_table(user=user, filters=filters(**kwargs), key=key)


def as_dict(result):
    return {row[0]: row[1] for row in result.rows}


# ------------------------------------------------------------------------------------------------ numbers


def test_batches_by_status(world):
    staff = world.staff
    expected = Counter(b.status for b in Batch.objects.all() if world.visible(b, staff))
    counts = as_dict(table(world, staff, "status"))
    assert counts == {str(label): expected.get(value, 0) for value, label in Batch.Status.choices}
    assert sum(counts.values()) == 4  # a, b, c, d; not last year's, not the other organiser's


def test_participants_trained_by_pillar_kabupaten_and_gender(world):
    staff = world.staff
    trained = world.trained(staff)
    assert as_dict(table(world, staff, "kabupaten")) == {
        region(code).name: n for code, n in Counter(row[1] for row in trained).items()
    }
    assert as_dict(table(world, staff, "pillar")) == {
        pillar(code).name: n for code, n in Counter(row[2] for row in trained).items()
    }
    genders = Counter(row[3] for row in trained)
    assert as_dict(table(world, staff, "gender")) == {str(label): genders[v] for v, label in Person.Gender.choices}
    assert sum(genders.values()) == 7  # batch a (5) and c (2)


def test_filters_by_program_and_kabupaten(world):
    staff = world.staff
    by_program = table(world, staff, "kabupaten", program=world.program_q)
    assert as_dict(by_program) == {region(GRESIK).name: 2}
    gresik = table(world, staff, "status", kabupaten=region(GRESIK))
    expected = Counter(b.status for b in Batch.objects.all() if world.visible(b, staff, GRESIK))
    assert as_dict(gresik) == {str(label): expected.get(value, 0) for value, label in Batch.Status.choices}
    trained = world.trained(staff, GRESIK)
    assert as_dict(table(world, staff, "kabupaten", kabupaten=region(GRESIK))) == {region(GRESIK).name: len(trained)}


def test_average_attendance_agrees_with_the_recap(world):
    staff = world.staff
    result = table(world, staff, "attendance")
    averages = {row[0]: row[3] for row in result.rows}
    a, b, c = world.batches["a"], world.batches["b"], world.batches["c"]
    assert averages[a.name] == world.average_attendance(a)
    assert averages[c.name] == world.average_attendance(c)
    running = [label for label in averages if label.startswith(b.name)]
    assert len(running) == 1 and averages[running[0]] == world.average_attendance(b)
    # The same as the mean of the attendance recap's percentages.
    for batch in (a, c):
        rows = attendance_matrix(batch=batch).rows
        assert averages[batch.name] == round(sum(r.percent for r in rows) / len(rows), 1)
    assert len(result.rows) == 3  # not the draft, not last year's, not the other organiser's
    assert [bar.value for bar in result.bars] == [row[3] for row in result.rows]


def test_certificates_issued_by_month(world):
    staff = world.staff
    result = table(world, staff, "certificates")
    ours = [c for c in world.certificates if c[0].organiser == world.upt]
    valid = Counter(month for _b, _k, month, revoked in ours if not revoked)
    revoked = Counter(month for _b, _k, month, was_revoked in ours if was_revoked)
    assert [row[1] for row in result.rows[:12]] == [valid[m] for m in range(1, 13)]
    assert [row[2] for row in result.rows[:12]] == [revoked[m] for m in range(1, 13)]
    assert result.rows[12][1:] == [sum(valid.values()), sum(revoked.values())] == [3, 1]


def test_facilitator_jp(world):
    result = table(world, world.staff, "facilitators")
    jp = sum(
        jp
        for batch_pk, sessions in world.sessions.items()
        for _s, jp in sessions
        if batch_pk in {world.batches[k].pk for k in "abc"}
    )
    assert result.rows == [[world.teacher.facilitator.name, str(world.teacher.facilitator.get_kind_display()), jp]]


# ------------------------------------------------------------------------------------------------ operators


def test_an_operator_sees_only_their_kabupaten_in_every_table(world):
    operator = OperatorFactory(kabupaten=region(SITUBONDO))
    assert dashboard.tables_for(operator) == tuple(k for k in dashboard.TABLES if k != "facilitators")
    trained = world.trained(operator)
    assert {row[1] for row in trained} == {SITUBONDO}
    assert as_dict(table(world, operator, "kabupaten")) == {region(SITUBONDO).name: len(trained)}
    assert as_dict(table(world, operator, "pillar")) == {
        pillar(code).name: n for code, n in Counter(row[2] for row in trained).items()
    }
    genders = Counter(row[3] for row in trained)
    assert as_dict(table(world, operator, "gender")) == {str(label): genders[v] for v, label in Person.Gender.choices}
    expected = Counter(b.status for b in Batch.objects.all() if world.visible(b, operator))
    assert as_dict(table(world, operator, "status")) == {
        str(label): expected.get(value, 0) for value, label in Batch.Status.choices
    }
    averages = {row[0]: row[3] for row in table(world, operator, "attendance").rows}
    assert averages[world.batches["a"].name] == world.average_attendance(world.batches["a"], SITUBONDO)
    assert world.batches["c"].name not in averages  # a Gresik batch
    certificates = table(world, operator, "certificates").rows[12]
    ours = [c for c in world.certificates if c[1] == SITUBONDO]
    assert certificates[1:] == [sum(not c[3] for c in ours), sum(c[3] for c in ours)]
    with pytest.raises(KeyError):
        table(world, operator, "facilitators")


def read_xlsx(response):
    workbook = load_workbook(BytesIO(response.content))
    sheet = workbook.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)], workbook["Keterangan"]


def test_an_operators_exports_hold_only_their_kabupaten(client, world):
    operator = OperatorFactory(kabupaten=region(SITUBONDO))
    client.force_login(operator)
    trained = world.trained(operator)
    for key in ("kabupaten", "pillar", "gender", "attendance", "certificates", "status"):
        response = client.get(
            reverse("trainings:dashboard_export", args=[key]), {"year": YEAR, "kabupaten": region(GRESIK).pk}
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        assert SITUBONDO in response["Content-Disposition"]
        rows, notes = read_xlsx(response)
        expected = [list(row) for row in table(world, operator, key).rows]
        assert rows[1:] == expected
        assert region(GRESIK).name not in str(rows)
        assert region(SITUBONDO).name in str([list(r) for r in notes.iter_rows(values_only=True)])
    rows, _notes = read_xlsx(client.get(reverse("trainings:dashboard_export", args=["kabupaten"]), {"year": YEAR}))
    assert rows[1:] == [[region(SITUBONDO).name, len(trained)]]
    assert client.get(reverse("trainings:dashboard_export", args=["facilitators"])).status_code == 404


def test_a_staff_export_keeps_the_filters_and_says_them(client, world):
    client.force_login(world.staff)
    response = client.get(
        reverse("trainings:dashboard_export", args=["kabupaten"]), {"year": YEAR, "kabupaten": region(GRESIK).pk}
    )
    assert response["Content-Disposition"] == f'attachment; filename="dasbor-kabupaten-{YEAR}-{GRESIK}.xlsx"'
    rows, notes = read_xlsx(response)
    assert rows == [[str(c) for c in table(world, world.staff, "kabupaten").columns], [region(GRESIK).name, 4]]
    notes = [list(r) for r in notes.iter_rows(values_only=True)]
    assert [str(YEAR), region(GRESIK).name] == [notes[0][1], notes[2][1]]
    rows, _notes = read_xlsx(client.get(reverse("trainings:dashboard_export", args=["facilitators"]), {"year": YEAR}))
    assert rows[1:] == [list(row) for row in table(world, world.staff, "facilitators").rows]


def test_an_operators_page_shows_only_their_kabupaten(client, world):
    client.force_login(OperatorFactory(kabupaten=region(SITUBONDO)))
    response = client.get(reverse("trainings:dashboard"), {"year": YEAR, "kabupaten": region(GRESIK).pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert region(GRESIK).name not in html
    assert 'id="dashboard-facilitators"' not in html
    assert 'name="kabupaten"' not in html


def test_the_page_draws_each_chart_with_its_title_and_table(client, world):
    client.force_login(world.staff)
    response = client.get(reverse("trainings:dashboard"), {"year": YEAR})
    html = response.content.decode()
    for key in dashboard.TABLES:
        section = html.split(f'id="dashboard-{key}"')[1].split("</section>")[0]
        assert re.search(rf'<svg[^>]*role="img"[^>]*aria-labelledby="chart-{key}-title"', section)
        assert f'<title id="chart-{key}-title">' in section
        assert f'data-table="{key}"' in section and "<details" in section
        assert reverse("trainings:dashboard_export", args=[key]) + "?year=2025" in section
    assert "<script" not in html.split("<main")[1]


# ------------------------------------------------------------------------------------------------ queries


def count_queries(client, url, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_a_fixed_number_of_queries_whatever_the_size(client, role):
    small_world = World()
    build(small_world)
    user = small_world.staff if role == "staff" else OperatorFactory(kabupaten=region(SITUBONDO))
    client.force_login(user)
    pages = [
        (reverse("trainings:dashboard"), {"year": YEAR}),
        (reverse("trainings:dashboard"), {"year": YEAR, "program": small_world.program.pk}),
        (reverse("trainings:dashboard_export", args=["attendance"]), {"year": YEAR}),
    ]
    small = [count_queries(client, url, params) for url, params in pages]
    build(small_world, scale=3)  # three times the batches, participants nine times
    big = [count_queries(client, url, params) for url, params in pages]
    assert small == big
    # Page: session, user, the figures (nine for staff, six for operators), the filters' programs and (staff)
    # regions or (operators) their kabupaten for the title; one more to look the chosen program up.
    # Export: session, user, the one figure, and an operator's kabupaten for the file's name and notes.
    assert small == ([13, 14, 3] if role == "staff" else [10, 11, 4])


# ------------------------------------------------------------------------------------------------ permissions

ROLES = ["anonymous", "staff", "other_staff", "operator_situbondo", "operator_gresik", "facilitator"]
URLS = {"dashboard": [], "dashboard_export": ["status"], "dashboard_export_facilitators": ["facilitators"]}


def expected(role, name):
    if role == "facilitator":
        return 403
    if name == "dashboard_export_facilitators" and role.startswith("operator"):
        return 404
    return 200


def test_the_matrix_covers_every_dashboard_url():
    from trainings.dashboard_views import urlpatterns

    assert {p.name for p in urlpatterns} == {name.removesuffix("_facilitators") for name in URLS}


@pytest.mark.parametrize("name", list(URLS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, name):
    users = {
        "anonymous": None,
        "staff": world.staff,
        "other_staff": StaffFactory(organiser=world.other),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": world.teacher,
    }
    if users[role] is not None:
        client.force_login(users[role])
    response = client.get(reverse(f"trainings:{name.removesuffix('_facilitators')}", args=URLS[name]), {"year": YEAR})
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
        return
    assert response.status_code == expected(role, name)
    if role == "other_staff" and name == "dashboard":
        # Their own organiser's figures only: one finished batch of theirs, none of the UPT's.
        status = next(t for t in response.context["tables"] if t.key == "status")
        assert sum(row[1] for row in status.rows) == 1


def test_an_unknown_table_is_404_and_the_pages_only_answer_get(client, world):
    client.force_login(world.staff)
    assert client.get(reverse("trainings:dashboard_export", args=["people"])).status_code == 404
    assert client.post(reverse("trainings:dashboard")).status_code == 405
    assert client.post(reverse("trainings:dashboard_export", args=["status"])).status_code == 405


def test_bad_filters_fall_back_to_this_year(client, world):
    client.force_login(world.staff)
    response = client.get(reverse("trainings:dashboard"), {"year": "abc", "program": "x", "kabupaten": "99999999999"})
    assert response.status_code == 200
    assert response.context["year"] == timezone.localdate().year
