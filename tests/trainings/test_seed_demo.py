"""The demo loads once, stays the same when run again, and always gives the widyaiswara a session today."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from participants.models import Enrollment
from trainings.models import Attendance, Batch, Session
from trainings.selectors import attendance_matrix

pytestmark = pytest.mark.django_db


def sessions_today_of(username, day):
    return Session.objects.filter(date=day, facilitators__user__username=username)


def test_the_demo_is_refused_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.filter(username="staf").exists()


def test_the_demo_is_idempotent_and_realistic(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (Batch.objects.count(), Enrollment.objects.count(), Attendance.objects.count())
    call_command("seed_demo")
    assert (Batch.objects.count(), Enrollment.objects.count(), Attendance.objects.count()) == counts

    situbondo = Batch.objects.get(name__contains="Kabupaten Situbondo", status=Batch.Status.FINISHED)
    rows = attendance_matrix(batch=situbondo).rows
    assert len(rows) == 40
    assert sum(1 for row in rows if not row.eligible) == 1
    statuses = set(Attendance.objects.filter(session__batch=situbondo).values_list("status", flat=True))
    assert {"hadir", "terlambat", "izin", "sakit"} <= statuses
    assert sessions_today_of("widyaiswara", timezone.localdate()).exists()


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
