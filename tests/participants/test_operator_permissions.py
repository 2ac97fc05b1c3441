"""Who gets what from every page of the operator's nomination area: a matrix of roles × views.

Anonymous visitors are sent to the login page. The operator of a kabupaten the batch gives a quota to, and
the batch's staff, get the page (200) or, after a POST, a redirect (302) with the change made. Someone who
can find the batch but may not nominate to it (a facilitator teaching in it) gets 403. Someone for whom the
batch, nomination or letter does not exist (another kabupaten's operator, another organiser's staff) gets
404, so ids cannot be probed; and every refused request writes nothing."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from participants import services
from participants.models import AssignmentLetter, Nomination, NominationEvent, Person
from tests.factories import (
    BatchFactory,
    FacilitatorUserFactory,
    OperatorFactory,
    OrganiserFactory,
    SessionFactory,
    StaffFactory,
    pillar,
    region,
)
from trainings.models import Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

SITUBONDO, GRESIK = "35.12", "35.25"
ROLES = ["anonymous", "operator_situbondo", "operator_gresik", "staff", "other_staff", "facilitator"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def person(serial, kabupaten=SITUBONDO, kecamatan="01") -> services.PersonData:
    code = kabupaten.replace(".", "")
    return services.PersonData(
        nik=f"{code}{kecamatan}170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=timezone.datetime(1985, 8, 17).date(),
        kabupaten=region(kabupaten),
        pillar_type=pillar("psm"),
        kecamatan=region(f"{kabupaten}.{kecamatan}"),
    )


def form_data(serial) -> dict:
    return {
        "nik": f"351201170885{serial:04d}",
        "full_name": f"Peserta Baru {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": "1985-08-17",
        "pillar_type": pillar("psm").pk,
        "kecamatan": region("35.12.01").pk,
        "phone": "081234567890",
    }


@pytest.fixture
def world():
    """An open batch of the UPT giving Situbondo (only) a quota, taught by `facilitator`, with one Situbondo
    nomination and letter; another batch giving Gresik a quota, with a Gresik nomination and letter."""
    today = timezone.localdate()
    upt, other = OrganiserFactory(code="UPT-PTKS", email="upt@example.org"), OrganiserFactory(code="DINSOS-SBY")
    dates = {"start_date": today + timedelta(days=30), "end_date": today + timedelta(days=33)}
    batch = BatchFactory(
        organiser=upt, status=Batch.Status.NOMINATION_OPEN, nomination_deadline=today + timedelta(days=10), **dates
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    gresik_batch = BatchFactory(
        organiser=upt, status=Batch.Status.NOMINATION_OPEN, nomination_deadline=today + timedelta(days=10), **dates
    )
    QuotaAllocation.objects.create(batch=gresik_batch, kind="kabupaten", region=region(GRESIK), seats=10)
    teacher = FacilitatorUserFactory(record__organiser=upt)
    SessionFactory(batch=batch).facilitators.add(teacher.facilitator)
    users = {
        "anonymous": None,
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "staff": StaffFactory(organiser=upt),
        "other_staff": StaffFactory(organiser=other),
        "facilitator": teacher,
    }
    situbondo = users["operator_situbondo"]
    nomination, _ = services.nomination_submit(
        actor=situbondo, batch=batch, kabupaten=region(SITUBONDO), data=person(1)
    )
    letter = services.assignment_letter_upload(
        actor=situbondo, batch=batch, kabupaten=region(SITUBONDO), file=SimpleUploadedFile("surat.pdf", PDF)
    )
    gresik_nomination, _ = services.nomination_submit(
        actor=users["operator_gresik"], batch=gresik_batch, kabupaten=region(GRESIK), data=person(2, GRESIK)
    )
    gresik_letter = services.assignment_letter_upload(
        actor=users["operator_gresik"],
        batch=gresik_batch,
        kabupaten=region(GRESIK),
        file=SimpleUploadedFile("surat.png", PNG),
    )
    return {
        "batch": batch,
        "gresik_batch": gresik_batch,
        "nomination": nomination,
        "letter": letter,
        "gresik_nomination": gresik_nomination,
        "gresik_letter": gresik_letter,
        "users": users,
    }


def client_for(client, world, role):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


def snapshot():
    """Everything the nomination pages can write."""
    return (
        sorted(Nomination.objects.values_list("pk", "status")),
        sorted(AssignmentLetter.objects.values_list("pk", "file")),
        NominationEvent.objects.count(),
        sorted(Person.objects.values_list("nik", "full_name", "phone")),
    )


def staff_query(world, role) -> str:
    """Staff act for a kabupaten they pick; operators' pages are their own kabupaten's."""
    return f"?kabupaten={region(SITUBONDO).pk}" if role in ("staff", "other_staff") else ""


def request(client, world, role, view):
    """Send `view`'s request (method, url, data) as `role`."""
    batch, nomination, letter = world["batch"], world["nomination"], world["letter"]
    query = staff_query(world, role)
    page = reverse("participants:batch_nominations", args=[batch.pk]) + query
    requests = {
        "home": ("get", reverse("participants:nominations_home"), None),
        "page": ("get", page, None),
        "add": ("post", page, form_data(50)),
        "lookup": (
            "post",
            reverse("participants:person_lookup"),
            {"nik": nomination.person.nik, "batch": batch.pk, "kabupaten": region(SITUBONDO).pk},
        ),
        "letter_upload": (
            "post",
            reverse("participants:letter_upload", args=[batch.pk]) + query,
            {"file": SimpleUploadedFile("baru.png", PNG)},
        ),
        "letter_download": ("get", reverse("participants:letter_download", args=[letter.pk]), None),
        "withdraw": ("post", reverse("participants:nomination_withdraw", args=[nomination.pk]), {"reason": "sakit"}),
        "replace_form": ("get", reverse("participants:nomination_replace", args=[nomination.pk]), None),
        "replace": ("post", reverse("participants:nomination_replace", args=[nomination.pk]), form_data(60)),
    }
    method, url, data = requests[view]
    client = client_for(client, world, role)
    response = getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


# role -> view -> expected status; a 302 of a POST means the change was made.
OK_PAGE, OK_POST = 200, 302
EXPECTED = {
    "operator_situbondo": {
        "home": 200,
        "page": OK_PAGE,
        "add": OK_POST,
        "lookup": 200,
        "letter_upload": OK_POST,
        "letter_download": 200,
        "withdraw": OK_POST,
        "replace_form": 200,
        "replace": OK_POST,
    },
    "operator_gresik": {"home": 200}
    | dict.fromkeys(
        ["page", "add", "lookup", "letter_upload", "letter_download", "withdraw", "replace_form", "replace"], 404
    ),
    "staff": {
        "home": 403,
        "page": OK_PAGE,
        "add": OK_POST,
        "lookup": 200,
        "letter_upload": OK_POST,
        "letter_download": 200,
        "withdraw": OK_POST,
        "replace_form": 200,
        "replace": OK_POST,
    },
    "other_staff": {"home": 403}
    | dict.fromkeys(
        ["page", "add", "lookup", "letter_upload", "letter_download", "withdraw", "replace_form", "replace"], 404
    ),
    # The facilitator finds the batch (they teach in it) but may not nominate; nominations and letters
    # do not exist for them.
    "facilitator": {"home": 403, "page": 403, "add": 403, "lookup": 403, "letter_upload": 403}
    | dict.fromkeys(["letter_download", "withdraw", "replace_form", "replace"], 404),
}
VIEWS = list(EXPECTED["operator_situbondo"])
WRITES = {"add", "letter_upload", "withdraw", "replace"}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("role", ROLES)
def test_matrix(client, world, role, view):
    before = snapshot()
    response = request(client, world, role, view)
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
        assert snapshot() == before
        return
    expected = EXPECTED[role][view]
    assert response.status_code == expected, response.content[:500]
    if view in WRITES:
        assert (snapshot() != before) is (expected == OK_POST)


def test_the_writes_the_matrix_counts_as_done_are_done(client, world):
    """What a 302 of each POST in the matrix means, spelled out once for the operator."""
    nomination, letter = world["nomination"], world["letter"]
    for view in ("add", "letter_upload", "replace"):
        assert request(client, world, "operator_situbondo", view).status_code == 302
    nomination.refresh_from_db()
    assert nomination.status == Nomination.Status.REPLACED
    assert nomination.replaced_by.person.full_name == "Peserta Baru 60"
    assert Nomination.objects.get(person__nik="3512011708850050").status == Nomination.Status.PENDING
    assert AssignmentLetter.objects.get(pk=letter.pk).content_type == "image/png"


@pytest.mark.parametrize("url_name", ["person_lookup", "nomination_withdraw", "letter_upload"])
def test_post_only_views_refuse_get(client, world, url_name):
    client.force_login(world["users"]["operator_situbondo"])
    args = {
        "person_lookup": [],
        "nomination_withdraw": [world["nomination"].pk],
        "letter_upload": [world["batch"].pk],
    }[url_name]
    assert client.get(reverse(f"participants:{url_name}", args=args)).status_code == 405


# --------------------------------------------------------------------------------- guessed ids


@pytest.mark.parametrize(
    ("method", "url_name", "target"),
    [
        ("post", "nomination_withdraw", "gresik_nomination"),
        ("get", "nomination_replace", "gresik_nomination"),
        ("post", "nomination_replace", "gresik_nomination"),
        ("get", "letter_download", "gresik_letter"),
        ("get", "batch_nominations", "gresik_batch"),
        ("post", "batch_nominations", "gresik_batch"),
        ("post", "letter_upload", "gresik_batch"),
    ],
)
def test_the_situbondo_operator_cannot_reach_gresik_by_id(client, world, method, url_name, target):
    client.force_login(world["users"]["operator_situbondo"])
    before = snapshot()
    url = reverse(f"participants:{url_name}", args=[world[target].pk])
    data = form_data(70) if method == "post" else None
    response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
    assert response.status_code == 404
    assert snapshot() == before


def test_unknown_ids_are_404(client, world):
    client.force_login(world["users"]["operator_situbondo"])
    assert client.get(reverse("participants:batch_nominations", args=[999999])).status_code == 404
    assert client.get(reverse("participants:letter_download", args=[999999])).status_code == 404
    assert client.get(reverse("participants:nomination_replace", args=[999999])).status_code == 404
    assert client.post(reverse("participants:nomination_withdraw", args=[999999])).status_code == 404
    lookup = reverse("participants:person_lookup")
    assert client.post(lookup, {"nik": "3512011708850001", "batch": "x"}).status_code == 404
    assert client.post(lookup, {"nik": "3512011708850001"}).status_code == 404


@pytest.mark.parametrize("value", ["2147483648", str(2**63), str(10**30), "-1", "abc"])
def test_ids_out_of_range_are_404_not_500(client, world, value):
    before = snapshot()
    client.force_login(world["users"]["staff"])
    page = reverse("participants:batch_nominations", args=[world["batch"].pk])
    assert client.get(page, {"kabupaten": value}).status_code == 404
    assert client.post(f"{page}?kabupaten={value}", form_data(90)).status_code == 404
    letter = reverse("participants:letter_upload", args=[world["batch"].pk]) + f"?kabupaten={value}"
    assert client.post(letter, {"file": SimpleUploadedFile("s.png", PNG)}).status_code == 404
    lookup = reverse("participants:person_lookup")
    nik = world["nomination"].person.nik
    assert client.post(lookup, {"nik": nik, "batch": value}).status_code == 404
    assert client.post(lookup, {"nik": nik, "batch": world["batch"].pk, "kabupaten": value}).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("pk", [2**31, 2**63, 10**30])
@pytest.mark.parametrize(
    ("method", "url_name"),
    [
        ("get", "batch_nominations"),
        ("post", "letter_upload"),
        ("get", "letter_download"),
        ("post", "nomination_withdraw"),
        ("get", "nomination_replace"),
    ],
)
def test_huge_ids_in_the_url_are_404(client, world, method, url_name, pk):
    client.force_login(world["users"]["operator_situbondo"])
    assert getattr(client, method)(reverse(f"participants:{url_name}", args=[pk])).status_code == 404


def test_the_lookup_fills_in_for_staff_only_people_of_their_organisers_batches(client, world):
    """Another organiser's staff, acting for Situbondo in their own batch, do not get the UPT's nominee
    filled in: the registry shows each organiser the people of its own batches."""
    other_staff = world["users"]["other_staff"]
    batch = BatchFactory(organiser=other_staff.organiser, status=Batch.Status.NOMINATION_OPEN)
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=5)
    person = world["nomination"].person
    lookup = {"nik": person.nik, "batch": batch.pk, "kabupaten": region(SITUBONDO).pk}
    client.force_login(other_staff)
    response = client.post(reverse("participants:person_lookup"), lookup)
    assert response.status_code == 200 and response.context["found"] is None
    assert person.full_name not in response.content.decode()
    client.force_login(world["users"]["staff"])
    lookup["batch"] = world["batch"].pk
    assert client.post(reverse("participants:person_lookup"), lookup).context["found"] == person


def test_an_operator_cannot_switch_to_another_kabupaten_by_the_query(client, world):
    client.force_login(world["users"]["operator_situbondo"])
    url = reverse("participants:batch_nominations", args=[world["batch"].pk]) + f"?kabupaten={region(GRESIK).pk}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["kabupaten"] == region(SITUBONDO)


def test_staff_pick_only_a_kabupaten_that_takes_part(client, world):
    client.force_login(world["users"]["staff"])
    url = reverse("participants:batch_nominations", args=[world["batch"].pk])
    response = client.get(url)
    assert response.status_code == 200
    assert list(response.context["kabupaten_choices"]) == [region(SITUBONDO)]
    assert "page" not in response.context  # nothing shown until a kabupaten is picked
    assert client.get(f"{url}?kabupaten={region(GRESIK).pk}").status_code == 404
    assert client.get(f"{url}?kabupaten=abc").status_code == 404
    before = snapshot()
    assert client.post(url, form_data(80)).status_code == 404  # a POST must name the kabupaten
    assert client.post(f"{url}?kabupaten={region(GRESIK).pk}", form_data(80)).status_code == 404
    assert snapshot() == before


def test_the_lookup_fills_in_only_people_in_the_operators_scope(client, world):
    """Gresik's person is in the registry, but not Situbondo's to see: the form stays as typed."""
    client.force_login(world["users"]["operator_situbondo"])
    gresik_person = world["gresik_nomination"].person
    response = client.post(
        reverse("participants:person_lookup"),
        {"nik": gresik_person.nik, "batch": world["batch"].pk, "full_name": ""},
    )
    assert response.status_code == 200
    assert response.context["found"] is None
    assert gresik_person.full_name not in response.content.decode()
    own = world["nomination"].person
    response = client.post(reverse("participants:person_lookup"), {"nik": own.nik, "batch": world["batch"].pk})
    assert response.context["found"] == own
    assert own.full_name in response.content.decode()


# ----------------------------------------------------------------------------------- the deadline


@pytest.fixture
def after_deadline(world):
    Batch.objects.filter(pk=world["batch"].pk).update(nomination_deadline=timezone.localdate() - timedelta(days=1))
    world["batch"].refresh_from_db()
    return world


@pytest.mark.parametrize("view", ["add", "letter_upload", "withdraw", "replace"])
def test_after_the_deadline_operator_posts_are_refused_and_write_nothing(client, after_deadline, view):
    before = snapshot()
    response = request(client, after_deadline, "operator_situbondo", view)
    assert response.status_code in (200, 302)
    if response.status_code == 302:  # withdraw and replace go back to the page, with the reason
        assert response["Location"] == reverse("participants:batch_nominations", args=[after_deadline["batch"].pk])
        assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    else:  # add and letter upload show the page again, saying why (the forms themselves are gone)
        form = response.context["person_form" if view == "add" else "letter_form"]
        [error] = form.non_field_errors()
        assert [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)] == [("error", error)]
        assert 'class="alert alert-danger' in response.content.decode()
        assert 'id="changes-closed"' in response.content.decode()
    assert snapshot() == before


def test_after_the_deadline_the_operator_sees_changes_are_closed(client, after_deadline):
    response = request(client, after_deadline, "operator_situbondo", "page")
    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="changes-closed"' in content
    for hidden in ('id="add-participant"', "/tarik/", "/ganti/", 'name="file"', 'id="spreadsheet-link"'):
        assert hidden not in content
    # The replace form is not offered either.
    response = request(client, after_deadline, "operator_situbondo", "replace_form")
    assert response.status_code == 302


@pytest.mark.parametrize("view", ["add", "letter_upload", "withdraw", "replace"])
def test_after_the_deadline_staff_still_act(client, after_deadline, view):
    before = snapshot()
    response = request(client, after_deadline, "staff", view)
    assert response.status_code == 302
    assert snapshot() != before


def test_after_the_deadline_staff_still_see_the_buttons(client, after_deadline):
    content = request(client, after_deadline, "staff", "page").content.decode()
    assert 'id="changes-closed"' not in content
    assert 'id="add-participant"' in content
    assert reverse("participants:nomination_withdraw", args=[after_deadline["nomination"].pk]) in content
