"""The demo loads once, stays the same when run again, always gives the widyaiswara a session today, and has the
Situbondo certificates issued and rendered, with the verification code, NIK and access code the README shows."""

import hashlib
import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from certificates.models import CODE_ALPHABET, CODE_LENGTH, Certificate, CertificateLayout, DocumentJob
from participants.models import ACCESS_CODE_ALPHABET, ACCESS_CODE_LENGTH, Enrollment
from trainings.management.commands.seed_demo import DEMO_ACCESS_CODE, DEMO_VERIFICATION_CODE
from trainings.models import Attendance, Batch, Session
from trainings.selectors import attendance_matrix

# As documented in README.md ("Demo accounts").
README_VERIFICATION_CODE = "UPTKDEMA4789"
README_NIK = "3512011703980001"
README_ACCESS_CODE = "KARTU479"

pytestmark = pytest.mark.django_db


def sessions_today_of(username, day):
    return Session.objects.filter(date=day, facilitators__user__username=username)


def test_the_demo_is_refused_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.filter(username="staf").exists()


def seed(**kwargs) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **kwargs)
    return out.getvalue()


def certificates_of(batch) -> dict:
    return {
        c.pk: (c.enrollment_id, c.number, c.verification_code, c.pdf.name, c.sha256)
        for c in Certificate.objects.filter(enrollment__batch=batch)
    }


def test_the_demo_codes_use_their_alphabets():
    assert DEMO_VERIFICATION_CODE == README_VERIFICATION_CODE
    assert len(DEMO_VERIFICATION_CODE) == CODE_LENGTH and set(DEMO_VERIFICATION_CODE) <= set(CODE_ALPHABET)
    assert DEMO_ACCESS_CODE == README_ACCESS_CODE
    assert len(DEMO_ACCESS_CODE) == ACCESS_CODE_LENGTH and set(DEMO_ACCESS_CODE) <= set(ACCESS_CODE_ALPHABET)


def test_the_demo_is_idempotent_and_realistic(settings):
    settings.DEBUG = True
    first_output = seed()
    counts = (Batch.objects.count(), Enrollment.objects.count(), Attendance.objects.count())
    situbondo = Batch.objects.get(name__contains="Kabupaten Situbondo", status=Batch.Status.FINISHED)
    certificates = certificates_of(situbondo)
    jobs = list(DocumentJob.objects.values_list("pk", "status", "done"))
    second_output = seed()
    assert (Batch.objects.count(), Enrollment.objects.count(), Attendance.objects.count()) == counts
    assert certificates_of(situbondo) == certificates
    assert list(DocumentJob.objects.values_list("pk", "status", "done")) == jobs
    assert CertificateLayout.objects.filter(organiser=situbondo.organiser).count() == 1

    # One valid certificate for everyone who meets the pass rule, each rendered and stored, by one finished job.
    eligible = {row.enrollment.pk for row in attendance_matrix(batch=situbondo).rows if row.eligible}
    valid = Certificate.objects.filter(enrollment__batch=situbondo, revoked_at__isnull=True).order_by("seq")
    assert sorted(valid.values_list("enrollment_id", flat=True)) == sorted(eligible)
    assert len(eligible) == 39
    assert [c.seq for c in valid] == list(range(1, 40))
    for certificate in valid:
        assert certificate.pdf.name and len(certificate.sha256) == 64
        with default_storage.open(certificate.pdf.name, "rb") as handle:
            data = handle.read()
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == certificate.sha256
    assert jobs == [(jobs[0][0], DocumentJob.Status.DONE, 39)]

    # The documented demo values: the first certificate, and its holder's NIK and access code.
    demo = Certificate.objects.select_related("enrollment__person").get(verification_code=README_VERIFICATION_CODE)
    assert demo.number == "001/UPT-PTKS/X/2025" and demo.is_valid
    assert demo.enrollment.access_code == README_ACCESS_CODE
    assert demo.enrollment.person.nik == README_NIK
    for output in (first_output, second_output):
        assert f"{settings.SITE_URL}/v/{README_VERIFICATION_CODE}" in output
        assert README_NIK in output and README_ACCESS_CODE in output
    assert "rendered: 39 PDFs" in first_output and "rendered" not in second_output

    situbondo = Batch.objects.get(name__contains="Kabupaten Situbondo", status=Batch.Status.FINISHED)
    rows = attendance_matrix(batch=situbondo).rows
    assert len(rows) == 40
    assert sum(1 for row in rows if not row.eligible) == 1
    statuses = set(Attendance.objects.filter(session__batch=situbondo).values_list("status", flat=True))
    assert {"hadir", "terlambat", "izin", "sakit"} <= statuses
    assert sessions_today_of("widyaiswara", timezone.localdate()).exists()


def test_with_a_broker_the_certificates_are_left_to_the_workers(
    settings, tasks_queued, django_capture_on_commit_callbacks
):
    """With a broker the job goes to the queue on commit; the command says so instead of waiting for it."""
    settings.DEBUG = True
    with django_capture_on_commit_callbacks(execute=True) as queued:
        output = seed()
    assert len(queued) == 1  # the job's first task, sent to the broker
    job = DocumentJob.objects.get()
    assert job.status == DocumentJob.Status.QUEUED
    assert f"queued (job {job.pk})" in output
    assert Certificate.objects.filter(pdf="").count() == 39
    assert f"/v/{README_VERIFICATION_CODE}" in output


def test_on_the_folder_broker_of_make_run_the_certificates_are_rendered_before_the_worker_starts(
    settings, django_capture_on_commit_callbacks
):
    """`make run` starts its worker after seed_demo: the documented demo certificate must exist by then."""
    from config.celery import app

    settings.DEBUG = True
    broker = app.conf.broker_url
    app.conf.task_always_eager = False  # restored by the suite's _tasks_in_process fixture
    app.conf.broker_url = "filesystem://"  # nothing is sent: the test's transaction holds the commit back
    try:
        with django_capture_on_commit_callbacks():
            output = seed()
    finally:
        app.conf.broker_url = broker
    assert DocumentJob.objects.get().status == DocumentJob.Status.DONE
    assert not Certificate.objects.filter(pdf="").exists()
    assert "rendered: 39 PDFs" in output
    assert app.conf.task_always_eager is False  # in-process only for the command's own job


def test_the_widyaiswara_has_a_session_today_on_later_days_too(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    tomorrow = timezone.localdate() + timedelta(days=1)
    with mock.patch("django.utils.timezone.localdate", return_value=tomorrow):
        call_command("seed_demo")
    assert sessions_today_of("widyaiswara", tomorrow).exists()
    later = timezone.localdate() + timedelta(days=5)  # after the running batch: it is finished, a new one runs
    with mock.patch("django.utils.timezone.localdate", return_value=later):
        call_command("seed_demo")
    assert sessions_today_of("widyaiswara", later).exists()
    assert not Batch.objects.filter(status=Batch.Status.RUNNING, end_date__lt=later).exists()
