"""The Dinsos operator's nomination pages as an operator uses them: their batches with the seats left,
adding one participant (a new person, or one the registry fills in and the operator corrects), every
refusal shown next to its field with nothing written and the typed values kept, warnings that do not
block, withdraw and replace keeping both records, the assignment letter checked by content and served
only through a permission-checked view, and a page whose query count does not grow with its nominations."""

import re
from contextlib import contextmanager
from datetime import date, timedelta
from html import escape

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from participants import services
from participants.models import AssignmentLetter, Enrollment, Nomination, NominationEvent, Person
from tests.factories import BatchFactory, OperatorFactory, OrganiserFactory, StaffFactory, pillar, region
from trainings.models import Batch, QuotaAllocation


@contextmanager
def english(client):
    """Pages in English: the language cookie for the request, and English for strings the test formats."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    try:
        with override("en"):
            yield
    finally:
        del client.cookies[settings.LANGUAGE_COOKIE_NAME]


pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 200
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
# Pinned: the operator's page of one batch, whatever the number of nominations.
PAGE_QUERIES = 11
STAFF_PAGE_QUERIES = 11
HOME_QUERIES = 7


def nik(serial: int, *, kecamatan: str = "351201", day: int = 17, female: bool = False) -> str:
    return f"{kecamatan}{day + 40 if female else day:02d}0885{serial:04d}"


def data(serial=1, **overrides) -> services.PersonData:
    values = {
        "nik": nik(serial),
        "full_name": f"Peserta {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": date(1985, 8, 17),
        "kabupaten": region(SITUBONDO),
        "pillar_type": pillar("psm"),
        "kecamatan": region("35.12.01"),
    }
    values.update(overrides)
    return services.PersonData(**values)


def post(serial=1, **overrides) -> dict:
    values = {
        "nik": nik(serial),
        "full_name": f"Peserta {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": "1985-08-17",
        "pillar_type": pillar("psm").pk,
        "pillar_detail": "",
        "kecamatan": region("35.12.01").pk,
        "village": "Sumberanyar",
        "address": "Jl. Melati 3",
        "phone": "081234567890",
        "email": "",
        "education": "sma",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@pytest.fixture
def organiser():
    return OrganiserFactory(code="UPT-PTKS", name="UPT PTKS Malang", email="ptks@example.org")


@pytest.fixture
def staff(organiser):
    return StaffFactory(organiser=organiser)


@pytest.fixture
def operator():
    return OperatorFactory(username="operator.situbondo", kabupaten=region(SITUBONDO))


@pytest.fixture
def batch(organiser):
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=organiser,
        name="Angkatan II Situbondo",
        status=Batch.Status.NOMINATION_OPEN,
        start_date=today + timedelta(days=30),
        end_date=today + timedelta(days=33),
        nomination_deadline=today + timedelta(days=10),
        quota_total=40,
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    return batch


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def page_url(batch) -> str:
    return reverse("participants:batch_nominations", args=[batch.pk])


def submit(actor, batch, person_data):
    return services.nomination_submit(actor=actor, batch=batch, kabupaten=region(SITUBONDO), data=person_data)


def state():
    """Everything adding, withdrawing or replacing can write."""
    return (
        sorted(Nomination.objects.values_list("pk", "person_id", "status")),
        sorted(Person.objects.values_list("nik", "full_name", "phone", "birth_date", "gender")),
        NominationEvent.objects.count(),
    )


def field_error(response, field: str, form_name: str = "person_form") -> str:
    """The field's error as crispy renders it next to the field (whose input is marked invalid)."""
    form = response.context[form_name]
    assert field in form.errors, f"no error on {field}: {form.errors.as_data()}"
    content = response.content.decode()
    auto_id = form[field].auto_id
    match = re.search(rf'<(p|span) id="error_1_{re.escape(auto_id)}"><strong>(.*?)</strong>', content, re.S)
    assert match, f"the error of {field} is not rendered next to it"
    assert match.group(2) == escape(str(form.errors[field][0]), quote=True)
    widget = re.search(rf'<(input|select|textarea)[^>]*id="{re.escape(auto_id)}"[^>]*>', content)
    assert widget and "is-invalid" in widget.group(), f"{field} is not marked invalid"
    return match.group(2)


def input_value(response, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', response.content.decode())
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group())
    return value.group(1) if value else None


def selected_value(response, name: str) -> str | None:
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    assert select, f"no select {name}"
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return option.group(1) if option else None


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


# --------------------------------------------------------------------------------------------- home


def test_operators_land_on_their_nominations_and_find_them_in_the_menu(operator_client):
    response = operator_client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("participants:nominations_home")
    with english(operator_client):
        content = operator_client.get(response["Location"]).content.decode()
    assert f'href="{reverse("participants:nominations_home")}">Nominations</a>' in content


def test_home_shows_open_batches_with_the_seats_left_that_concern_the_kabupaten(
    operator_client, operator, staff, batch, organiser
):
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("tksk"), seats=4)
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.12.02"), seats=2)
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(GRESIK), seats=10)
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.25.01"), seats=3)
    submit(operator, batch, data(1, pillar_type=pillar("tksk"), kecamatan=region("35.12.02")))
    submit(operator, batch, data(2))
    services.nomination_submit(
        actor=staff,
        batch=batch,
        kabupaten=region(GRESIK),
        data=data(3, nik=nik(3, kecamatan="352501"), kabupaten=region(GRESIK), kecamatan=region("35.25.01")),
    )
    today = timezone.localdate()
    finished = BatchFactory(
        organiser=organiser,
        name="Angkatan I Situbondo",
        status=Batch.Status.NOMINATION_OPEN,
        start_date=today - timedelta(days=60),
        end_date=today - timedelta(days=57),
    )
    QuotaAllocation.objects.create(batch=finished, kind="kabupaten", region=region(SITUBONDO), seats=5)
    first, _ = submit(operator, finished, data(4))
    submit(operator, finished, data(5))
    submit(operator, finished, data(6))
    services.nominations_decide(actor=staff, batch=finished, nomination_ids=[first.pk], decision="accept")
    services.nomination_withdraw(actor=operator, nomination=Nomination.objects.get(person__nik=nik(6)))
    Batch.objects.filter(pk=finished.pk).update(status=Batch.Status.FINISHED)
    draft = BatchFactory(organiser=organiser, name="Angkatan III (draft)")
    QuotaAllocation.objects.create(batch=draft, kind="kabupaten", region=region(SITUBONDO), seats=5)
    gresik_only = BatchFactory(organiser=organiser, name="Angkatan Gresik", status=Batch.Status.NOMINATION_OPEN)
    QuotaAllocation.objects.create(batch=gresik_only, kind="kabupaten", region=region(GRESIK), seats=5)

    response = operator_client.get(reverse("participants:nominations_home"))

    assert response.status_code == 200
    home = response.context["home"]
    [item] = home.open_batches
    assert item.batch == batch
    assert item.own_active == 2
    rows = {(r.allocation.target if r.allocation else "total"): (r.seats, r.taken, r.left) for r in item.seats}
    assert rows == {
        "total": (40, 3, 37),
        region(SITUBONDO): (10, 2, 8),
        pillar("tksk"): (4, 1, 3),
        region("35.12.02"): (2, 1, 1),
    }  # Gresik's allocation and its kecamatan do not concern Situbondo
    [past] = home.past_batches
    assert past.batch == finished
    with override("en"):
        assert [(str(label), n) for label, n in past.counts] == [
            ("Waiting for review", 1),
            ("Accepted", 1),
            ("Withdrawn", 1),
        ]
    content = response.content.decode()
    assert batch.nomination_deadline.strftime("%Y") in content
    assert "Angkatan Gresik" not in content and "Angkatan III (draft)" not in content


@pytest.mark.parametrize("batches", [1, 4])
def test_home_queries_do_not_grow_with_the_batches(
    operator_client, operator, organiser, django_assert_num_queries, batches
):
    for i in range(batches):
        batch = BatchFactory(organiser=organiser, status=Batch.Status.NOMINATION_OPEN)
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=5)
        QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=5)
        submit(operator, batch, data(i + 1))
        closed = BatchFactory(organiser=organiser, status=Batch.Status.NOMINATION_CLOSED)
        QuotaAllocation.objects.create(batch=closed, kind="kabupaten", region=region(SITUBONDO), seats=5)
    with django_assert_num_queries(HOME_QUERIES):
        response = operator_client.get(reverse("participants:nominations_home"))
    assert len(response.context["home"].open_batches) == batches


def test_home_lists_a_batch_past_its_deadline_apart_from_those_open_to_the_operator(
    operator_client, operator, batch, organiser
):
    """Still open for nomination (the staff may add), but not for the operator any more."""
    today = timezone.localdate()
    late = BatchFactory(
        organiser=organiser,
        name="Angkatan Terlambat",
        status=Batch.Status.NOMINATION_OPEN,
        start_date=today + timedelta(days=40),
        end_date=today + timedelta(days=42),
        nomination_deadline=today + timedelta(days=5),
    )
    QuotaAllocation.objects.create(batch=late, kind="kabupaten", region=region(SITUBONDO), seats=5)
    submit(operator, late, data(1))
    Batch.objects.filter(pk=late.pk).update(nomination_deadline=today - timedelta(days=1))
    Batch.objects.filter(pk=batch.pk).update(nomination_deadline=today)  # the last day still counts

    response = operator_client.get(reverse("participants:nominations_home"))

    home = response.context["home"]
    assert [item.batch for item in home.open_batches] == [batch]
    [past] = home.past_batches
    assert (past.batch, past.deadline_passed) == (late, True)
    assert [(status, n) for status, n in past.counts] == [(Nomination.Status.PENDING.label, 1)]
    content = response.content.decode()
    open_list = re.search(r'id="open-batches".*?id="past-batches"', content, re.S).group()
    assert "Angkatan Terlambat" not in open_list
    past_list = content[content.index('id="past-batches"') :]
    assert "Angkatan Terlambat" in past_list and "data-deadline-passed" in past_list


# ------------------------------------------------------------------------------------------ add one


def test_adding_a_new_person(operator_client, operator, batch):
    response = operator_client.post(page_url(batch), post(1, pillar_detail="PSM Desa Sumberanyar"))

    assert response.status_code == 302
    assert response["Location"] == page_url(batch)
    [(level, _text)] = messages_of(response)
    assert level == "success"
    nomination = Nomination.objects.get()
    assert (nomination.batch, nomination.kabupaten, nomination.nominated_by) == (batch, region(SITUBONDO), operator)
    person = nomination.person
    assert (person.nik, person.full_name, person.birth_date, person.kabupaten) == (
        nik(1),
        "Peserta 1",
        date(1985, 8, 17),
        region(SITUBONDO),
    )
    assert (person.phone, person.pillar_detail, person.education) == ("081234567890", "PSM Desa Sumberanyar", "sma")
    page = operator_client.get(page_url(batch))
    content = page.content.decode()
    assert person.masked_nik in content
    assert nik(1) not in content  # the list shows the NIK masked
    assert page.context["page"].seats[0].left == 39


def test_a_nik_in_the_registry_fills_the_form_in_and_corrections_update_the_registry(
    operator_client, operator, organiser, staff, batch
):
    earlier = BatchFactory(organiser=organiser, status=Batch.Status.NOMINATION_OPEN)
    submit(operator, earlier, data(7, full_name="Siti Aminah", gender="P", nik=nik(7, female=True), phone="0811"))
    person = Person.objects.get()

    response = operator_client.post(
        reverse("participants:person_lookup"),
        {"nik": f"{person.nik[:6]}.{person.nik[6:12]}.{person.nik[12:]}", "batch": batch.pk, "full_name": "Sit"},
    )

    assert response.status_code == 200
    assert response.context["found"] == person
    assert input_value(response, "full_name") == "Siti Aminah"
    assert input_value(response, "nik") == person.nik
    assert input_value(response, "birth_date") == "1985-08-17"
    assert input_value(response, "phone") == "0811"
    assert selected_value(response, "gender") == "P"
    assert selected_value(response, "pillar_type") == str(pillar("psm").pk)
    assert selected_value(response, "kecamatan") == str(region("35.12.01").pk)
    assert 'id="person-fields"' in response.content.decode()  # the fragment htmx swaps in

    corrected = post(
        7, nik=person.nik, full_name="Siti Aminah Rahayu", gender="P", phone="081999", pillar_type=pillar("tksk").pk
    )
    response = operator_client.post(page_url(batch), corrected)

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.full_name, person.phone, person.pillar_type) == ("Siti Aminah Rahayu", "081999", pillar("tksk"))
    assert Person.objects.count() == 1
    nomination = batch.nominations.get()
    event = nomination.events.get(action=NominationEvent.Action.PERSON_CHANGED)
    assert event.actor == operator
    assert event.changes["full_name"] == ["Siti Aminah", "Siti Aminah Rahayu"]
    assert event.changes["phone"] == ["0811", "081999"]


def test_an_unknown_nik_leaves_the_form_as_typed(operator_client, batch):
    response = operator_client.post(
        reverse("participants:person_lookup"), {"nik": nik(9), "batch": batch.pk, "full_name": "Budi"}
    )
    assert response.status_code == 200
    assert response.context["found"] is None
    assert input_value(response, "full_name") == "Budi"
    assert input_value(response, "nik") == nik(9)
    assert Person.objects.count() == 0


# A refusal: (what is posted, the field that shows the message, optional setup).
def _quota_pillar(batch, operator):
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("tksk"), seats=1)
    submit(operator, batch, data(20, pillar_type=pillar("tksk")))
    return post(1, pillar_type=pillar("tksk").pk)


def _quota_kecamatan(batch, operator):
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.12.02"), seats=1)
    submit(operator, batch, data(20, kecamatan=region("35.12.02")))
    return post(1, kecamatan=region("35.12.02").pk)


def _quota_kabupaten(batch, operator):
    QuotaAllocation.objects.filter(batch=batch).update(seats=1)
    submit(operator, batch, data(20))
    return post(1)


def _quota_total(batch, operator):
    submit(operator, batch, data(20))
    Batch.objects.filter(pk=batch.pk).update(quota_total=1)
    return post(1)


def _already_nominated(batch, operator):
    submit(operator, batch, data(1))
    return post(1, full_name="Peserta Satu")


def _enrolled_elsewhere(batch, operator):
    other = BatchFactory(
        organiser=batch.organiser,
        name="Angkatan Bersamaan",
        status=Batch.Status.NOMINATION_OPEN,
        start_date=batch.start_date + timedelta(days=2),
        end_date=batch.end_date + timedelta(days=2),
    )
    nomination, _ = submit(operator, other, data(1))
    staff = StaffFactory(organiser=batch.organiser)
    services.nominations_decide(actor=staff, batch=other, nomination_ids=[nomination.pk], decision="accept")
    return post(1)


REFUSALS = {
    "bad_nik": (lambda b, o: post(1, nik="35120117088500"), "nik"),
    "nik_of_no_province": (lambda b, o: post(1, nik="9912011708850001"), "nik"),
    "birth_date_mismatch": (lambda b, o: post(1, birth_date="1985-08-18"), "birth_date"),
    "gender_mismatch": (lambda b, o: post(1, gender="P"), "gender"),
    "kecamatan_of_another_kabupaten": (lambda b, o: post(1, kecamatan=region("35.25.01").pk), "kecamatan"),
    "missing_name": (lambda b, o: post(1, full_name=""), "full_name"),
    "quota_pillar": (_quota_pillar, "pillar_type"),
    "quota_kecamatan": (_quota_kecamatan, "kecamatan"),
    "quota_kabupaten": (_quota_kabupaten, "nik"),
    "quota_total": (_quota_total, "nik"),
    "already_nominated": (_already_nominated, "nik"),
    "enrolled_elsewhere_at_overlapping_dates": (_enrolled_elsewhere, "nik"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_refusal_is_shown_next_to_its_field_and_writes_nothing(operator_client, operator, batch, case):
    make, field = REFUSALS[case]
    posted = make(batch, operator)
    before = state()

    response = operator_client.post(page_url(batch), posted)

    assert response.status_code == 200
    assert field_error(response, field)
    assert state() == before
    assert messages_of(response) == []
    for name in ("nik", "full_name", "birth_place", "phone"):
        assert (input_value(response, name) or "") == posted.get(name, ""), name  # typed values kept


def test_refusal_messages_say_what_is_wrong(operator_client, operator, batch):
    with english(operator_client):
        response = operator_client.post(page_url(batch), post(1, birth_date="1985-08-18"))
        assert "does not match the NIK" in field_error(response, "birth_date")
        response = operator_client.post(page_url(batch), post(1, gender="P"))
        assert "a man&#x27;s" in field_error(response, "gender")
        _enrolled_elsewhere(batch, operator)
        response = operator_client.post(page_url(batch), post(1))
        assert "Angkatan Bersamaan" in field_error(response, "nik")


def test_warnings_are_shown_but_do_not_block(operator_client, operator, organiser, staff, batch):
    completed = BatchFactory(
        organiser=organiser,
        program=batch.program,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=batch.start_date - timedelta(days=200),
        end_date=batch.start_date - timedelta(days=197),
    )
    first, _ = submit(operator, completed, data(1))
    services.nominations_decide(actor=staff, batch=completed, nomination_ids=[first.pk], decision="accept")
    Batch.objects.filter(pk=completed.pk).update(status=Batch.Status.FINISHED)

    with english(operator_client):
        response = operator_client.post(page_url(batch), post(1))
        assert response.status_code == 302
        assert [level for level, _ in messages_of(response)] == ["success", "warning"]
        assert "already completed this program" in messages_of(response)[1][1]
        page = operator_client.get(response["Location"]).content.decode()  # shows (and so uses up) the messages
        assert "already completed this program" in page and "alert-warning" in page

        second = operator_client.post(page_url(batch), post(2, nik=nik(2, kecamatan="352501")))
        assert second.status_code == 302
        assert [level for level, _ in messages_of(second)] == ["success", "warning"]
        assert "35.25" in messages_of(second)[1][1]
    assert batch.nominations.count() == 2


# -------------------------------------------------------------------------------- withdraw / replace


def test_withdraw_keeps_the_record_with_the_reason(operator_client, operator, batch):
    nomination, _ = submit(operator, batch, data(1))

    response = operator_client.post(
        reverse("participants:nomination_withdraw", args=[nomination.pk]), {"reason": "Sakit"}
    )

    assert response.status_code == 302
    nomination.refresh_from_db()
    assert nomination.status == Nomination.Status.WITHDRAWN
    event = nomination.events.get(action=NominationEvent.Action.WITHDRAWN)
    assert (event.actor, event.note) == (operator, "Sakit")
    page = operator_client.get(page_url(batch))
    [row] = page.context["page"].rows
    assert row.nomination == nomination and not row.changeable  # still listed, no more buttons
    assert page.context["page"].seats[0].taken == 0


def test_withdraw_without_a_reason(operator_client, operator, batch):
    nomination, _ = submit(operator, batch, data(1))
    response = operator_client.post(reverse("participants:nomination_withdraw", args=[nomination.pk]))
    assert response.status_code == 302
    assert Nomination.objects.get().status == Nomination.Status.WITHDRAWN


def test_before_the_deadline_the_operator_may_withdraw_an_accepted_nominee(operator_client, operator, staff, batch):
    nomination, _ = submit(operator, batch, data(1))
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="accept")
    response = operator_client.post(reverse("participants:nomination_withdraw", args=[nomination.pk]))
    assert response.status_code == 302
    assert [level for level, _ in messages_of(response)] == ["success"]
    assert Nomination.objects.get().status == Nomination.Status.WITHDRAWN
    assert not Enrollment.objects.exists()


def test_replace_keeps_both_records_linked(operator_client, operator, batch):
    old, _ = submit(operator, batch, data(1))
    url = reverse("participants:nomination_replace", args=[old.pk])

    form = operator_client.get(url)
    assert form.status_code == 200
    assert old.person.masked_nik in form.content.decode()
    assert 'id="privacy-notice"' in form.content.decode()
    refused = operator_client.post(url, post(2, nik="3512011708850"))
    assert refused.status_code == 200
    assert field_error(refused, "nik", "form")
    assert Nomination.objects.count() == 1

    response = operator_client.post(url, post(2, full_name="Pengganti"))

    assert response.status_code == 302
    old.refresh_from_db()
    new = Nomination.objects.get(replaces=old)
    assert old.status == Nomination.Status.REPLACED
    assert (new.status, new.person.full_name, new.kabupaten) == (Nomination.Status.PENDING, "Pengganti", old.kabupaten)
    assert old.events.filter(action=NominationEvent.Action.REPLACED).exists()
    page = operator_client.get(page_url(batch))
    assert {row.nomination for row in page.context["page"].rows} == {old, new}
    with english(operator_client):
        content = operator_client.get(page_url(batch)).content.decode()
    assert "Replaced by Pengganti" in content and "Replaces Peserta 1" in content


# --------------------------------------------------------------------------------------- the page


def test_the_page_shows_status_reason_progress_and_no_access_code(operator_client, operator, staff, batch):
    accepted, _ = submit(operator, batch, data(1))
    rejected, _ = submit(operator, batch, data(2))
    submit(operator, batch, data(3))
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=[accepted.pk], decision="accept")
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[rejected.pk], decision="reject", reason="Bukan anggota PSM"
    )
    with english(operator_client):
        response = operator_client.get(page_url(batch))
    content = response.content.decode()
    rows = {row.nomination.pk: row for row in response.context["page"].rows}
    assert rows[accepted.pk].enrolled and not rows[rejected.pk].enrolled
    assert "Bukan anggota PSM" in content
    assert content.count(">Enrolled</span>") == 1
    assert accepted.enrollment.access_code not in content
    assert "Waiting for review" in content
    # Before the deadline an accepted nominee may still be withdrawn or replaced; a rejected one not.
    assert rows[accepted.pk].changeable and not rows[rejected.pk].changeable


def test_the_page_has_the_privacy_notice_with_the_organisers_contact(operator_client, batch):
    with english(operator_client):
        content = operator_client.get(page_url(batch)).content.decode()
    notice = re.search(r'<aside[^>]*id="privacy-notice".*?</aside>', content, re.S).group()
    for part in ("27/2022", "public service", "certificates", "NIK", "pillar", "UPT PTKS Malang", "ptks@example.org"):
        assert part in notice, part


def test_the_page_links_to_the_spreadsheet_upload(operator_client, batch):
    content = operator_client.get(page_url(batch)).content.decode()
    assert f'href="{reverse("participants:import_upload", args=[batch.pk])}"' in content


def test_the_nik_field_looks_the_person_up_by_post(operator_client, batch):
    content = operator_client.get(page_url(batch)).content.decode()
    nik_input = re.search(r'<input[^>]*name="nik"[^>]*>', content).group()
    assert f'hx-post="{reverse("participants:person_lookup")}"' in nik_input
    assert "hx-get" not in nik_input
    assert re.search(rf'name="batch" value="{batch.pk}"', content)


def test_staff_act_for_a_kabupaten_they_pick(client, staff, operator, batch):
    submit(operator, batch, data(1))
    client.force_login(staff)
    url = f"{page_url(batch)}?kabupaten={region(SITUBONDO).pk}"
    response = client.get(url)
    assert [row.nomination.person.full_name for row in response.context["page"].rows] == ["Peserta 1"]
    response = client.post(url, post(2))
    assert response.status_code == 302
    assert response["Location"] == url
    assert Nomination.objects.get(person__nik=nik(2)).nominated_by == staff


def _fill(operator, staff, batch, count):
    """`count` nominations of every kind: pending, accepted, rejected, withdrawn, and a replaced one with
    its replacement."""
    nominations = [submit(operator, batch, data(i + 1))[0] for i in range(count - 1)]
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[n.pk for n in nominations[: count // 4]], decision="accept"
    )
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[nominations[-1].pk], decision="reject", reason="Tidak sesuai"
    )
    services.nomination_withdraw(actor=operator, nomination=nominations[-2])
    services.nomination_replace(actor=operator, nomination=nominations[-3], data=data(count + 1))
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("psm"), seats=40)
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=40)
    services.assignment_letter_upload(
        actor=operator, batch=batch, kabupaten=region(SITUBONDO), file=SimpleUploadedFile("s.pdf", PDF)
    )


@pytest.mark.parametrize("count", [5, 40])
def test_the_page_queries_do_not_grow_with_the_nominations(
    client, operator, staff, batch, django_assert_num_queries, count
):
    QuotaAllocation.objects.filter(batch=batch).update(seats=40)
    Batch.objects.filter(pk=batch.pk).update(quota_total=60)
    _fill(operator, staff, batch, count)
    client.force_login(operator)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(page_url(batch))
    assert len(response.context["page"].rows) == count
    client.force_login(staff)
    url = f"{page_url(batch)}?kabupaten={region(SITUBONDO).pk}"
    with django_assert_num_queries(STAFF_PAGE_QUERIES):
        response = client.get(url)
    assert len(response.context["page"].rows) == count


# ----------------------------------------------------------------------------------- the letter


def upload(client, batch, name, content, query=""):
    url = reverse("participants:letter_upload", args=[batch.pk]) + query
    return client.post(url, {"file": SimpleUploadedFile(name, content)})


@pytest.mark.parametrize(
    ("name", "content", "content_type", "download_name"),
    [
        ("Surat Tugas.pdf", PDF, "application/pdf", "Surat Tugas.pdf"),
        ("surat.jpeg", JPEG, "image/jpeg", "surat.jpg"),
        ("surat.png", PNG, "image/png", "surat.png"),
        ("scan.pdf", PNG, "image/png", "scan.png"),  # really a PNG: fine, and served as one
    ],
)
def test_letters_of_the_accepted_types_are_kept_and_downloaded(
    operator_client, batch, name, content, content_type, download_name
):
    response = upload(operator_client, batch, name, content)

    assert response.status_code == 302
    letter = AssignmentLetter.objects.get()
    assert (letter.batch, letter.kabupaten, letter.content_type, letter.original_name) == (
        batch,
        region(SITUBONDO),
        content_type,
        name,
    )
    page = operator_client.get(page_url(batch)).content.decode()
    download = reverse("participants:letter_download", args=[letter.pk])
    assert f'href="{download}"' in page
    assert "/media/" not in page
    response = operator_client.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment")
    assert download_name.split(".")[-1] in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == content


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("surat.pdf", EXE),  # a program renamed .pdf
        ("surat.docx", b"PK\x03\x04" + b"\x00" * 100),
        ("surat.pdf", b"just text pretending"),
        ("surat.pdf", b""),
        ("besar.pdf", b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024)),  # just over 5 MB
    ],
)
def test_other_files_are_refused_next_to_the_field_and_nothing_is_kept(operator_client, batch, settings, name, content):
    response = upload(operator_client, batch, name, content)

    assert response.status_code == 200
    assert field_error(response, "file", "letter_form")
    assert AssignmentLetter.objects.count() == 0
    assert not any(settings.MEDIA_ROOT.rglob("*.*"))


def test_refusals_of_a_letter_say_why(operator_client, batch):
    with english(operator_client):
        assert "PDF, JPG or PNG" in field_error(upload(operator_client, batch, "a.pdf", EXE), "file", "letter_form")
        too_big = b"%PDF-" + b"0" * (5 * 1024 * 1024)
        assert "5 MB" in field_error(upload(operator_client, batch, "a.pdf", too_big), "file", "letter_form")


def test_a_letter_of_exactly_5_mb_is_accepted(operator_client, batch):
    response = upload(operator_client, batch, "pas.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024 - 5))
    assert response.status_code == 302


@pytest.mark.parametrize("query", ["", "staff"])
def test_a_letter_announced_over_5_mb_is_refused_before_its_body_is_read(
    client, operator, staff, batch, settings, query
):
    """Judged by the request's Content-Length: the test client's body is far smaller than announced, so
    reading it would fail the request."""
    client.force_login(staff if query else operator)
    query = f"?kabupaten={region(SITUBONDO).pk}" if query else ""
    url = reverse("participants:letter_upload", args=[batch.pk]) + query
    announced = 5 * 1024 * 1024 + 64 * 1024 + 1
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)}, CONTENT_LENGTH=str(announced))
    assert response.status_code == 200
    assert field_error(response, "file", "letter_form") == "The file is 5.1 MB; at most 5 MB is accepted."
    assert AssignmentLetter.objects.count() == 0


def test_a_new_letter_replaces_the_previous_one(operator_client, batch, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, batch, "lama.pdf", PDF)
    first = AssignmentLetter.objects.get()
    old_path = settings.MEDIA_ROOT / first.file.name
    assert old_path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, batch, "baru.png", PNG)
    letter = AssignmentLetter.objects.get()
    assert (letter.pk, letter.original_name, letter.content_type) == (first.pk, "baru.png", "image/png")
    assert not old_path.exists()
    assert (settings.MEDIA_ROOT / letter.file.name).read_bytes() == PNG


def test_the_letter_download_is_permission_checked(client, operator, staff, batch, organiser):
    letter = services.assignment_letter_upload(
        actor=operator, batch=batch, kabupaten=region(SITUBONDO), file=SimpleUploadedFile("s.pdf", PDF)
    )
    url = reverse("participants:letter_download", args=[letter.pk])
    for user, expected in [
        (OperatorFactory(kabupaten=region(GRESIK)), 404),
        (StaffFactory(organiser=OrganiserFactory(code="LAIN")), 404),
        (staff, 200),
        (OperatorFactory(kabupaten=region(SITUBONDO)), 200),  # a colleague of the same Dinsos
    ]:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == expected
        if expected == 200:
            assert b"".join(response.streaming_content) == PDF
    client.logout()
    assert client.get(url).status_code == 302


def test_a_letter_whose_file_is_gone_is_404(operator_client, operator, batch, settings):
    letter = services.assignment_letter_upload(
        actor=operator, batch=batch, kabupaten=region(SITUBONDO), file=SimpleUploadedFile("s.pdf", PDF)
    )
    (settings.MEDIA_ROOT / letter.file.name).unlink()
    assert operator_client.get(reverse("participants:letter_download", args=[letter.pk])).status_code == 404


def test_a_replacement_request_can_be_answered_from_the_page_after_the_deadline(
    operator_client, operator, staff, batch
):
    nomination, _ = submit(operator, batch, data(1))
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="replace", reason="Bukan pilar PSM"
    )
    Batch.objects.filter(pk=batch.pk).update(nomination_deadline=timezone.localdate() - timedelta(days=1))
    page = operator_client.get(page_url(batch))
    row = next(r for r in page.context["page"].rows if r.nomination == nomination)
    assert row.answerable
    assert reverse("participants:nomination_replace", args=[nomination.pk]) in page.content.decode()
    response = operator_client.post(
        reverse("participants:nomination_replace", args=[nomination.pk]), post(2, full_name="Pengganti")
    )
    assert response.status_code == 302
    assert Nomination.objects.get(replaces=nomination).person.full_name == "Pengganti"
