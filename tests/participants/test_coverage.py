"""Training coverage: the counts per kabupaten/kota × pillar type against what the fixtures made (worked out in
plain Python, not by the same query), a fixed number of queries whatever the registry's size, operators kept to
their kabupaten, no full NIK in the drill-down, nominating ticked people through nomination_submit() within the
quota, and the permission matrix over every coverage URL."""

import re
from collections import Counter
from datetime import date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from certificates.models import Certificate
from participants.models import Enrollment, Nomination, Person
from participants.selectors.coverage import coverage_table, untrained_people
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    ProgramFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
KABUPATEN = [SITUBONDO, GRESIK]
PILLARS = ["psm", "tksk"]

# What happens to the n-th person of the registry, in turn: (scenario, category for the program, for any program).
SCENARIOS = [
    ("nothing", "never", "never"),
    ("certificate", "completed", "completed"),
    ("revoked", "never", "never"),
    ("running", "in_batch", "in_batch"),
    ("pending", "in_batch", "in_batch"),
    ("withdrawn", "never", "never"),
    ("other_program", "never", "completed"),
    ("failed", "never", "never"),
    ("certificate_and_pending", "completed", "completed"),
]


def make_person(kabupaten_code, pillar_code, serial, gender="L"):
    day = 17 if gender == "L" else 57
    return Person.objects.create(
        nik=f"{kabupaten_code.replace('.', '')}01{day}0885{serial + 1:04d}",
        full_name=f"Peserta {serial:04d}",
        gender=gender,
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(kabupaten_code),
        pillar_type=pillar(pillar_code),
    )


def nominate(batch, person, staff, status=Nomination.Status.ACCEPTED):
    return Nomination.objects.create(
        batch=batch,
        person=person,
        kabupaten=person.kabupaten,
        pillar_type=person.pillar_type,
        status=status,
        nominated_by=staff,
    )


def enrol(batch, person, staff):
    return Enrollment.objects.create(batch=batch, person=person, nomination=nominate(batch, person, staff))


_seq = Counter()


def certify(enrollment, staff, *, revoked=False):
    organiser = enrollment.batch.organiser
    _seq[organiser.pk] += 1
    seq = _seq[organiser.pk]
    return Certificate.objects.create(
        enrollment=enrollment,
        organiser=organiser,
        year=2025,
        seq=seq,
        number=f"{seq:04d}/{organiser.code}/X/2025",
        issued_at=timezone.make_aware(datetime(2025, 10, 20, 10)),
        issued_by=staff,
        revoked_at=timezone.make_aware(datetime(2025, 11, 1, 10)) if revoked else None,
        revoke_reason="Salah nama" if revoked else "",
    )


@pytest.fixture
def organisation():
    upt = OrganiserFactory(code="UPT-PTKS")
    return {
        "upt": upt,
        "program": ProgramFactory(organiser=upt, title="Sinergitas Pilar"),
        "other_program": ProgramFactory(organiser=upt, title="Pendataan PMKS"),
        "staff": StaffFactory(organiser=upt),
    }


def build_registry(organisation, people: int, extra_batches: int = 0, first_serial: int = 0):
    """`people` people over 2 kabupaten × 2 pillar types, each given the next scenario in turn; `extra_batches`
    more finished batches of the program with certificates for the "certificate" people. Returns
    {(kabupaten code, pillar code): Counter of categories} for the program and for any program."""
    upt, program, staff = organisation["upt"], organisation["program"], organisation["staff"]

    def batch(status, prog=program, start=date(2025, 10, 13), end=date(2025, 10, 16)):
        return BatchFactory(organiser=upt, program=prog, status=status, start_date=start, end_date=end)

    finished = batch(Batch.Status.FINISHED)
    running = batch(Batch.Status.RUNNING, start=date(2025, 11, 10), end=date(2025, 11, 13))
    open_batch = batch(Batch.Status.NOMINATION_OPEN, start=date(2026, 3, 2), end=date(2026, 3, 5))
    other = batch(Batch.Status.FINISHED, prog=organisation["other_program"])
    extras = [
        batch(Batch.Status.FINISHED, start=date(2024, 1, 8 + i), end=date(2024, 1, 8 + i)) for i in range(extra_batches)
    ]
    for_program, for_any = {}, {}
    for serial in range(first_serial, first_serial + people):
        key = (KABUPATEN[serial % 2], PILLARS[(serial // 2) % 2])
        scenario, in_program, in_any = SCENARIOS[serial % len(SCENARIOS)]
        person = make_person(*key, serial, gender="LP"[serial % 3 == 0])
        if scenario in ("certificate", "certificate_and_pending"):
            certify(enrol(finished, person, staff), staff)
            for extra in extras:
                certify(enrol(extra, person, staff), staff)
            if scenario == "certificate_and_pending":
                nominate(open_batch, person, staff, Nomination.Status.PENDING)
        elif scenario == "revoked":
            certify(enrol(finished, person, staff), staff, revoked=True)
        elif scenario == "running":
            enrol(running, person, staff)
        elif scenario == "pending":
            nominate(open_batch, person, staff, Nomination.Status.PENDING)
        elif scenario == "withdrawn":
            nominate(open_batch, person, staff, Nomination.Status.WITHDRAWN)
        elif scenario == "other_program":
            certify(enrol(other, person, staff), staff)
        elif scenario == "failed":
            enrol(finished, person, staff)
        for_program.setdefault(key, Counter())[in_program] += 1
        for_any.setdefault(key, Counter())[in_any] += 1
    return {"program": for_program, "any": for_any, "open": open_batch}


def table_counts(table):
    return {
        (cell.kabupaten.code, cell.pillar_type.code): Counter(
            {"completed": cell.completed, "in_batch": cell.in_batch, "never": cell.never}
        )
        for row in table.rows
        for cell in row.cells
    }, {(cell.kabupaten.code, cell.pillar_type.code): cell.registered for row in table.rows for cell in row.cells}


def without_zeros(counts):
    return {key: +counter for key, counter in counts.items()}


# ------------------------------------------------------------------------------------------------ numbers


def test_the_counts_agree_with_what_the_fixtures_made(organisation):
    expected = build_registry(organisation, people=36)
    staff = organisation["staff"]
    for program, wanted in ((organisation["program"], expected["program"]), (None, expected["any"])):
        counts, registered = table_counts(coverage_table(user=staff, program=program))
        assert without_zeros(counts) == without_zeros(wanted)
        assert registered == {key: sum(counter.values()) for key, counter in wanted.items()}
    table = coverage_table(user=staff, program=organisation["program"])
    assert table.total.registered == 36
    assert table.total.completed + table.total.in_batch + table.total.never == 36
    assert [row.kabupaten.code for row in table.rows] == [SITUBONDO, GRESIK]
    assert all(row.total.registered == sum(c.registered for c in row.cells) for row in table.rows)


def test_filters_by_kabupaten_and_pillar(organisation):
    expected = build_registry(organisation, people=36)
    table = coverage_table(
        user=organisation["staff"],
        program=organisation["program"],
        kabupaten=region(GRESIK),
        pillar_type=pillar("tksk"),
    )
    counts, _registered = table_counts(table)
    assert list(counts) == [(GRESIK, "tksk")]
    assert +counts[(GRESIK, "tksk")] == +expected["program"][(GRESIK, "tksk")]


def test_the_untrained_list_holds_exactly_the_never_trained(organisation):
    expected = build_registry(organisation, people=36)
    staff = organisation["staff"]
    people = untrained_people(
        user=staff, kabupaten=region(SITUBONDO), pillar_type=pillar("psm"), program=organisation["program"]
    )
    assert people.count() == expected["program"][(SITUBONDO, "psm")]["never"]
    names = [p.full_name for p in people]
    assert names == sorted(names)
    anyone = untrained_people(user=staff, kabupaten=region(SITUBONDO), pillar_type=pillar("psm"))
    assert anyone.count() == expected["any"][(SITUBONDO, "psm")]["never"]


def test_an_operator_counts_only_their_kabupaten(organisation):
    expected = build_registry(organisation, people=36)
    operator = OperatorFactory(kabupaten=region(SITUBONDO))
    counts, _registered = table_counts(coverage_table(user=operator, program=organisation["program"]))
    assert {kabupaten for kabupaten, _pillar in counts} == {SITUBONDO}
    wanted = {key: value for key, value in expected["program"].items() if key[0] == SITUBONDO}
    assert without_zeros(counts) == without_zeros(wanted)
    # Asking for another kabupaten gives nothing, whatever is passed.
    assert coverage_table(user=operator, kabupaten=region(GRESIK)).rows == []
    assert not untrained_people(user=operator, kabupaten=region(GRESIK), pillar_type=pillar("psm")).exists()


def test_the_page_shows_an_operator_only_their_kabupaten(client, organisation):
    build_registry(organisation, people=36)
    client.force_login(OperatorFactory(kabupaten=region(SITUBONDO)))
    response = client.get(reverse("participants:coverage"))
    assert response.status_code == 200
    html = response.content.decode()
    assert set(re.findall(r'data-kabupaten="([\d.]+)"', html)) == {SITUBONDO}
    assert "Gresik" not in html.split('id="coverage"')[1]
    assert 'name="kabupaten"' not in html  # no kabupaten filter for operators


# ------------------------------------------------------------------------------------------------ queries


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_a_fixed_number_of_queries_whatever_the_registry(client, organisation, role):
    program = organisation["program"]
    user = organisation["staff"] if role == "staff" else OperatorFactory(kabupaten=region(SITUBONDO))
    client.force_login(user)
    pages = [
        reverse("participants:coverage"),
        f"{reverse('participants:coverage')}?program={program.pk}&pillar={pillar('psm').pk}",
        f"{reverse('participants:coverage_untrained')}?kabupaten={region(SITUBONDO).pk}&pillar={pillar('psm').pk}",
    ]
    build_registry(organisation, people=10)
    small = [count_queries(client, url) for url in pages]
    build_registry(organisation, people=60, extra_batches=2, first_serial=100)
    big = [count_queries(client, url) for url in pages]
    assert small == big
    # session, user; programs, (regions), pillar types of the filters; the counts, their regions and pillar types.
    # Drill-down: session, user, kabupaten, pillar type, the page and its count, the open batches (operators).
    assert small == ([8, 10, 6] if role == "staff" else [8, 10, 7])


# ------------------------------------------------------------------------------------------------ drill-down


def test_the_drill_down_never_shows_a_full_nik(client, organisation):
    build_registry(organisation, people=36)
    for user in (organisation["staff"], OperatorFactory(kabupaten=region(SITUBONDO))):
        client.force_login(user)
        response = client.get(
            reverse("participants:coverage_untrained"),
            {"kabupaten": region(SITUBONDO).pk, "pillar": pillar("psm").pk},
        )
        html = response.content.decode()
        listed = list(response.context["page"])
        assert listed
        for person in Person.objects.all():
            assert person.nik not in html
        for person in listed:
            assert person.masked_nik in html


def test_the_drill_down_is_paginated(client, organisation):
    staff = organisation["staff"]
    for serial in range(55):
        make_person(SITUBONDO, "psm", serial)
    client.force_login(staff)
    url = reverse("participants:coverage_untrained")
    params = {"kabupaten": region(SITUBONDO).pk, "pillar": pillar("psm").pk}
    first = client.get(url, params)
    second = client.get(url, {**params, "page": 2})
    assert len(first.context["page"]) == 50
    assert len(second.context["page"]) == 5
    assert "page=2" in first.content.decode()


# ------------------------------------------------------------------------------------------------ nominate


@pytest.fixture
def open_batch(organisation):
    batch = BatchFactory(
        organiser=organisation["upt"],
        program=organisation["program"],
        status=Batch.Status.NOMINATION_OPEN,
        start_date=date(2030, 3, 2),
        end_date=date(2030, 3, 5),
        quota_total=10,
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=3)
    return batch


def post_nomination(client, batch, people, pillar_code="psm"):
    return client.post(
        reverse("participants:coverage_nominate"),
        {
            "kabupaten": region(SITUBONDO).pk,
            "pillar": pillar(pillar_code).pk,
            "batch": batch.pk,
            "person": [p.pk for p in people],
        },
        follow=True,
    )


def test_an_operator_nominates_ticked_people_into_an_open_batch(client, organisation, open_batch):
    people = [make_person(SITUBONDO, "psm", serial) for serial in range(3)]
    operator = OperatorFactory(kabupaten=region(SITUBONDO))
    client.force_login(operator)
    page = client.get(
        reverse("participants:coverage_untrained"), {"kabupaten": region(SITUBONDO).pk, "pillar": pillar("psm").pk}
    )
    assert [b.pk for b in page.context["open_batches"]] == [open_batch.pk]
    response = post_nomination(client, open_batch, people)
    nominations = Nomination.objects.filter(batch=open_batch)
    assert sorted(n.person_id for n in nominations) == sorted(p.pk for p in people)
    assert all(n.status == Nomination.Status.PENDING and n.nominated_by == operator for n in nominations)
    assert all(n.events.filter(action="created").exists() for n in nominations)
    texts = [str(m) for m in response.context["messages"]]
    names = ", ".join(p.full_name for p in sorted(people, key=lambda p: (p.full_name, p.pk)))
    assert texts == [
        _("%(done)s of %(total)s people were nominated to %(batch)s: %(names)s.")
        % {"done": 3, "total": 3, "batch": open_batch.name, "names": names}
    ]
    # Nominated, they are in a batch now: no longer in the list.
    assert list(response.context["page"]) == []


def test_the_fourth_over_a_three_seat_quota_is_refused_with_the_message(client, organisation, open_batch):
    people = [make_person(SITUBONDO, "psm", serial) for serial in range(4)]
    client.force_login(OperatorFactory(kabupaten=region(SITUBONDO)))
    response = post_nomination(client, open_batch, people)
    assert Nomination.objects.filter(batch=open_batch).count() == 3
    refused = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    quota_full = _("The quota of %(target)s (%(seats)s seats) is full.") % {
        "target": region(SITUBONDO).name,
        "seats": 3,
    }
    assert refused == [_("%(name)s: %(message)s") % {"name": people[3].full_name, "message": quota_full}]
    assert not Nomination.objects.filter(batch=open_batch, person=people[3]).exists()
    succeeded = [str(m) for m in response.context["messages"] if m.level_tag == "success"]
    names = ", ".join(p.full_name for p in people[:3])  # ticked in name order; the last one finds no seat
    assert succeeded == [
        _("%(done)s of %(total)s people were nominated to %(batch)s: %(names)s.")
        % {"done": 3, "total": 4, "batch": open_batch.name, "names": names}
    ]


def test_nominating_into_a_batch_not_open_is_refused(client, organisation, open_batch):
    people = [make_person(SITUBONDO, "psm", 1)]
    Batch.objects.filter(pk=open_batch.pk).update(status=Batch.Status.NOMINATION_CLOSED)
    client.force_login(OperatorFactory(kabupaten=region(SITUBONDO)))
    response = post_nomination(client, open_batch, people)
    assert not Nomination.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [_("Choose a batch that is open for nomination.")]


def test_an_operator_cannot_nominate_someone_of_another_kabupaten(client, organisation, open_batch):
    stranger = make_person(GRESIK, "psm", 7)
    client.force_login(OperatorFactory(kabupaten=region(SITUBONDO)))
    response = post_nomination(client, open_batch, [stranger])
    assert response.status_code == 404
    assert not Nomination.objects.exists()


# ------------------------------------------------------------------------------------------------ permissions

ROLES = ["anonymous", "staff", "other_staff", "operator_situbondo", "operator_gresik", "facilitator"]
URLS = ["coverage", "coverage_untrained", "coverage_untrained_program", "coverage_nominate"]


@pytest.fixture
def world(organisation, open_batch):
    person = make_person(SITUBONDO, "psm", 1)
    return {
        "person": person,
        "batch": open_batch,
        "users": {
            "anonymous": None,
            "staff": organisation["staff"],
            "other_staff": StaffFactory(organiser=OrganiserFactory(code="DINSOS-SBY")),
            "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
            "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
            "facilitator": FacilitatorUserFactory(record__organiser=organisation["upt"]),
        },
    }


def expected(role, name):
    if role == "facilitator":
        return 403
    if name == "coverage":
        return 200
    if role == "operator_gresik":
        return 404  # a Situbondo cell
    if name == "coverage_untrained_program" and role == "other_staff":
        return 404  # another organiser's program
    if name == "coverage_nominate":
        return 302 if role == "operator_situbondo" else 403
    return 200


def test_the_matrix_covers_every_coverage_url():
    from participants.views.coverage import urlpatterns

    assert {p.name for p in urlpatterns} == {name.removesuffix("_program") for name in URLS}


@pytest.mark.parametrize("name", URLS)
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, organisation, role, name):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    cell = {"kabupaten": region(SITUBONDO).pk, "pillar": pillar("psm").pk}
    if name == "coverage":
        response = client.get(reverse("participants:coverage"))
    elif name == "coverage_untrained":
        response = client.get(reverse("participants:coverage_untrained"), cell)
    elif name == "coverage_untrained_program":
        response = client.get(
            reverse("participants:coverage_untrained"), {**cell, "program": organisation["program"].pk}
        )
    else:
        response = client.post(
            reverse("participants:coverage_nominate"),
            {**cell, "batch": world["batch"].pk, "person": world["person"].pk},
        )
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == expected(role, name)
    nominated = Nomination.objects.filter(batch=world["batch"]).exists()
    assert nominated == (name == "coverage_nominate" and role == "operator_situbondo")


def test_the_pages_answer_only_their_methods(client, world):
    client.force_login(world["users"]["operator_situbondo"])
    assert client.post(reverse("participants:coverage")).status_code == 405
    assert client.get(reverse("participants:coverage_nominate")).status_code == 405


@pytest.mark.parametrize("query", [{"pillar": "x"}, {"kabupaten": "99999999999", "pillar": "1"}, {}])
def test_bad_drill_down_parameters_are_404(client, world, query):
    client.force_login(world["users"]["staff"])
    assert client.get(reverse("participants:coverage_untrained"), query).status_code == 404
