"""Staff review of nominations, the participant list with its access codes and export, a nomination's record
and audit trail, and the people registry (participants/views/review.py)."""

import logging
from datetime import date, timedelta
from io import BytesIO

import pytest
import rules
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from participants import services
from participants.exports import ENROLLMENT_COLUMNS
from participants.models import ACCESS_CODE_ALPHABET, Enrollment, Nomination, NominationEvent, Person
from participants.services import Decision
from tests.factories import BatchFactory, OperatorFactory, OrganiserFactory, StaffFactory, pillar, region
from trainings.models import Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
HEADERS = [title for title, _width in ENROLLMENT_COLUMNS]
PDF = b"%PDF-1.7\n" + b"0" * 64


def person_data(serial, kabupaten=SITUBONDO, kecamatan="01", pillar_code="psm", female=False, **extra):
    """Valid data of a person with a NIK of `kabupaten`/`kecamatan`, born 17-08-1985."""
    day = 17 + (40 if female else 0)
    values = {
        "nik": f"{kabupaten.replace('.', '')}{kecamatan}{day}0885{serial:04d}",
        "full_name": f"Peserta {kabupaten} {serial:04d}",
        "gender": "P" if female else "L",
        "birth_place": "Situbondo",
        "birth_date": date(1985, 8, 17),
        "kabupaten": region(kabupaten),
        "pillar_type": pillar(pillar_code),
        "kecamatan": region(f"{kabupaten}.{kecamatan}"),
        "phone": f"0812{serial:08d}",
        "address": f"Jl. Melati No. {serial}",
        "village": "Desa Contoh",
    }
    values.update(extra)
    return services.PersonData(**values)


class World:
    """An open batch of the UPT with quotas for Situbondo (with a kecamatan quota) and Gresik and one for
    PSM, its staff and both kabupaten's operators."""

    def __init__(self):
        today = timezone.localdate()
        self.upt = OrganiserFactory(code="UPT-PTKS")
        self.staff = StaffFactory(organiser=self.upt, first_name="Staf", last_name="Tinjau")
        self.situbondo = OperatorFactory(kabupaten=region(SITUBONDO), first_name="Operator", last_name="Situbondo")
        self.gresik = OperatorFactory(kabupaten=region(GRESIK), first_name="Operator", last_name="Gresik")
        self.batch = BatchFactory(
            organiser=self.upt,
            name="Angkatan I Sinergi",
            status=Batch.Status.NOMINATION_OPEN,
            start_date=today + timedelta(days=30),
            end_date=today + timedelta(days=33),
            nomination_deadline=today + timedelta(days=10),
            quota_total=400,
        )
        self.allocations = {
            "situbondo": QuotaAllocation.objects.create(
                batch=self.batch, kind="kabupaten", region=region(SITUBONDO), seats=300
            ),
            "gresik": QuotaAllocation.objects.create(
                batch=self.batch, kind="kabupaten", region=region(GRESIK), seats=20
            ),
            "psm": QuotaAllocation.objects.create(
                batch=self.batch, kind="pillar", pillar_type=pillar("psm"), seats=300
            ),
            "sumbermalang": QuotaAllocation.objects.create(
                batch=self.batch, kind="kecamatan", region=region("35.12.01"), seats=5
            ),
        }

    def operator_of(self, kabupaten):
        return self.situbondo if kabupaten == SITUBONDO else self.gresik

    def nominate(self, serial, kabupaten=SITUBONDO, **kwargs) -> Nomination:
        nomination, _warnings = services.nomination_submit(
            actor=self.operator_of(kabupaten),
            batch=self.batch,
            kabupaten=region(kabupaten),
            data=person_data(serial, kabupaten, **kwargs),
        )
        return nomination

    def letter(self, kabupaten=SITUBONDO):
        return services.assignment_letter_upload(
            actor=self.operator_of(kabupaten),
            batch=self.batch,
            kabupaten=region(kabupaten),
            file=SimpleUploadedFile("surat-tugas.pdf", PDF),
        )

    def decide(self, nominations, decision=Decision.ACCEPT, reason=""):
        return services.nominations_decide(
            actor=self.staff,
            batch=self.batch,
            nomination_ids=[n.pk for n in nominations],
            decision=decision,
            reason=reason,
        )


@pytest.fixture
def world():
    return World()


@pytest.fixture
def mixed(world):
    """Three Situbondo nominations (two in Sumbermalang, one a TKSK in Jatibanteng) and two of Gresik."""
    world.rows = {
        "sb_psm_1": world.nominate(1),
        "sb_psm_2": world.nominate(2, female=True),
        "sb_tksk": world.nominate(3, kecamatan="02", pillar_code="tksk"),
        "gr_psm": world.nominate(4, GRESIK),
        "gr_tksk": world.nominate(5, GRESIK, pillar_code="tksk"),
    }
    return world


def review_url(world, **params):
    url = reverse("participants:review", args=[world.batch.pk])
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def decide(client, world, ids, decision, reason="", **filters):
    data = {"nominations": [str(pk) for pk in ids], "decision": decision, "reason": reason, **filters}
    return client.post(reverse("participants:review_decide", args=[world.batch.pk]), data)


def shown(response) -> set[int]:
    return {nomination.pk for nomination in response.context["page"].nominations}


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def snapshot():
    return (
        sorted(Nomination.objects.values_list("pk", "status", "reason")),
        sorted(Enrollment.objects.values_list("pk", "access_code")),
        NominationEvent.objects.count(),
    )


# ------------------------------------------------------------------------------------------------- review


def test_review_lists_every_nomination_with_masked_nik_and_quota_counts(client, mixed):
    world = mixed
    world.decide([world.rows["sb_psm_1"]])
    world.decide([world.rows["gr_tksk"]], Decision.REJECT, "Bukan pilar yang diminta")
    client.force_login(world.staff)

    response = client.get(review_url(world))

    assert response.status_code == 200
    assert shown(response) == {n.pk for n in world.rows.values()}
    html = response.content.decode()
    for nomination in world.rows.values():
        assert nomination.person.masked_nik in html
        assert nomination.person.nik not in html
        assert nomination.person.phone not in html
    quota = {
        (row.allocation.pk if row.allocation else "total"): (row.seats, row.taken, row.accepted, row.pending, row.left)
        for row in response.context["page"].quota_rows
    }
    allocations = world.allocations
    assert quota == {
        "total": (400, 4, 1, 3, 396),  # the rejected nomination holds no seat
        allocations["situbondo"].pk: (300, 3, 1, 2, 297),
        allocations["gresik"].pk: (20, 1, 0, 1, 19),
        allocations["psm"].pk: (300, 3, 1, 2, 297),
        allocations["sumbermalang"].pk: (5, 2, 1, 1, 3),
    }
    counts = {code: count for code, _label, count in response.context["page"].status_counts}
    assert counts["pending"] == 3 and counts["accepted"] == 1 and counts["rejected"] == 1
    assert "Bukan pilar yang diminta" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kabupaten": SITUBONDO}, {"sb_psm_1", "sb_psm_2", "sb_tksk"}),
        ({"kabupaten": GRESIK}, {"gr_psm", "gr_tksk"}),
        ({"pillar": "tksk"}, {"sb_tksk", "gr_tksk"}),
        ({"kecamatan": "35.12.01"}, {"sb_psm_1", "sb_psm_2"}),
        ({"kabupaten": SITUBONDO, "pillar": "tksk"}, {"sb_tksk"}),
        ({"status": "accepted"}, {"sb_psm_2"}),
        ({"status": "pending", "kabupaten": GRESIK}, {"gr_psm", "gr_tksk"}),
    ],
)
def test_review_filters(client, mixed, params, expected):
    world = mixed
    world.decide([world.rows["sb_psm_2"]])
    query = {}
    for key, value in params.items():
        if key in ("kabupaten", "kecamatan"):
            query[key] = region(value).pk
        elif key == "pillar":
            query[key] = pillar(value).pk
        else:
            query[key] = value
    client.force_login(world.staff)
    response = client.get(review_url(world, **query))
    assert response.status_code == 200
    assert shown(response) == {world.rows[name].pk for name in expected}


def test_review_filter_choices_come_from_the_batch(client, mixed):
    client.force_login(mixed.staff)
    page = client.get(review_url(mixed, kabupaten=region(GRESIK).pk)).context["page"]
    assert {name for _pk, name in page.kabupaten_choices} == {"Kabupaten Situbondo", "Kabupaten Gresik"}
    assert {name for _pk, name in page.pillar_choices} == {"PSM", "TKSK"}
    # Only the kecamatan of the chosen kabupaten.
    assert {name for _pk, name in page.kecamatan_choices} == {region("35.25.01").name}


@pytest.mark.parametrize(
    ("query", "rows"),
    [("kabupaten=abc", 5), ("pillar=-3", 5), ("status=bogus", 5), ("kabupaten=", 5), ("kecamatan=99999999", 0)],
)
def test_review_ignores_unusable_filter_values(client, mixed, query, rows):
    """Values that are not ids or statuses are ignored; an id of nothing in the batch simply matches nothing."""
    client.force_login(mixed.staff)
    response = client.get(review_url(mixed) + "?" + query)
    assert response.status_code == 200
    assert len(response.context["page"].nominations) == rows


def test_bulk_accept_creates_enrolments_with_unique_unambiguous_access_codes(client, mixed):
    world = mixed
    chosen = [world.rows[name] for name in ("sb_psm_1", "sb_psm_2", "sb_tksk", "gr_psm")]
    client.force_login(world.staff)

    response = decide(client, world, [n.pk for n in chosen], Decision.ACCEPT, kabupaten=region(SITUBONDO).pk)

    assert response.status_code == 302
    assert response.url == review_url(world, kabupaten=region(SITUBONDO).pk)  # the filters are kept
    enrollments = list(Enrollment.objects.filter(batch=world.batch))
    assert {e.nomination_id for e in enrollments} == {n.pk for n in chosen}
    codes = [e.access_code for e in enrollments]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(ACCESS_CODE_ALPHABET)
        assert not set(code) & set("0O1IL5S2Z")
    assert set(Nomination.objects.filter(pk__in=[n.pk for n in chosen]).values_list("status", flat=True)) == {
        "accepted"
    }
    assert Nomination.objects.get(pk=world.rows["gr_tksk"].pk).status == "pending"
    events = NominationEvent.objects.filter(action="accepted")
    assert {e.nomination_id for e in events} == {n.pk for n in chosen}
    assert {e.actor_id for e in events} == {world.staff.pk}


@pytest.mark.parametrize("decision", [Decision.REJECT, Decision.REQUEST_REPLACEMENT])
def test_reject_and_replacement_need_a_reason_and_write_nothing_without_it(client, mixed, decision):
    world = mixed
    ids = [world.rows["sb_psm_1"].pk, world.rows["gr_psm"].pk]
    client.force_login(world.staff)
    before = snapshot()

    response = decide(client, world, ids, decision, reason="   ")

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert snapshot() == before
    # The ticked rows stay ticked.
    assert response.context["selected"] == {str(pk) for pk in ids}
    html = response.content.decode()
    for name in ("sb_psm_1", "gr_psm"):
        nomination = world.rows[name]
        assert f'value="{nomination.pk}" aria-label="{nomination.person.full_name}" checked' in html
    assert f'value="{world.rows["sb_tksk"].pk}" aria-label="{world.rows["sb_tksk"].person.full_name}">' in html


@pytest.mark.parametrize(
    ("decision", "status"), [(Decision.REJECT, "rejected"), (Decision.REQUEST_REPLACEMENT, "replace")]
)
def test_reject_and_replacement_with_a_reason(client, mixed, decision, status):
    world = mixed
    client.force_login(world.staff)
    response = decide(client, world, [world.rows["gr_psm"].pk], decision, reason="Usia di atas batas")
    assert response.status_code == 302
    nomination = Nomination.objects.get(pk=world.rows["gr_psm"].pk)
    assert (nomination.status, nomination.reason, nomination.decided_by) == (status, "Usia di atas batas", world.staff)
    assert not Enrollment.objects.exists()
    assert "Usia di atas batas" in client.get(review_url(world)).content.decode()


def test_accept_is_refused_when_the_kabupatens_required_letter_is_missing(client, mixed):
    world = mixed
    Batch.objects.filter(pk=world.batch.pk).update(requires_assignment_letter=True)
    letter = world.letter(SITUBONDO)
    client.force_login(world.staff)

    page = client.get(review_url(world))
    html = page.content.decode()
    assert page.context["page"].missing_letters == ["Kabupaten Gresik"]
    assert 'id="missing-letters"' in html
    assert reverse("participants:letter_download", args=[letter.pk]) in html
    rows = {n.pk: n for n in page.context["page"].nominations}
    assert rows[world.rows["sb_psm_1"].pk].letter == letter
    assert rows[world.rows["gr_psm"].pk].letter is None

    before = snapshot()
    mixed_ids = [world.rows["sb_psm_1"].pk, world.rows["gr_psm"].pk]
    response = decide(client, world, mixed_ids, Decision.ACCEPT)
    assert response.status_code == 200
    assert any("Kabupaten Gresik" in text for text in message_texts(response))
    assert snapshot() == before  # nothing half-done: not even the Situbondo one

    response = decide(client, world, [world.rows["sb_psm_1"].pk, world.rows["sb_tksk"].pk], Decision.ACCEPT)
    assert response.status_code == 302
    assert Enrollment.objects.count() == 2
    # Rejecting needs no letter.
    assert decide(client, world, [world.rows["gr_psm"].pk], Decision.REJECT, reason="Kuota").status_code == 302


def test_a_letter_that_is_not_required_is_shown_but_does_not_block(client, mixed):
    client.force_login(mixed.staff)
    response = client.get(review_url(mixed))
    assert response.context["page"].missing_letters == []
    assert 'id="missing-letters"' not in response.content.decode()
    assert decide(client, mixed, [mixed.rows["gr_psm"].pk], Decision.ACCEPT).status_code == 302


@pytest.mark.parametrize("decision", [Decision.ACCEPT, Decision.REJECT, Decision.REQUEST_REPLACEMENT])
def test_decisions_on_nominations_no_longer_waiting_are_refused(client, mixed, decision):
    world = mixed
    world.decide([world.rows["sb_psm_1"]])
    services.nomination_withdraw(actor=world.situbondo, nomination=world.rows["sb_psm_2"])
    client.force_login(world.staff)
    before = snapshot()
    for pk in (world.rows["sb_psm_1"].pk, world.rows["sb_psm_2"].pk):
        response = decide(client, world, [pk, world.rows["gr_psm"].pk], decision, reason="Alasan")
        assert response.status_code == 200
        assert message_texts(response)
        assert snapshot() == before


def test_deciding_without_a_choice_or_with_unknown_ids_writes_nothing(client, mixed):
    client.force_login(mixed.staff)
    before = snapshot()
    other_batch = BatchFactory(organiser=mixed.upt, status=Batch.Status.NOMINATION_OPEN)
    for ids in ([], ["abc"], [999999]):
        response = decide(client, mixed, ids, Decision.ACCEPT)
        assert response.status_code == 200
        assert message_texts(response)
    response = decide(client, mixed, [mixed.rows["gr_psm"].pk], "approve-all")
    assert response.status_code == 200 and "decision" in response.context["form"].errors
    # A nomination of another batch cannot be decided through this batch's page.
    response = client.post(
        reverse("participants:review_decide", args=[other_batch.pk]),
        {"nominations": [mixed.rows["gr_psm"].pk], "decision": Decision.ACCEPT},
    )
    assert response.status_code == 200
    assert snapshot() == before


def test_review_page_runs_a_fixed_number_of_queries(client, world, django_assert_num_queries):
    """40 and 264 nominations (Probolinggo's size) cost the same; see also `manage.py bench`."""
    client.force_login(world.staff)
    counts = []
    for size in (40, 264):
        Nomination.objects.all().delete()
        Person.objects.all().delete()
        bulk_nominations(world, size)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(review_url(world))
        assert response.status_code == 200
        assert len(response.context["page"].nominations) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(REVIEW_QUERIES):
        client.get(review_url(world))


# session, user, batch, allocations, letters, seats taken, counts by group, rows
REVIEW_QUERIES = 8


def bulk_nominations(world, size):
    """`size` pending nominations over both kabupaten, several kecamatan and pillars, written directly."""
    pillars = [pillar("psm"), pillar("tksk"), pillar("kasi-kesra")]
    people, nominations = [], []
    for serial in range(1, size + 1):
        kabupaten = SITUBONDO if serial % 5 else GRESIK
        data = person_data(serial, kabupaten, kecamatan=f"{serial % 9 + 1:02d}")
        data.pillar_type = pillars[serial % 3]
        people.append(Person(**{name: getattr(data, name) for name in services.PERSON_FIELDS}))
    people = Person.objects.bulk_create(people)
    for person in people:
        nominations.append(
            Nomination(
                batch=world.batch,
                person=person,
                kabupaten=person.kabupaten,
                kecamatan=person.kecamatan,
                pillar_type=person.pillar_type,
                nominated_by=world.operator_of(person.kabupaten.code),
            )
        )
    return Nomination.objects.bulk_create(nominations)


# -------------------------------------------------------------------------------------------- audit trail


def test_the_nomination_page_shows_every_event_with_actor_and_time(client, world):
    first = world.nominate(1)  # created
    other_batch = BatchFactory(
        organiser=world.upt,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=world.batch.end_date + timedelta(days=10),
        end_date=world.batch.end_date + timedelta(days=12),
    )
    # The same person nominated again elsewhere with a corrected phone number: a registry change.
    again, _ = services.nomination_submit(
        actor=world.situbondo,
        batch=other_batch,
        kabupaten=region(SITUBONDO),
        data=person_data(1, phone="085299990000"),
    )
    withdrawn = world.nominate(2)
    services.nomination_withdraw(actor=world.situbondo, nomination=withdrawn, reason="Sakit")
    rejected = world.nominate(3)
    world.decide([rejected], Decision.REJECT, "Bukan PSM")
    accepted = world.nominate(4)
    world.decide([accepted])
    replaced = world.nominate(5)
    replacement, _ = services.nomination_replace(actor=world.situbondo, nomination=replaced, data=person_data(6))
    client.force_login(world.staff)

    def trail(nomination):
        response = client.get(reverse("participants:nomination_detail", args=[nomination.pk]))
        assert response.status_code == 200
        return response, response.content.decode()

    response, html = trail(first)
    assert [e.action for e in response.context["nomination"].events.all()] == ["created"]
    assert "Operator Situbondo" in html
    created_at = first.events.get().at
    assert timezone.localtime(created_at).strftime("%Y-%m-%dT%H:%M:%S") in html

    response, html = trail(again)
    assert [e.action for e in response.context["nomination"].events.all()] == ["created", "person"]
    assert "<del>081200000001</del> → 085299990000" in html

    response, html = trail(withdrawn)
    assert [e.action for e in response.context["nomination"].events.all()] == ["created", "withdrawn"]
    assert "Sakit" in html

    response, html = trail(rejected)
    events = list(response.context["nomination"].events.all())
    assert [e.action for e in events] == ["created", "rejected"]
    assert events[1].actor == world.staff and "Staf Tinjau" in html and "Bukan PSM" in html

    response, html = trail(accepted)
    assert [e.action for e in response.context["nomination"].events.all()] == ["created", "accepted"]
    assert response.context["enrollment"].access_code in html  # staff see the code

    response, html = trail(replaced)
    assert [e.action for e in response.context["nomination"].events.all()] == ["created", "replaced"]
    assert response.context["replaced_by"] == replacement
    assert reverse("participants:nomination_detail", args=[replacement.pk]) in html

    response, html = trail(replacement)
    assert response.context["nomination"].replaces == replaced
    assert 'id="replaces"' in html and replaced.person.full_name in html


def test_the_nomination_page_shows_the_full_personal_data_to_the_nominating_operator(client, world):
    nomination = world.nominate(1)
    client.force_login(world.situbondo)
    response = client.get(reverse("participants:nomination_detail", args=[nomination.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    # As typed into the nomination (the same page whoever the NIK belongs to), the NIK masked.
    assert nomination.person.masked_nik in html and nomination.person.phone in html
    assert 'id="as-submitted"' in html
    assert [e.action for e in response.context["nomination"].events.all()] == ["created"]


# -------------------------------------------------------------------------------------- participant lists


@pytest.fixture
def enrolled(mixed):
    mixed.decide([mixed.rows[name] for name in ("sb_psm_1", "sb_psm_2", "sb_tksk", "gr_psm")])
    return mixed


def enrollments_url(world, name="enrollments", **params):
    url = reverse(f"participants:{name}", args=[world.batch.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_staff_see_every_participant_masked_and_may_show_access_codes(client, enrolled):
    client.force_login(enrolled.staff)
    response = client.get(enrollments_url(enrolled))
    html = response.content.decode()
    enrollments = list(Enrollment.objects.select_related("person"))
    assert {e.pk for e in response.context["enrollments"]} == {e.pk for e in enrollments}
    for enrollment in enrollments:
        assert enrollment.person.masked_nik in html
        assert enrollment.person.nik not in html
        assert enrollment.access_code not in html
    html = client.get(enrollments_url(enrolled, codes=1)).content.decode()
    assert all(e.access_code in html for e in enrollments)
    gresik = client.get(enrollments_url(enrolled, kabupaten=region(GRESIK).pk)).context["enrollments"]
    assert [e.nomination.kabupaten.code for e in gresik] == [GRESIK]


def test_an_operator_sees_only_their_kabupatens_participants_and_never_the_codes_in_the_list(client, enrolled):
    client.force_login(enrolled.gresik)
    # A staff-only filter or the codes switch changes nothing for an operator.
    response = client.get(enrollments_url(enrolled, codes=1, kabupaten=region(SITUBONDO).pk))
    assert response.status_code == 200
    assert [e.nomination_id for e in response.context["enrollments"]] == [enrolled.rows["gr_psm"].pk]
    assert Enrollment.objects.get(nomination=enrolled.rows["gr_psm"]).access_code not in response.content.decode()


def test_access_codes_page_lists_codes_per_kabupaten(client, enrolled):
    codes = {e.nomination.kabupaten.code: [] for e in Enrollment.objects.select_related("nomination__kabupaten")}
    for e in Enrollment.objects.select_related("nomination__kabupaten"):
        codes[e.nomination.kabupaten.code].append(e.access_code)
    client.force_login(enrolled.staff)

    response = client.get(enrollments_url(enrolled, "access_codes"))
    assert [region_.code for region_, _rows in response.context["groups"]] == [SITUBONDO, GRESIK]
    html = response.content.decode()
    assert all(code in html for group in codes.values() for code in group)
    assert "@page" in html and "A4" in html

    response = client.get(enrollments_url(enrolled, "access_codes", kabupaten=region(GRESIK).pk))
    assert [region_.code for region_, _rows in response.context["groups"]] == [GRESIK]


def test_only_the_staff_print_access_codes(client, enrolled):
    """The staff hand the codes out: an operator sees their participants but neither the printable codes
    nor the button to them."""
    client.force_login(enrolled.situbondo)
    for kabupaten in (None, region(SITUBONDO).pk, region(GRESIK).pk):
        query = {"kabupaten": kabupaten} if kabupaten else {}
        assert client.get(enrollments_url(enrolled, "access_codes", **query)).status_code == 403
    page = client.get(enrollments_url(enrolled)).content.decode()
    assert reverse("participants:access_codes", args=[enrolled.batch.pk]) not in page
    client.force_login(enrolled.staff)
    page = client.get(enrollments_url(enrolled)).content.decode()
    assert reverse("participants:access_codes", args=[enrolled.batch.pk]) in page


def read_xlsx(response):
    sheet = load_workbook(BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def test_staff_export_has_indonesian_headers_full_nik_and_access_codes(client, enrolled):
    client.force_login(enrolled.staff)
    response = client.get(enrollments_url(enrolled, "enrollments_export"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.xlsx"')
    headers, rows = read_xlsx(response)
    assert headers == [*HEADERS, "Kode Akses"]
    assert headers[:3] == ["No", "NIK", "Nama Lengkap"]
    enrollments = {e.person.nik: e for e in Enrollment.objects.select_related("person", "nomination__pillar_type")}
    assert len(rows) == 4
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    for row in rows:
        enrollment = enrollments[row[1]]  # the full NIK, as text
        person = enrollment.person
        assert isinstance(row[1], str) and len(row[1]) == 16
        assert row[2] == person.full_name
        assert row[3] == ("Perempuan" if person.gender == "P" else "Laki-laki")
        assert row[5].date() == person.birth_date
        assert row[6] == person.kabupaten.name
        assert row[10] == person.phone
        assert row[12] == enrollment.nomination.pillar_type.name
        assert row[-1] == enrollment.access_code
        assert person.nik not in disposition and person.full_name not in disposition


def test_operator_export_holds_only_their_kabupaten_and_no_access_codes(client, enrolled):
    client.force_login(enrolled.situbondo)
    response = client.get(enrollments_url(enrolled, "enrollments_export", kabupaten=region(GRESIK).pk))
    headers, rows = read_xlsx(response)
    assert headers == HEADERS
    assert "Kode Akses" not in headers
    situbondo = set(
        Enrollment.objects.filter(nomination__kabupaten__code=SITUBONDO).values_list("person__nik", flat=True)
    )
    assert {row[1] for row in rows} == situbondo
    codes = set(Enrollment.objects.values_list("access_code", flat=True))
    assert not codes & {cell for row in rows for cell in row}
    assert "35.12" in response["Content-Disposition"]


def test_export_writes_text_that_looks_like_a_formula_as_text(client, world):
    nomination = world.nominate(1, full_name="=HYPERLINK(1)", address="=1+1")
    world.decide([nomination])
    client.force_login(world.staff)
    response = client.get(enrollments_url(world, "enrollments_export"))
    sheet = load_workbook(BytesIO(response.content)).active
    assert sheet["C2"].value == "=HYPERLINK(1)" and sheet["C2"].data_type == "s"
    assert sheet["J2"].data_type == "s"


@pytest.mark.parametrize("size", [5, 50])
def test_participant_list_runs_a_fixed_number_of_queries(client, world, django_assert_num_queries, size):
    world.decide(bulk_nominations(world, size))
    client.force_login(world.staff)
    # session, user, batch, the rows, the kabupaten choices
    with django_assert_num_queries(5):
        response = client.get(enrollments_url(world, codes=1))
    assert len(response.context["enrollments"]) == size
    with django_assert_num_queries(4):
        response = client.get(enrollments_url(world, "access_codes"))
    assert sum(len(rows) for _region, rows in response.context["groups"]) == size


# ------------------------------------------------------------------------------------------------ people


def test_person_page_shows_personal_data_and_training_history(client, world):
    nomination = world.nominate(1)
    world.decide([nomination])
    finished = BatchFactory(organiser=world.upt, name="Angkatan Lama", status=Batch.Status.NOMINATION_OPEN)
    old, _ = services.nomination_submit(
        actor=world.staff, batch=finished, kabupaten=region(SITUBONDO), data=person_data(1)
    )
    services.nomination_withdraw(actor=world.staff, nomination=old)
    person = nomination.person
    client.force_login(world.staff)

    response = client.get(reverse("participants:person_detail", args=[person.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert person.nik in html and person.phone in html and person.address in html
    history = response.context["person"].history
    assert [(n.batch.name, n.status) for n in history] == [
        ("Angkatan I Sinergi", "accepted"),
        ("Angkatan Lama", "withdrawn"),
    ]
    assert history[0].enrollment_or_none is not None and history[1].enrollment_or_none is None
    assert world.batch.program.title in html
    assert reverse("participants:nomination_detail", args=[nomination.pk]) in html


@pytest.fixture
def no_personal_data():
    """A role that may find people but not see their personal data (none has it yet; the page must cope)."""
    original = rules.permissions.permissions["participants.person.personal_data"]
    rules.set_perm("participants.person.personal_data", rules.always_deny)
    yield
    rules.set_perm("participants.person.personal_data", original)


def test_person_and_nomination_pages_mask_without_the_personal_data_permission(client, world, no_personal_data):
    nomination = world.nominate(1)
    other_batch = BatchFactory(
        organiser=world.upt,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=world.batch.end_date + timedelta(days=10),
        end_date=world.batch.end_date + timedelta(days=12),
    )
    again, _ = services.nomination_submit(
        actor=world.situbondo,
        batch=other_batch,
        kabupaten=region(SITUBONDO),
        data=person_data(1, phone="085299990000"),
    )
    person = nomination.person
    client.force_login(world.staff)
    for url in (
        reverse("participants:person_detail", args=[person.pk]),
        reverse("participants:nomination_detail", args=[nomination.pk]),
        reverse("participants:nomination_detail", args=[again.pk]),
    ):
        html = client.get(url).content.decode()
        assert person.masked_nik in html
        for secret in (person.nik, "081200000001", "085299990000", person.address, "17 Agustus 1985", "1985-08-17"):
            assert secret not in html, (url, secret)
        assert person.full_name in html


def test_person_page_for_the_operator_of_their_kabupaten(client, world):
    nomination = world.nominate(1)
    client.force_login(world.situbondo)
    response = client.get(reverse("participants:person_detail", args=[nomination.person.pk]))
    assert response.status_code == 200
    assert nomination.person.nik in response.content.decode()


@pytest.mark.parametrize("nominations", [1, 6])
def test_person_page_runs_a_fixed_number_of_queries(client, world, django_assert_num_queries, nominations):
    person = world.nominate(1).person
    start = world.batch.end_date
    for i in range(1, nominations):
        batch = BatchFactory(
            organiser=world.upt,
            status=Batch.Status.NOMINATION_OPEN,
            start_date=start + timedelta(days=10 * i),
            end_date=start + timedelta(days=10 * i + 2),
        )
        services.nomination_submit(actor=world.staff, batch=batch, kabupaten=region(SITUBONDO), data=person_data(1))
    client.force_login(world.staff)
    # session, user, person, history; the history with attendance (one query while never enrolled; see
    # tests/participants/test_history.py), the merge history
    with django_assert_num_queries(6):
        response = client.get(reverse("participants:person_detail", args=[person.pk]))
    assert len(response.context["person"].history) == nominations


def test_person_list_searches_by_name_and_pages_by_50(client, world):
    bulk_nominations(world, 60)
    Person.objects.filter(pk=Person.objects.order_by("pk").first().pk).update(full_name="Siti Aminah")
    client.force_login(world.staff)

    response = client.get(reverse("participants:person_list"))
    assert len(response.context["page"]) == 50 and response.context["page"].paginator.count == 60
    assert len(client.get(reverse("participants:person_list") + "?page=2").context["page"]) == 10
    response = client.get(reverse("participants:person_list") + "?q=aminah")
    assert [p.full_name for p in response.context["page"]] == ["Siti Aminah"]
    html = response.content.decode()
    person = Person.objects.get(full_name="Siti Aminah")
    assert person.masked_nik in html and person.nik not in html


def test_person_list_finds_a_nik_by_post_and_redirects_by_id(client, world):
    person = world.nominate(1).person
    client.force_login(world.staff)
    url = reverse("participants:person_list")

    spaced = f"{person.nik[:4]} {person.nik[4:8]} {person.nik[8:]}"
    response = client.post(url, {"nik": spaced})
    assert response.status_code == 302
    assert response.url == reverse("participants:person_detail", args=[person.pk])
    assert person.nik not in response.url

    response = client.post(url, {"nik": "3512011708859999"})
    assert response.status_code == 200 and "nik" in response.context["nik_form"].errors
    response = client.post(url, {"nik": "12345"})
    assert response.status_code == 200 and "nik" in response.context["nik_form"].errors


# -------------------------------------------------------------------------------------------- privacy


def test_no_personal_data_reaches_the_logs(client, mixed, caplog):
    caplog.set_level(logging.DEBUG)
    nomination = mixed.rows["gr_psm"]
    nik = nomination.person.nik
    client.force_login(mixed.staff)
    client.post(reverse("participants:person_list"), {"nik": nik})
    client.post(reverse("participants:person_list"), {"nik": nik[:-1] + "9"})
    decide(client, mixed, [nomination.pk], Decision.REJECT, reason="")
    client.get(reverse("participants:nomination_detail", args=[999999]))  # a 404 is logged, by path
    client.get(reverse("participants:enrollments_export", args=[mixed.batch.pk]))
    assert nik not in caplog.text
    assert nik[:-1] + "9" not in caplog.text
    assert nomination.person.full_name not in caplog.text


def test_batch_page_links_staff_to_the_review_and_participants(client, mixed):
    client.force_login(mixed.staff)
    html = client.get(reverse("trainings:batch_detail", args=[mixed.batch.pk])).content.decode()
    assert reverse("participants:review", args=[mixed.batch.pk]) in html
    assert reverse("participants:enrollments", args=[mixed.batch.pk]) in html
    client.force_login(mixed.situbondo)
    html = client.get(reverse("trainings:batch_detail", args=[mixed.batch.pk])).content.decode()
    assert reverse("participants:review", args=[mixed.batch.pk]) not in html


# -------------------------------------------------------------------------------------------------- admin


def test_admin_shows_staff_their_organisers_nominations_read_only(client, mixed):
    other = BatchFactory(status=Batch.Status.NOMINATION_OPEN, quota_total=5)
    foreign, _ = services.nomination_submit(
        actor=mixed.gresik, batch=other, kabupaten=region(GRESIK), data=person_data(90, GRESIK)
    )
    mixed.staff.is_staff = True  # admin access; the role gives the model permissions
    mixed.staff.save()
    client.force_login(mixed.staff)

    response = client.get(reverse("admin:participants_nomination_changelist"))
    assert response.status_code == 200
    listed = {n.pk for n in response.context["cl"].result_list}
    assert listed == {n.pk for n in mixed.rows.values()}
    assert foreign.pk not in listed
    assert client.get(reverse("admin:participants_nomination_change", args=[foreign.pk])).status_code == 302
    nomination = mixed.rows["sb_psm_1"]
    response = client.get(reverse("admin:participants_nomination_change", args=[nomination.pk]))
    assert response.status_code == 200 and response.context["has_change_permission"] is False
    assert client.get(reverse("admin:participants_nomination_add")).status_code == 403
    assert client.get(reverse("admin:participants_person_changelist")).status_code == 200
    assert client.get(reverse("admin:participants_enrollment_changelist")).status_code == 200
    assert client.post(reverse("admin:participants_nomination_delete", args=[nomination.pk])).status_code == 403
    assert Nomination.objects.filter(pk=nomination.pk).exists()


def test_operators_have_no_admin(client, mixed):
    client.force_login(mixed.situbondo)
    response = client.get(reverse("admin:participants_nomination_changelist"))
    assert response.status_code == 302 and "login" in response.url
