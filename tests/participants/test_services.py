"""The nomination rules, whichever door a nomination comes through (participants.services)."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import override

from participants import services
from participants.models import AssignmentLetter, Enrollment, Nomination, NominationEvent, Person
from tests.factories import BatchFactory, OperatorFactory, StaffFactory, pillar, region
from trainings.models import Batch, QuotaAllocation

pytestmark = pytest.mark.django_db

BEFORE_DEADLINE, DEADLINE, AFTER_DEADLINE = date(2025, 9, 1), date(2025, 10, 3), date(2025, 10, 4)


def data(serial=1, **overrides) -> services.PersonData:
    values = {
        "nik": f"351201170885{serial:04d}",
        "full_name": f"Peserta {serial}",
        "gender": "L",
        "birth_place": "Situbondo",
        "birth_date": date(1985, 8, 17),
        "kabupaten": region("35.12"),
        "pillar_type": pillar("psm"),
        "kecamatan": region("35.12.01"),
    }
    values.update(overrides)
    return services.PersonData(**values)


@pytest.fixture
def staff():
    return StaffFactory()


@pytest.fixture
def operator():
    return OperatorFactory(username="operator.situbondo")


@pytest.fixture
def batch(staff):
    batch = BatchFactory(
        organiser=staff.organiser, status=Batch.Status.NOMINATION_OPEN, quota_total=10, nomination_deadline=DEADLINE
    )
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=6)
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.25"), seats=4)
    return batch


def submit(actor, batch, person_data, today=BEFORE_DEADLINE, kabupaten=None):
    return services.nomination_submit(
        actor=actor, batch=batch, kabupaten=kabupaten or region("35.12"), data=person_data, today=today
    )


def keys(excinfo):
    return set(excinfo.value.message_dict)


def test_a_nomination_creates_the_person_and_records_who_did_it(batch, operator):
    nomination, warnings = submit(operator, batch, data())
    assert warnings == []
    assert nomination.status == Nomination.Status.PENDING
    assert nomination.person.nik == "3512011708850001"
    assert list(nomination.events.values_list("action", "actor")) == [("created", operator.pk)]


def test_the_deadline_day_is_still_open_and_the_day_after_is_not_for_operators(batch, operator, staff):
    submit(operator, batch, data(1), today=DEADLINE)
    with pytest.raises(ValidationError, match="Batas akhir pengusulan sudah lewat"):
        submit(operator, batch, data(2), today=AFTER_DEADLINE)
    submit(staff, batch, data(2), today=AFTER_DEADLINE)  # staff still can
    assert batch.nominations.count() == 2


def test_operators_nominate_only_for_their_own_kabupaten(batch, operator):
    with pytest.raises(PermissionDenied):
        submit(operator, batch, data(kabupaten=region("35.25")), kabupaten=region("35.25"))


def test_a_kabupaten_without_quota_is_refused(batch, staff):
    with pytest.raises(ValidationError, match="Probolinggo tidak memiliki kuota pada angkatan ini") as excinfo:
        submit(staff, batch, data(kabupaten=region("35.13"), kecamatan=None), kabupaten=region("35.13"))
    assert keys(excinfo) == {"nik"}


def test_kabupaten_pillar_and_kecamatan_quotas_each_hold(batch, operator):
    QuotaAllocation.objects.create(batch=batch, kind="pillar", pillar_type=pillar("tksk"), seats=1)
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.12.02"), seats=1)
    submit(operator, batch, data(1, pillar_type=pillar("tksk")))
    with pytest.raises(ValidationError, match="Kuota TKSK") as excinfo:
        submit(operator, batch, data(2, pillar_type=pillar("tksk")))
    assert keys(excinfo) == {"pillar_type"}
    submit(operator, batch, data(3, kecamatan=region("35.12.02")))
    with pytest.raises(ValidationError, match="Kuota kecamatan Jatibanteng") as excinfo:
        submit(operator, batch, data(4, kecamatan=region("35.12.02")))
    assert keys(excinfo) == {"kecamatan"}
    for serial in range(5, 9):
        submit(operator, batch, data(serial))
    with pytest.raises(ValidationError, match="Kuota Kabupaten Situbondo") as excinfo:  # Situbondo's 6 seats are taken
        submit(operator, batch, data(9))
    assert "6" in excinfo.value.message_dict["nik"][0]
    assert batch.nominations.filter(status__in=Nomination.ACTIVE).count() == 6


def test_the_same_person_cannot_hold_two_seats(batch, operator):
    submit(operator, batch, data(1))
    with pytest.raises(ValidationError, match="sudah diusulkan pada angkatan ini") as excinfo:
        submit(operator, batch, data(1))
    assert keys(excinfo) == {"nik"}


def test_someone_enrolled_in_an_overlapping_batch_is_refused(batch, operator, staff):
    other = BatchFactory(
        organiser=staff.organiser,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=date(2025, 10, 15),
        end_date=date(2025, 10, 18),
        nomination_deadline=DEADLINE,
    )
    nomination, _warnings = submit(operator, other, data(1))
    services.nominations_decide(actor=staff, batch=other, nomination_ids=[nomination.pk], decision="accept")
    with pytest.raises(ValidationError, match="pada tanggal yang bertabrakan") as excinfo:
        submit(operator, batch, data(1))
    assert other.name in excinfo.value.message_dict["nik"][0]


def test_warnings_do_not_block(batch, operator, staff):
    finished = BatchFactory(
        organiser=staff.organiser,
        program=batch.program,
        start_date=date(2024, 5, 6),
        end_date=date(2024, 5, 9),
        status=Batch.Status.NOMINATION_OPEN,
        nomination_deadline=None,
    )
    earlier, _warnings = submit(staff, finished, data(1))
    services.nominations_decide(actor=staff, batch=finished, nomination_ids=[earlier.pk], decision="accept")
    Batch.objects.filter(pk=finished.pk).update(status=Batch.Status.FINISHED)
    # Completed the program before, and a NIK issued in Gresik.
    nomination, warnings = submit(operator, batch, data(1, nik="3525101708850001"))
    assert nomination.pk and len(warnings) == 1
    nomination, warnings = submit(operator, batch, data(1))
    assert len(warnings) == 1 and nomination.person.nominations.count() == 2


def test_corrections_update_the_registry_and_are_recorded(batch, operator):
    first, _warnings = submit(operator, batch, data(1))
    services.nomination_withdraw(actor=operator, nomination=first, today=BEFORE_DEADLINE)
    again, _warnings = submit(operator, batch, data(1, full_name="Peserta Satu", phone="0812 3456 7890"))
    person = Person.objects.get(nik="3512011708850001")
    assert (person.full_name, person.phone) == ("Peserta Satu", "0812 3456 7890")
    event = again.events.get(action=NominationEvent.Action.PERSON_CHANGED)
    assert event.changes["full_name"] == ["Peserta 1", "Peserta Satu"]


def test_withdraw_and_replace_keep_both_records(batch, operator):
    first, _warnings = submit(operator, batch, data(1))
    second, _warnings = submit(operator, batch, data(2))
    services.nomination_withdraw(actor=operator, nomination=first, reason="sakit", today=BEFORE_DEADLINE)
    replacement, _warnings = services.nomination_replace(
        actor=operator, nomination=second, data=data(3), today=BEFORE_DEADLINE
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Nomination.Status.WITHDRAWN
    assert second.status == Nomination.Status.REPLACED and replacement.replaces == second
    assert batch.nominations.count() == 3
    assert batch.nominations.filter(status__in=Nomination.ACTIVE).count() == 1
    with pytest.raises(ValidationError, match="tidak dapat ditarik"):
        services.nomination_withdraw(actor=operator, nomination=first, today=BEFORE_DEADLINE)


def test_after_the_deadline_only_staff_withdraw(batch, operator, staff):
    nomination, _warnings = submit(operator, batch, data(1))
    with pytest.raises(ValidationError, match="Batas akhir pengusulan sudah lewat"):
        services.nomination_withdraw(actor=operator, nomination=nomination, today=AFTER_DEADLINE)
    services.nomination_withdraw(actor=staff, nomination=nomination, today=AFTER_DEADLINE)


def test_accepting_enrols_with_distinct_unambiguous_codes(batch, operator, staff):
    ids = [submit(operator, batch, data(serial))[0].pk for serial in range(1, 6)]
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=ids, decision="accept")
    codes = list(Enrollment.objects.values_list("access_code", flat=True))
    assert len(set(codes)) == 5
    assert all(len(code) == 8 and not set(code) & set("0O1IL5S2Z") for code in codes)


def test_reject_and_replacement_requests_need_a_reason(batch, operator, staff):
    nomination, _warnings = submit(operator, batch, data(1))
    for decision in ("reject", "replace"):
        with pytest.raises(ValidationError, match="Isi alasannya") as excinfo:
            services.nominations_decide(actor=staff, batch=batch, nomination_ids=[nomination.pk], decision=decision)
        assert keys(excinfo) == {"reason"}
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="replace", reason="Bukan pilar PSM"
    )
    nomination.refresh_from_db()
    assert nomination.status == Nomination.Status.REPLACEMENT_REQUESTED and nomination.reason == "Bukan pilar PSM"


def test_the_assignment_letter_can_be_required_before_accepting(batch, operator, staff):
    Batch.objects.filter(pk=batch.pk).update(requires_assignment_letter=True)
    nomination, _warnings = submit(operator, batch, data(1))
    with pytest.raises(ValidationError, match="Surat tugas dari Kabupaten Situbondo belum ada") as excinfo:
        services.nominations_decide(actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="accept")
    assert "Situbondo" in excinfo.value.messages[0]
    AssignmentLetter.objects.create(
        batch=batch,
        kabupaten=region("35.12"),
        file="letters/x.pdf",
        original_name="surat.pdf",
        content_type="application/pdf",
        uploaded_by=operator,
    )
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="accept")
    assert Enrollment.objects.filter(nomination=nomination).exists()


def test_decisions_are_all_or_nothing_and_only_on_pending(batch, operator, staff):
    first, _warnings = submit(operator, batch, data(1))
    second, _warnings = submit(operator, batch, data(2))
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=[first.pk], decision="accept")
    with pytest.raises(ValidationError, match="Hanya usulan yang menunggu verifikasi"):
        services.nominations_decide(actor=staff, batch=batch, nomination_ids=[first.pk, second.pk], decision="accept")
    second.refresh_from_db()
    assert second.status == Nomination.Status.PENDING
    assert Enrollment.objects.count() == 1


def test_only_the_batch_staff_decide(batch, operator):
    nomination, _warnings = submit(operator, batch, data(1))
    for actor in (operator, StaffFactory()):
        with pytest.raises(PermissionDenied):
            services.nominations_decide(actor=actor, batch=batch, nomination_ids=[nomination.pk], decision="accept")


def test_a_nominee_cannot_be_replaced_by_the_same_person(batch, operator):
    nomination, _warnings = submit(operator, batch, data(1))
    with pytest.raises(ValidationError, match="tidak dapat diganti dengan orang yang sama") as excinfo:
        services.nomination_replace(actor=operator, nomination=nomination, data=data(1), today=BEFORE_DEADLINE)
    assert keys(excinfo) == {"nik"}
    nomination.refresh_from_db()
    assert nomination.status == Nomination.Status.PENDING


def test_an_operator_cannot_rewrite_another_kabupatens_registry_record(batch, operator, staff):
    gresik = OperatorFactory(username="operator.gresik", kabupaten=region("35.25"))
    gresik_person = data(7, nik="3525101708850007", kabupaten=region("35.25"), kecamatan=region("35.25.10"))
    submit(gresik, batch, gresik_person, kabupaten=region("35.25"))
    # Situbondo nominates the same NIK with other data: the nomination stands, the record does not change.
    other_batch = BatchFactory(
        organiser=staff.organiser,
        status=Batch.Status.NOMINATION_OPEN,
        quota_total=5,
        nomination_deadline=DEADLINE,
        start_date=date(2025, 11, 3),
        end_date=date(2025, 11, 6),
    )
    with override("en"):
        nomination, warnings = submit(operator, other_batch, data(7, nik="3525101708850007", full_name="Nama Lain"))
    person = Person.objects.get(nik="3525101708850007")
    assert person.full_name == "Peserta 7" and person.kabupaten == region("35.25")
    assert nomination.person == person and any("another regency/city" in w for w in warnings)


def test_with_kecamatan_quotas_the_kecamatan_is_required(batch, operator):
    QuotaAllocation.objects.create(batch=batch, kind="kecamatan", region=region("35.12.01"), seats=3)
    with pytest.raises(ValidationError, match="pilih kecamatannya") as excinfo:
        submit(operator, batch, data(1, kecamatan=None))
    assert keys(excinfo) == {"kecamatan"}


def test_nominating_a_known_person_again_keeps_what_the_form_left_empty(batch, operator):
    first, _warnings = submit(operator, batch, data(1, phone="081234567890", address="Dusun Krajan", education="sma"))
    services.nomination_withdraw(actor=operator, nomination=first, today=BEFORE_DEADLINE)
    submit(operator, batch, data(1, kecamatan=None))
    person = Person.objects.get(nik="3512011708850001")
    assert (person.phone, person.address, person.education) == ("081234567890", "Dusun Krajan", "sma")
    assert person.kecamatan == region("35.12.01")


def test_a_person_pending_in_two_overlapping_batches_is_accepted_in_one_only(batch, operator, staff):
    other = BatchFactory(
        organiser=staff.organiser,
        status=Batch.Status.NOMINATION_OPEN,
        start_date=date(2025, 10, 15),
        end_date=date(2025, 10, 18),
        nomination_deadline=DEADLINE,
    )
    here, _warnings = submit(operator, batch, data(1))
    there, warnings = submit(operator, other, data(1))
    assert warnings  # the operator is told at once
    services.nominations_decide(actor=staff, batch=batch, nomination_ids=[here.pk], decision="accept")
    with pytest.raises(ValidationError, match="pada tanggal yang bertabrakan") as excinfo:
        services.nominations_decide(actor=staff, batch=other, nomination_ids=[there.pk], decision="accept")
    assert batch.name in excinfo.value.messages[0]


def test_a_rejected_person_is_not_nominated_again_by_the_operator(batch, operator, staff):
    nomination, _warnings = submit(operator, batch, data(1))
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="reject", reason="Bukan warga Situbondo"
    )
    with pytest.raises(ValidationError) as excinfo:
        submit(operator, batch, data(1))
    assert "Bukan warga Situbondo" in excinfo.value.message_dict["nik"][0]
    submit(staff, batch, data(1))  # the staff may reconsider


@pytest.mark.parametrize("year", [1885, 2085, date.today().year - 5])
def test_an_implausible_birth_year_is_refused(batch, operator, year):
    born = date(year, 8, 17)
    with pytest.raises(ValidationError, match="Usia peserta harus antara 15 dan 90 tahun") as excinfo:
        submit(operator, batch, data(1, birth_date=born, nik=f"351201{born:%d%m%y}0001"))
    assert keys(excinfo) == {"birth_date"}


def test_a_requested_replacement_can_be_answered_after_the_deadline(batch, operator, staff):
    nomination, _warnings = submit(operator, batch, data(1))
    services.nominations_decide(
        actor=staff, batch=batch, nomination_ids=[nomination.pk], decision="replace", reason="Bukan pilar PSM"
    )
    with pytest.raises(
        ValidationError, match="Batas akhir pengusulan sudah lewat"
    ):  # a new nomination after the deadline: refused
        submit(operator, batch, data(2), today=AFTER_DEADLINE)
    replacement, _warnings = services.nomination_replace(
        actor=operator, nomination=nomination, data=data(3), today=AFTER_DEADLINE
    )
    assert replacement.replaces == nomination and replacement.status == Nomination.Status.PENDING


def test_a_nik_registered_meanwhile_is_refused_as_nik_taken_and_nothing_is_written():
    """people_create() is the one insert of new people: a NIK that exists by now (registered by another
    transaction after it was read as new) raises NikTaken, for the caller to run again, and writes none of them."""
    values = {"gender": "L", "birth_place": "Situbondo", "birth_date": date(1985, 8, 17)}
    values.update(kabupaten=region("35.12"), pillar_type=pillar("psm"))
    Person.objects.create(nik=data(1).nik, full_name="Peserta 1", **values)
    newcomers = [Person(nik=data(2).nik, full_name="Peserta 2", **values), Person(nik=data(1).nik, **values)]
    with override("en"), pytest.raises(services.NikTaken, match="registered the same person at the same moment"):
        services.people_create(newcomers)
    assert list(Person.objects.values_list("nik", flat=True)) == [data(1).nik]
