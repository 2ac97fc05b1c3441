"""Merging a duplicate registry record into a person (services.person_merge and participants/views/people.py):
everything moves, both histories are kept, the audit rows are written with the duplicate's NIK masked, the
duplicate is deleted; same-batch conflicts and everyone but the staff who see both records are refused with
nothing changed; and no NIK ever travels in a URL."""

import re
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from certificates.models import Certificate
from participants import services
from participants.models import Enrollment, Nomination, NominationEvent, Person, PersonMerge
from participants.selectors.history import person_history
from tests.factories import FacilitatorUserFactory, OperatorFactory, OrganiserFactory, StaffFactory, region
from tests.participants.test_history import (
    GRESIK,
    SITUBONDO,
    certify,
    enrol,
    finished_batch,
    make_person,
    nominate,
)
from trainings.models import Attendance, Batch

pytestmark = pytest.mark.django_db


class World:
    """One person of Situbondo registered twice: `keep` took part in one finished batch of the UPT, the
    duplicate (a mistyped NIK) in another, with attendance and a certificate, and has a withdrawn nomination
    for a third. A Gresik person nominated by Gresik to another organiser's batch only."""

    def __init__(self):
        self.upt = OrganiserFactory(code="UPT-PTKS")
        self.other = OrganiserFactory(code="DINSOS-SBY")
        self.staff = StaffFactory(organiser=self.upt)
        self.other_staff = StaffFactory(organiser=self.other)
        self.situbondo = OperatorFactory(kabupaten=region(SITUBONDO))
        self.gresik = OperatorFactory(kabupaten=region(GRESIK))
        self.facilitator = FacilitatorUserFactory(record__organiser=self.upt)
        self.keep = make_person(1, full_name="Siti Aminah", phone="081200000001")
        self.duplicate = make_person(2, full_name="Siti Aminah", phone="085299990000", address="Jl. Melati 2")
        self.first = finished_batch(self.upt, start=date(2024, 3, 4), jps=(2, 2), name="Angkatan I")
        self.second = finished_batch(self.upt, start=date(2025, 10, 13), jps=(4, 2), name="Angkatan II")
        self.third = finished_batch(self.upt, start=date(2025, 11, 3), jps=(2,), name="Angkatan III")
        self.kept_enrollment = enrol(self.first, self.keep, actor=self.staff, attended=(0, 1))
        self.moved_enrollment = enrol(self.second, self.duplicate, actor=self.staff, attended=(0,))
        self.certificate = certify(self.moved_enrollment, actor=self.staff, seq=1)
        self.withdrawn = nominate(self.third, self.duplicate, actor=self.situbondo, status=Nomination.Status.WITHDRAWN)
        self.gresik_person = make_person(3, kabupaten=GRESIK)
        elsewhere = finished_batch(self.other, start=date(2025, 6, 2), jps=(2,))
        enrol(elsewhere, self.gresik_person, actor=self.other_staff, kabupaten=GRESIK)

    def users(self):
        return {
            "anonymous": None,
            "staff": self.staff,
            "other_staff": self.other_staff,
            "operator_situbondo": self.situbondo,
            "operator_gresik": self.gresik,
            "facilitator": self.facilitator,
        }


@pytest.fixture
def world():
    return World()


def snapshot():
    return (
        sorted(Person.objects.values_list("pk", "nik", "full_name", "phone")),
        sorted(Nomination.objects.values_list("pk", "person_id", "status")),
        sorted(Enrollment.objects.values_list("pk", "person_id")),
        NominationEvent.objects.count(),
        PersonMerge.objects.count(),
    )


# ---------------------------------------------------------------------------------------------- service


def test_a_merge_moves_everything_keeps_both_histories_and_deletes_the_duplicate(world):
    duplicate_nik = world.duplicate.nik
    before = person_history(person=world.duplicate, user=world.staff) + person_history(
        person=world.keep, user=world.staff
    )
    figures = {row.nomination.pk: (row.jp_attended, row.jp_scheduled, row.eligible) for row in before}

    kept = services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.duplicate)

    assert kept.pk == world.keep.pk and kept.nik == world.keep.nik and kept.phone == "081200000001"
    assert not Person.objects.filter(pk=world.duplicate.pk).exists()
    assert set(Nomination.objects.filter(person=kept).values_list("batch__name", flat=True)) == {
        "Angkatan I",
        "Angkatan II",
        "Angkatan III",
    }
    assert Enrollment.objects.filter(person=kept).count() == 2
    assert Certificate.objects.get(pk=world.certificate.pk).enrollment.person_id == kept.pk
    assert Attendance.objects.filter(enrollment__person=kept).count() == 3
    after = person_history(person=kept, user=world.staff)
    assert {row.nomination.pk: (row.jp_attended, row.jp_scheduled, row.eligible) for row in after} == figures
    assert [row.batch.name for row in after] == ["Angkatan III", "Angkatan II", "Angkatan I"]

    merge = PersonMerge.objects.get()
    assert (merge.person, merge.duplicate_full_name, merge.merged_by) == (kept, "Siti Aminah", world.staff)
    assert merge.duplicate_masked_nik == f"{duplicate_nik[:4]}••••••••{duplicate_nik[12:]}"
    assert (merge.nominations_moved, merge.enrollments_moved, merge.fields_from_duplicate) == (2, 1, [])
    events = NominationEvent.objects.filter(action=NominationEvent.Action.MERGED)
    assert sorted(events.values_list("nomination_id", flat=True)) == sorted(
        [world.moved_enrollment.nomination_id, world.withdrawn.pk]
    )
    assert all(e.actor == world.staff and merge.duplicate_masked_nik in e.note for e in events)
    # The full NIK of the duplicate is kept nowhere.
    assert not PersonMerge.objects.filter(duplicate_masked_nik__contains=duplicate_nik[4:12]).exists()
    assert not NominationEvent.objects.filter(note__contains=duplicate_nik).exists()


def test_the_staff_choose_which_values_to_keep(world):
    duplicate_nik = world.duplicate.nik
    kept = services.person_merge(
        actor=world.staff, keep=world.keep, duplicate=world.duplicate, take_from_duplicate=["nik", "address"]
    )
    kept.refresh_from_db()
    assert (kept.nik, kept.address, kept.phone) == (duplicate_nik, "Jl. Melati 2", "081200000001")
    assert PersonMerge.objects.get().fields_from_duplicate == ["nik", "address"]


def test_earlier_merges_of_the_duplicate_follow_it(world):
    third = make_person(4, full_name="Siti Aminah")
    nominate(world.third, third, actor=world.staff, status=Nomination.Status.REJECTED, reason="Dobel")
    services.person_merge(actor=world.staff, keep=world.duplicate, duplicate=third)
    services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.duplicate)
    assert PersonMerge.objects.filter(person=world.keep).count() == 2


@pytest.mark.parametrize("status", ["pending", "accepted"])
def test_both_active_in_the_same_batch_is_refused_and_changes_nothing(world, status):
    if status == "accepted":
        enrol(world.second, world.keep, actor=world.staff)
    else:
        nominate(world.second, world.keep, actor=world.situbondo, status=Nomination.Status.PENDING)
    before = snapshot()
    with pytest.raises(ValidationError, match="Angkatan II"):
        services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.duplicate)
    assert snapshot() == before


def test_an_inactive_nomination_in_the_same_batch_is_no_conflict(world):
    nominate(world.third, world.keep, actor=world.situbondo, status=Nomination.Status.PENDING)
    services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.duplicate)
    assert Nomination.objects.filter(person=world.keep, batch=world.third).count() == 2


@pytest.mark.parametrize("role", ["operator_situbondo", "operator_gresik", "facilitator", "other_staff"])
def test_only_the_staff_who_see_both_records_may_merge(world, role):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.person_merge(actor=world.users()[role], keep=world.keep, duplicate=world.duplicate)
    assert snapshot() == before


def test_a_record_of_another_organiser_cannot_be_merged_in(world):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.gresik_person)
    assert snapshot() == before


def test_a_record_cannot_be_merged_with_itself_nor_with_unknown_fields(world):
    with pytest.raises(ValidationError, match="data ini adalah data yang sama"):
        services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.keep)
    with pytest.raises(ValidationError, match="tidak dapat digabungkan: created_at"):
        services.person_merge(
            actor=world.staff, keep=world.keep, duplicate=world.duplicate, take_from_duplicate=["created_at"]
        )
    assert Person.objects.filter(pk=world.duplicate.pk).exists()


def test_a_kecamatan_outside_the_kept_kabupaten_is_refused(world):
    Person.objects.filter(pk=world.duplicate.pk).update(kecamatan=region(f"{GRESIK}.01"))
    world.duplicate.refresh_from_db()
    before = snapshot()
    with pytest.raises(ValidationError, match="Wringinanom tidak berada di Kabupaten Situbondo"):
        services.person_merge(
            actor=world.staff, keep=world.keep, duplicate=world.duplicate, take_from_duplicate=["kecamatan"]
        )
    assert snapshot() == before


# ----------------------------------------------------------------------------------------------- pages


def pick_url(person):
    return reverse("participants:person_merge_pick", args=[person.pk])


def merge_url(keep, duplicate):
    return reverse("participants:person_merge", args=[keep.pk, duplicate.pk])


def urls_in(html: str) -> list[str]:
    return re.findall(r'(?:href|action)="([^"]*)"', html)


def test_the_staff_merge_from_the_persons_page(client, world):
    client.force_login(world.staff)
    detail = reverse("participants:person_detail", args=[world.keep.pk])
    html = client.get(detail).content.decode()
    assert pick_url(world.keep) in html

    response = client.get(pick_url(world.keep))
    assert response.status_code == 200
    assert [p.pk for p in response.context["same_name"]] == [world.duplicate.pk]
    assert world.duplicate.nik not in response.content.decode()  # offered masked

    spaced = f"{world.duplicate.nik[:6]} {world.duplicate.nik[6:]}"
    response = client.post(pick_url(world.keep), {"nik": spaced})
    assert response.status_code == 302 and response.url == merge_url(world.keep, world.duplicate)

    response = client.get(response.url)
    html = response.content.decode()
    assert response.status_code == 200
    assert world.keep.nik in html and world.duplicate.nik in html and "085299990000" in html
    for url in urls_in(html):
        assert world.keep.nik not in url and world.duplicate.nik not in url

    response = client.post(merge_url(world.keep, world.duplicate), {"phone": "duplicate", "confirm": "on"})
    assert response.status_code == 302 and response.url == detail
    world.keep.refresh_from_db()
    assert world.keep.phone == "085299990000" and world.keep.nik.endswith("0001")
    assert not Person.objects.filter(pk=world.duplicate.pk).exists()

    html = client.get(detail).content.decode()
    merge = PersonMerge.objects.get()
    assert f'data-merge="{merge.pk}"' in html and merge.duplicate_masked_nik in html
    assert 'data-jp="4/6"' in html and 'data-jp="4/4"' in html  # both histories on one page


def test_the_merge_waits_for_the_confirmation(client, world):
    client.force_login(world.staff)
    before = snapshot()
    response = client.post(merge_url(world.keep, world.duplicate), {"phone": "duplicate"})
    assert response.status_code == 200 and "confirm" in response.context["form"].errors
    assert snapshot() == before


def test_a_same_batch_conflict_is_shown_on_the_page_and_changes_nothing(client, world):
    enrol(world.second, world.keep, actor=world.staff)
    client.force_login(world.staff)
    before = snapshot()
    response = client.post(merge_url(world.keep, world.duplicate), {"confirm": "on"})
    assert response.status_code == 200
    assert "Angkatan II" in " ".join(response.context["form"].non_field_errors())
    assert snapshot() == before


def test_a_nik_that_is_unknown_hidden_or_the_kept_ones_finds_nothing(client, world):
    client.force_login(world.staff)
    for nik in ("3512011708859999", world.gresik_person.nik, world.keep.nik, "12345"):
        response = client.post(pick_url(world.keep), {"nik": nik})
        assert response.status_code == 200 and "nik" in response.context["nik_form"].errors, nik


def test_the_merge_link_is_for_the_staff_only(client, world):
    client.force_login(world.situbondo)
    html = client.get(reverse("participants:person_detail", args=[world.keep.pk])).content.decode()
    assert pick_url(world.keep) not in html and 'id="merges"' not in html


# -------------------------------------------------------------------------------------- permission matrix

ROLES = ["anonymous", "staff", "other_staff", "operator_situbondo", "operator_gresik", "facilitator"]
# name: (method, URL name, the URL's people, POST data)
VIEWS = {
    "pick": ("get", "person_merge_pick", ("keep",), None),
    "pick_search": ("post", "person_merge_pick", ("keep",), "nik"),
    "compare": ("get", "person_merge", ("keep", "duplicate"), None),
    "merge": ("post", "person_merge", ("keep", "duplicate"), "merge"),
    # The duplicate is another organiser's: the staff cannot find it.
    "merge_hidden": ("post", "person_merge", ("keep", "gresik_person"), "merge"),
}
OK, DENIED, HIDDEN = "ok", 403, 404
EXPECTED = {
    "staff": {**dict.fromkeys(VIEWS, OK), "merge_hidden": HIDDEN},
    "other_staff": dict.fromkeys(VIEWS, HIDDEN),
    # Finds both Situbondo records, may not merge them.
    "operator_situbondo": {**dict.fromkeys(VIEWS, DENIED), "merge_hidden": DENIED},
    "operator_gresik": dict.fromkeys(VIEWS, HIDDEN),
    "facilitator": dict.fromkeys(VIEWS, HIDDEN),
}


def test_the_matrix_covers_every_view_of_the_merge():
    from participants.views.people import urlpatterns

    assert {p.name for p in urlpatterns} == {url_name for _m, url_name, _p, _d in VIEWS.values()}
    assert set(EXPECTED) | {"anonymous"} == set(ROLES)


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, role, view):
    method, url_name, people, data = VIEWS[view]
    url = reverse(f"participants:{url_name}", args=[getattr(world, name).pk for name in people])
    payload = {"nik": {"nik": world.duplicate.nik}, "merge": {"confirm": "on"}}.get(data)
    user = world.users()[role]
    if user is not None:
        client.force_login(user)
    before = snapshot()

    response = client.post(url, payload) if method == "post" else client.get(url)

    if role == "anonymous":
        assert response.status_code == 302 and response.url.startswith(reverse("accounts:login") + "?next=")
        assert snapshot() == before
        return
    outcome = EXPECTED[role][view]
    if outcome != OK:
        assert response.status_code == outcome
        assert snapshot() == before
        return
    if view == "pick_search":
        assert response.status_code == 302 and response.url == merge_url(world.keep, world.duplicate)
    elif view == "merge":
        assert response.status_code == 302
        assert not Person.objects.filter(pk=world.duplicate.pk).exists()
    else:
        assert response.status_code == 200
    for value in (world.keep.nik, world.duplicate.nik):
        assert value not in url and value not in response.get("Location", "")


def test_the_pages_answer_get_and_post_only(client, world):
    client.force_login(world.staff)
    assert client.put(pick_url(world.keep)).status_code == 405
    assert client.delete(merge_url(world.keep, world.duplicate)).status_code == 405
    assert Person.objects.filter(pk=world.duplicate.pk).exists()


def test_finished_batches_stay_finished(world):
    services.person_merge(actor=world.staff, keep=world.keep, duplicate=world.duplicate)
    assert set(Batch.objects.values_list("status", flat=True)) == {Batch.Status.FINISHED}
