"""Who gets what from every page of the review area: a matrix of roles × views.

Anonymous visitors are sent to the login page. The batch's staff get every page (200) or, after a POST, a
redirect (302) with the change made. Someone who can find the batch but may not act on it (an operator on
the review page, the facilitator teaching in it) gets 403. Someone for whom the batch, nomination or person
does not exist (another organiser's staff, another kabupaten's operator) gets 404, so ids cannot be probed;
and every refused request writes nothing. The registry is scoped the same way: staff find the people
nominated to their organiser's batches, an operator those registered in their kabupaten (participants.privacy)."""

from datetime import date, timedelta
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from participants import services
from participants.models import Enrollment, Nomination, NominationEvent
from participants.services import Decision
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
ROLES = ["anonymous", "staff", "other_staff", "operator_situbondo", "operator_gresik", "facilitator"]


def person_data(serial, kabupaten) -> services.PersonData:
    return services.PersonData(
        nik=f"{kabupaten.replace('.', '')}01170885{serial:04d}",
        full_name=f"Peserta {serial}",
        gender="L",
        birth_place="Situbondo",
        birth_date=date(1985, 8, 17),
        kabupaten=region(kabupaten),
        pillar_type=pillar("psm"),
        kecamatan=region(f"{kabupaten}.01"),
        phone=f"0812{serial:08d}",
    )


@pytest.fixture
def world():
    """A batch of the UPT giving Situbondo and Gresik a quota (taught by `facilitator`), with two nominations
    of each kabupaten (one of each accepted); and a batch giving only Gresik a quota, with one accepted."""
    today = timezone.localdate()
    upt, other = OrganiserFactory(code="UPT-PTKS"), OrganiserFactory(code="DINSOS-SBY")
    dates = {"start_date": today + timedelta(days=30), "end_date": today + timedelta(days=33)}
    batch = BatchFactory(organiser=upt, status=Batch.Status.NOMINATION_OPEN, **dates)
    gresik_batch = BatchFactory(
        organiser=upt,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=dates["end_date"] + timedelta(days=7),
        end_date=dates["end_date"] + timedelta(days=9),
    )
    for kabupaten in (SITUBONDO, GRESIK):
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(kabupaten), seats=10)
    QuotaAllocation.objects.create(batch=gresik_batch, kind="kabupaten", region=region(GRESIK), seats=10)
    teacher = FacilitatorUserFactory(record__organiser=upt)
    SessionFactory(batch=batch).facilitators.add(teacher.facilitator)
    users = {
        "anonymous": None,
        "staff": StaffFactory(organiser=upt),
        "other_staff": StaffFactory(organiser=other),
        "operator_situbondo": OperatorFactory(kabupaten=region(SITUBONDO)),
        "operator_gresik": OperatorFactory(kabupaten=region(GRESIK)),
        "facilitator": teacher,
    }

    def nominate(serial, kabupaten, target=batch):
        operator = users["operator_situbondo" if kabupaten == SITUBONDO else "operator_gresik"]
        return services.nomination_submit(
            actor=operator, batch=target, kabupaten=region(kabupaten), data=person_data(serial, kabupaten)
        )[0]

    nominations = {
        "situbondo": nominate(1, SITUBONDO),
        "situbondo_pending": nominate(2, SITUBONDO),
        "gresik": nominate(3, GRESIK),
        "gresik_pending": nominate(4, GRESIK),
        "gresik_only": nominate(5, GRESIK, gresik_batch),
    }
    for target, names in ((batch, ["situbondo", "gresik"]), (gresik_batch, ["gresik_only"])):
        services.nominations_decide(
            actor=users["staff"],
            batch=target,
            nomination_ids=[nominations[name].pk for name in names],
            decision=Decision.ACCEPT,
        )
    return {"batch": batch, "gresik_batch": gresik_batch, "users": users, "nominations": nominations}


def client_for(client, world, role):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


def snapshot():
    return (
        sorted(Nomination.objects.values_list("pk", "status", "reason")),
        sorted(Enrollment.objects.values_list("pk", "access_code")),
        NominationEvent.objects.count(),
    )


# name: (method, URL name, the object of the URL argument (None: no argument), POST data)
VIEWS = {
    "review": ("get", "review", "batch", None),
    "review_decide": ("post", "review_decide", "batch", "decision"),
    "enrollments": ("get", "enrollments", "batch", None),
    "access_codes": ("get", "access_codes", "batch", None),
    "enrollments_export": ("get", "enrollments_export", "batch", None),
    "nomination_detail": ("get", "nomination_detail", "situbondo", None),
    "person_detail": ("get", "person_detail", "situbondo_person", None),
    "person_list": ("get", "person_list", None, None),
    "person_search": ("post", "person_list", None, "nik"),
    # The same views on objects of Gresik only: ids guessed by the Situbondo operator.
    "gresik_nomination": ("get", "nomination_detail", "gresik", None),
    "gresik_person": ("get", "person_detail", "gresik_person", None),
    "gresik_batch_enrollments": ("get", "enrollments", "gresik_batch", None),
    "gresik_batch_access_codes": ("get", "access_codes", "gresik_batch", None),
    "gresik_batch_export": ("get", "enrollments_export", "gresik_batch", None),
    "gresik_batch_review": ("get", "review", "gresik_batch", None),
}

OK, DENIED, HIDDEN = "ok", 403, 404
NOT_FOUND = "not found"  # the NIK search answers "no one with this NIK", as for a NIK not in the registry
ALL_OK = dict.fromkeys(VIEWS, OK)
EXPECTED = {
    "staff": ALL_OK,
    "other_staff": {
        **dict.fromkeys(VIEWS, HIDDEN),
        # Their own registry page, holding only the people nominated to their organiser's batches.
        "person_list": OK,
        "person_search": NOT_FOUND,
    },
    "operator_situbondo": {
        **dict.fromkeys(VIEWS, HIDDEN),
        "review": DENIED,
        "review_decide": DENIED,
        "enrollments": OK,
        "access_codes": DENIED,  # the staff hand the codes out
        "enrollments_export": OK,
        "nomination_detail": OK,
        "person_detail": OK,
        "person_list": DENIED,
        "person_search": DENIED,
    },
    "operator_gresik": {
        **dict.fromkeys(VIEWS, OK),
        "review": DENIED,
        "review_decide": DENIED,
        "gresik_batch_review": DENIED,
        "access_codes": DENIED,
        "gresik_batch_access_codes": DENIED,
        "nomination_detail": HIDDEN,
        "person_detail": HIDDEN,
        "person_list": DENIED,
        "person_search": DENIED,
    },
    "facilitator": {
        **dict.fromkeys(VIEWS, HIDDEN),
        "review": DENIED,
        "review_decide": DENIED,
        "enrollments": DENIED,
        "access_codes": DENIED,
        "enrollments_export": DENIED,
        "person_list": DENIED,
        "person_search": DENIED,
    },
}


def request(client, world, role, view):
    method, url_name, target, data = VIEWS[view]
    objects = {
        "batch": world["batch"],
        "gresik_batch": world["gresik_batch"],
        "situbondo": world["nominations"]["situbondo"],
        "gresik": world["nominations"]["gresik"],
        "situbondo_person": world["nominations"]["situbondo"].person,
        "gresik_person": world["nominations"]["gresik"].person,
    }
    url = reverse(f"participants:{url_name}", args=[objects[target].pk] if target else [])
    payloads = {
        "decision": {
            "nominations": [world["nominations"]["situbondo_pending"].pk, world["nominations"]["gresik_pending"].pk],
            "decision": Decision.REJECT,
            "reason": "Kuota penuh",
        },
        "nik": {"nik": world["nominations"]["situbondo"].person.nik},
    }
    client = client_for(client, world, role)
    return client.post(url, payloads[data]) if method == "post" else client.get(url)


def test_the_matrix_covers_every_view_of_the_review_area():
    from participants.views.review import urlpatterns

    assert {pattern.name for pattern in urlpatterns} == {url_name for _m, url_name, _t, _d in VIEWS.values()}
    assert set(EXPECTED) | {"anonymous"} == set(ROLES)


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, view):
    before = snapshot()
    response = request(client, world, role, view)

    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login") + "?next=")
        assert snapshot() == before
        return
    outcome = EXPECTED[role][view]
    method = VIEWS[view][0]
    if outcome == OK:
        assert response.status_code == (302 if method == "post" else 200), response.status_code
        if view == "review_decide":
            assert Nomination.objects.get(pk=world["nominations"]["situbondo_pending"].pk).status == "rejected"
        if view == "person_search":
            person = world["nominations"]["situbondo"].person
            assert response.url == reverse("participants:person_detail", args=[person.pk])
    elif outcome == NOT_FOUND:
        assert response.status_code == 200
        assert "nik" in response.context["nik_form"].errors
        assert snapshot() == before
    else:
        assert response.status_code == outcome
        assert snapshot() == before


# -------------------------------------------------------------------------------- what each role is shown


def names_in(response) -> set[str]:
    return {e.person.full_name for e in response.context["enrollments"]}


def test_each_operator_sees_only_their_kabupatens_participants(client, world):
    url = reverse("participants:enrollments", args=[world["batch"].pk])
    seen = {}
    for role in ("staff", "operator_situbondo", "operator_gresik"):
        client.logout()
        seen[role] = names_in(client_for(client, world, role).get(url))
    assert seen == {
        "staff": {"Peserta 1", "Peserta 3"},
        "operator_situbondo": {"Peserta 1"},
        "operator_gresik": {"Peserta 3"},
    }


def test_each_operators_export_holds_only_their_kabupaten_without_access_codes(client, world):
    url = reverse("participants:enrollments_export", args=[world["batch"].pk])
    exported = {}
    for role in ("staff", "operator_situbondo", "operator_gresik"):
        client.logout()
        response = client_for(client, world, role).get(url)
        rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
        exported[role] = (rows[0][-1], {row[2] for row in rows[1:]})
    assert exported == {
        "staff": ("Kode Akses", {"Peserta 1", "Peserta 3"}),
        "operator_situbondo": ("Pendidikan Terakhir", {"Peserta 1"}),
        "operator_gresik": ("Pendidikan Terakhir", {"Peserta 3"}),
    }


def test_only_the_staff_see_access_codes_in_the_list(client, world):
    url = reverse("participants:enrollments", args=[world["batch"].pk]) + "?codes=1"
    code = Enrollment.objects.get(nomination=world["nominations"]["situbondo"]).access_code
    assert code in client_for(client, world, "staff").get(url).content.decode()
    client.logout()
    assert code not in client_for(client, world, "operator_situbondo").get(url).content.decode()


def test_a_facilitator_who_does_not_teach_the_batch_cannot_find_it(client, world):
    idle = FacilitatorUserFactory(record__organiser=world["batch"].organiser)
    client.force_login(idle)
    for name in ("review", "enrollments", "access_codes", "enrollments_export"):
        assert client.get(reverse(f"participants:{name}", args=[world["batch"].pk])).status_code == 404


def test_the_staff_cannot_decide_through_a_finished_batch(client, world):
    Batch.objects.filter(pk=world["batch"].pk).update(status=Batch.Status.FINISHED)
    before = snapshot()
    response = request(client, world, "staff", "review_decide")
    assert response.status_code == 200
    assert snapshot() == before


@pytest.mark.parametrize("pk", [0, 999999])
@pytest.mark.parametrize("name", ["nomination_detail", "person_detail", "review", "enrollments_export"])
def test_unknown_ids_are_404(client, world, name, pk):
    client_for(client, world, "staff")
    assert client.get(reverse(f"participants:{name}", args=[pk])).status_code == 404


def test_the_situbondo_operator_gets_nothing_of_gresik_through_the_registry_search(client, world):
    """The NIK search is the staff's; an operator posting a Gresik NIK learns nothing (403, no redirect)."""
    client_for(client, world, "operator_situbondo")
    response = client.post(reverse("participants:person_list"), {"nik": world["nominations"]["gresik"].person.nik})
    assert response.status_code == 403
    assert "Location" not in response.headers


# ---------------------------------------------------------------------------------------- the registry


def other_organisers_batch(world):
    """A batch of the other organiser giving Situbondo a quota, at dates apart from the UPT's."""
    start = world["gresik_batch"].end_date + timedelta(days=30)
    batch = BatchFactory(
        organiser=world["users"]["other_staff"].organiser,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=start,
        end_date=start + timedelta(days=2),
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region(SITUBONDO), seats=10)
    return batch


def test_staff_of_another_organiser_cannot_open_a_person_of_the_upt(client, world):
    person = world["nominations"]["situbondo"].person
    client_for(client, world, "other_staff")
    assert client.get(reverse("participants:person_detail", args=[person.pk])).status_code == 404
    response = client.get(reverse("participants:person_list"))
    assert response.status_code == 200 and response.context["page"].paginator.count == 0
    response = client.post(reverse("participants:person_list"), {"nik": person.nik})
    assert response.status_code == 200 and "nik" in response.context["nik_form"].errors
    assert person.full_name not in response.content.decode()


def test_staff_find_a_person_once_nominated_to_their_organisers_batch(client, world):
    """The registry is shared, each organiser's staff see the people of their own batches (all of them)."""
    person = world["nominations"]["situbondo"].person
    other_staff = world["users"]["other_staff"]
    services.nomination_submit(
        actor=other_staff,
        batch=other_organisers_batch(world),
        kabupaten=region(SITUBONDO),
        data=person_data(1, SITUBONDO),
    )
    client_for(client, world, "other_staff")
    response = client.get(reverse("participants:person_detail", args=[person.pk]))
    assert response.status_code == 200 and response.context["personal_data"]
    assert person.nik in response.content.decode()
    names = [p.full_name for p in client.get(reverse("participants:person_list")).context["page"]]
    assert names == [person.full_name]
    gresik = world["nominations"]["gresik"].person
    assert client.get(reverse("participants:person_detail", args=[gresik.pk])).status_code == 404


@pytest.fixture
def cross_nomination(world):
    """Gresik's operator nominates someone registered in Situbondo (a person of Situbondo's registry)."""
    data = person_data(9, SITUBONDO)
    data.kecamatan = None
    nomination, _ = services.nomination_submit(
        actor=world["users"]["operator_gresik"], batch=world["batch"], kabupaten=region(GRESIK), data=data
    )
    return nomination


def test_an_operator_never_sees_the_registry_record_of_a_person_registered_elsewhere(client, world, cross_nomination):
    """participants.privacy: an active nomination does not open the registry record of someone registered in
    another kabupaten; the nomination's page shows what the operator typed, the NIK masked."""
    person = cross_nomination.person
    person_url = reverse("participants:person_detail", args=[person.pk])
    nomination_url = reverse("participants:nomination_detail", args=[cross_nomination.pk])
    client_for(client, world, "operator_gresik")
    assert client.get(person_url).status_code == 404
    response = client.get(nomination_url)
    assert response.status_code == 200 and response.context["as_submitted"]
    html = response.content.decode()
    assert person.nik not in html
    assert person.masked_nik in html
    lookup = client.post(
        reverse("participants:person_lookup"),
        {"nik": person.nik, "batch": world["batch"].pk, "kabupaten": region(GRESIK).pk},
    )
    assert lookup.status_code == 200 and lookup.context["found"] is None
    # The operator of the person's own kabupaten sees them whole.
    client.logout()
    client_for(client, world, "operator_situbondo")
    response = client.get(person_url)
    assert response.status_code == 200 and response.context["personal_data"]


@pytest.mark.parametrize("status", [Nomination.Status.REJECTED, Nomination.Status.REPLACED])
def test_an_operator_loses_the_personal_data_of_a_nominee_no_longer_active(client, world, cross_nomination, status):
    Nomination.objects.filter(pk=cross_nomination.pk).update(status=status, reason="Tidak memenuhi syarat")
    client_for(client, world, "operator_gresik")
    assert client.get(reverse("participants:person_detail", args=[cross_nomination.person.pk])).status_code == 404
    response = client.get(reverse("participants:nomination_detail", args=[cross_nomination.pk]))
    assert response.status_code == 200 and not response.context["personal_data"]


# ------------------------------------------------------------------------------------------ odd ids

HUGE = ["2147483648", str(2**63), str(10**30), "-1", "abc", "1e3"]


@pytest.mark.parametrize("value", HUGE)
def test_filters_with_ids_out_of_range_count_as_not_given(client, world, value):
    client_for(client, world, "staff")
    batch = world["batch"]
    response = client.get(
        reverse("participants:review", args=[batch.pk]), {"kabupaten": value, "pillar": value, "kecamatan": value}
    )
    assert response.status_code == 200
    assert len(response.context["page"].nominations) == 4
    for name in ("enrollments", "access_codes", "enrollments_export"):
        assert client.get(reverse(f"participants:{name}", args=[batch.pk]), {"kabupaten": value}).status_code == 200


@pytest.mark.parametrize("value", HUGE)
def test_deciding_ids_out_of_range_is_an_error_not_a_500(client, world, value):
    client_for(client, world, "staff")
    before = snapshot()
    response = client.post(
        reverse("participants:review_decide", args=[world["batch"].pk]),
        {"nominations": [value], "decision": Decision.ACCEPT, "kabupaten": value},
    )
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert snapshot() == before


@pytest.mark.parametrize("pk", [2**31, 2**63, 10**30])
@pytest.mark.parametrize(
    "name", ["nomination_detail", "person_detail", "review", "enrollments", "access_codes", "enrollments_export"]
)
def test_huge_ids_in_the_url_are_404(client, world, name, pk):
    client_for(client, world, "staff")
    assert client.get(reverse(f"participants:{name}", args=[pk])).status_code == 404
