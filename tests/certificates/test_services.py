"""Certificate numbers: unique and without gaps per organiser and year, never two for one enrolment."""

from datetime import date, datetime, time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from certificates import services
from certificates.models import CODE_ALPHABET, CODE_LENGTH, Certificate
from participants.models import Enrollment, Nomination, Person
from tests.factories import BatchFactory, ModuleFactory, StaffFactory, pillar, region
from trainings.models import Attendance, Batch, Session

pytestmark = pytest.mark.django_db

ISSUED = timezone.make_aware(datetime(2025, 10, 16, 17, 0))


def finished_batch(staff, *, participants: int, attended: int | None = None, serial_from: int = 1) -> Batch:
    """A finished one-session batch; the first `attended` participants (all by default) were present."""
    batch = BatchFactory(organiser=staff.organiser, status=Batch.Status.FINISHED)
    session = Session.objects.create(
        batch=batch,
        date=batch.start_date,
        start_time=time(8, 0),
        end_time=time(9, 30),
        module=ModuleFactory(program=batch.program, jp=2),
        jp=2,
    )
    attended = participants if attended is None else attended
    for i in range(participants):
        serial = serial_from + i
        person = Person.objects.create(
            nik=f"351201170885{serial:04d}",
            full_name=f"Peserta {serial:03d}",
            gender="L",
            birth_place="Situbondo",
            birth_date=date(1985, 8, 17),
            kabupaten=region("35.12"),
            pillar_type=pillar("psm"),
        )
        nomination = Nomination.objects.create(
            batch=batch,
            person=person,
            kabupaten=region("35.12"),
            pillar_type=pillar("psm"),
            status=Nomination.Status.ACCEPTED,
            nominated_by=staff,
        )
        enrollment = Enrollment.objects.create(batch=batch, person=person, nomination=nomination)
        if i < attended:
            Attendance.objects.create(
                session=session, enrollment=enrollment, status="hadir", method="staff", recorded_at=ISSUED
            )
    return batch


@pytest.fixture
def staff():
    return StaffFactory(organiser__code="UPT-PTKS")


def issue(staff, batch, **kwargs):
    return services.certificates_issue(
        actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED, **kwargs
    )


def test_numbers_follow_the_default_format():
    assert services.certificate_number(seq=7, organiser_code="UPT-PTKS", issued=ISSUED) == "007/UPT-PTKS/X/2025"


def test_numbers_are_gap_free_across_batches_and_running_twice_issues_nothing_new(staff):
    first = finished_batch(staff, participants=3)
    second = finished_batch(staff, participants=2, serial_from=10)
    issue(staff, first)
    assert issue(staff, first) == []
    issue(staff, second)
    seqs = list(Certificate.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5]
    assert Certificate.objects.values("enrollment").distinct().count() == 5


def test_codes_are_long_random_and_unrelated_to_the_nik(staff):
    issue(staff, finished_batch(staff, participants=5))
    for certificate in Certificate.objects.select_related("enrollment__person"):
        code = certificate.verification_code
        assert len(code) == CODE_LENGTH >= 10 and set(code) <= set(CODE_ALPHABET)
        assert code not in certificate.enrollment.person.nik


def test_those_below_the_pass_rule_need_a_reason(staff):
    batch = finished_batch(staff, participants=2, attended=1)
    below = batch.enrollments.order_by("person__full_name").last()
    with pytest.raises(ValidationError, match="belum memenuhi syarat kelulusan"):
        issue(staff, batch)
    assert not Certificate.objects.exists()
    issue(staff, batch, included_reasons={below.pk: "sakit, ada surat dokter"})
    assert Certificate.objects.get(enrollment=below).included_reason == "sakit, ada surat dokter"


def test_only_finished_batches_and_their_staff(staff):
    batch = finished_batch(staff, participants=1)
    with pytest.raises(PermissionDenied):
        issue(StaffFactory(), batch)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.RUNNING)
    batch.refresh_from_db()
    with pytest.raises(ValidationError, match="Sertifikat diterbitkan setelah angkatan selesai"):
        issue(staff, batch)


def test_revocation_needs_a_reason_and_a_reissue_gets_a_new_number(staff):
    batch = finished_batch(staff, participants=2)
    old = issue(staff, batch)[0]
    with pytest.raises(ValidationError, match="Tuliskan alasan pencabutan"):
        services.certificate_revoke(actor=staff, certificate=old, reason="  ")
    services.certificate_revoke(actor=staff, certificate=old, reason="salah tulis nama")
    new = services.certificate_reissue(actor=staff, certificate=old, now=ISSUED)
    old.refresh_from_db()
    assert old.replaced_by == new and not old.is_valid and new.is_valid
    assert new.seq == 3 and new.number != old.number
    assert issue(staff, batch) == []
