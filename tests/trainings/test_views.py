"""The trainings pages as the organiser's staff use them: bad input is refused next to its field with
nothing written and the typed values kept; unknown ids are 404; POST-only actions refuse GET; the status
buttons; and the number of queries of the busiest pages does not grow with their content."""

import re
from datetime import date, time, timedelta
from html import escape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    StaffFactory,
    region,
)
from trainings.models import Batch, BatchVenue, QuotaAllocation, Session

pytestmark = pytest.mark.django_db

START, END = date(2025, 10, 13), date(2025, 10, 16)


@pytest.fixture
def organiser():
    return OrganiserFactory(code="UPT-PTKS")


@pytest.fixture
def staff(organiser):
    return StaffFactory(organiser=organiser)


@pytest.fixture
def program(organiser):
    program = ProgramFactory(organiser=organiser)
    for order in range(1, 4):
        ModuleFactory(program=program, order=order, jp=2)
    return program


@pytest.fixture
def batch(organiser, program):
    return BatchFactory(organiser=organiser, program=program, start_date=START, end_date=END, quota_total=40)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def field_error(response, field: str) -> str:
    """The field's first error as crispy renders it next to the field (whose input is marked invalid, so
    Bootstrap shows the message); fails if the field has no error shown."""
    form = response.context["form"]
    assert field in form.errors, f"no error on {field}: {form.errors.as_data()}"
    content = response.content.decode()
    auto_id = form[field].auto_id
    match = re.search(rf'<(p|span) id="error_1_{re.escape(auto_id)}"><strong>(.*?)</strong>', content, re.S)
    assert match, f"the error of {field} is not rendered next to it"
    assert match.group(2) == escape(str(form.errors[field][0]), quote=True)
    widget = re.search(rf'<(input|select|textarea)[^>]*id="{re.escape(auto_id)}(_0)?"[^>]*>', content)
    assert widget, f"no widget for {field}"
    assert "is-invalid" in widget.group(), f"{field} is not marked invalid"
    return match.group(2)


def input_value(response, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', response.content.decode())
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group())
    return value.group(1) if value else None


def selected_value(response, name: str) -> str | None:
    content = response.content.decode()
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', content, re.S)
    assert select, f"no select {name}"
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return option.group(1) if option else None


def messages_of(response) -> list[tuple[str, str]]:
    """The (level, text) of the messages a response queued."""
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def message_shown(client, response, level: str) -> str:
    """The one message a redirecting POST queued, checked to be of `level` and shown (as a Bootstrap alert) on
    the page the POST redirects to."""
    assert response.status_code == 302
    [(queued_level, text)] = messages_of(response)
    assert queued_level == level, text
    page = client.get(response.url).content.decode()
    css = "danger" if level == "error" else level
    alert = re.search(rf'<div class="alert alert-{css}[^>]*>\s*(.*?)\s*<button', page, re.S)
    assert alert, f"no {level} alert on the page"
    assert alert.group(1) == escape(text, quote=True)
    return text


def error_shown(client, response) -> str:
    return message_shown(client, response, "error")


def success_shown(client, response) -> str:
    return message_shown(client, response, "success")


# ------------------------------------------------------------------------------------------------- batches


def batch_post(program, **overrides):
    data = {
        "program": program.pk,
        "name": "Angkatan III Kabupaten Situbondo",
        "start_date": "2025-11-10",
        "end_date": "2025-11-13",
        "venue": "UPT PTKS Malang",
        "nomination_deadline": "2025-11-01",
        "quota_total": "30",
        "notes": "Kelas pagi",
    }
    data.update(overrides)
    return data


def edit_post(batch, **overrides):
    """The batch form as it comes filled in for `batch`, with `overrides`."""
    return batch_post(
        batch.program,
        **{
            "name": batch.name,
            "start_date": batch.start_date.isoformat(),
            "end_date": batch.end_date.isoformat(),
            "venue": batch.venue,
            "nomination_deadline": "",
            "quota_total": str(batch.quota_total),
            "notes": "",
            **overrides,
        },
    )


def add_session(batch, **fields) -> Session:
    """A session of the batch teaching its program's first materi (without adding materi to the program)."""
    fields.setdefault("module", batch.program.modules.order_by("order", "pk").first())
    return SessionFactory(batch=batch, **fields)


def test_batch_create_saves_and_redirects(staff_client, staff, program):
    response = staff_client.post(reverse("trainings:batch_create"), batch_post(program))
    batch = Batch.objects.get(name="Angkatan III Kabupaten Situbondo")
    assert response.status_code == 302
    assert response.url == reverse("trainings:batch_detail", args=[batch.pk])
    assert batch.organiser == staff.organiser
    assert batch.status == Batch.Status.DRAFT
    assert (batch.start_date, batch.end_date, batch.quota_total) == (
        date(2025, 11, 10),
        date(2025, 11, 13),
        30,
    )


def test_batch_create_refuses_an_end_before_the_start_and_keeps_the_input(staff_client, program):
    before = Batch.objects.count()
    response = staff_client.post(
        reverse("trainings:batch_create"), batch_post(program, start_date="2025-11-13", end_date="2025-11-10")
    )
    assert response.status_code == 200
    field_error(response, "end_date")
    assert Batch.objects.count() == before
    assert input_value(response, "name") == "Angkatan III Kabupaten Situbondo"
    assert input_value(response, "start_date") == "2025-11-13"
    assert input_value(response, "end_date") == "2025-11-10"
    assert input_value(response, "quota_total") == "30"
    assert selected_value(response, "program") == str(program.pk)


def test_batch_create_refuses_a_deadline_after_the_first_day(staff_client, program):
    response = staff_client.post(
        reverse("trainings:batch_create"), batch_post(program, nomination_deadline="2025-11-11")
    )
    assert response.status_code == 200
    field_error(response, "nomination_deadline")
    assert not Batch.objects.filter(name="Angkatan III Kabupaten Situbondo").exists()
    assert input_value(response, "nomination_deadline") == "2025-11-11"


def test_batch_create_refuses_a_missing_name_and_a_bad_date(staff_client, program):
    response = staff_client.post(
        reverse("trainings:batch_create"), batch_post(program, name="", start_date="13-13-2025")
    )
    assert response.status_code == 200
    field_error(response, "name")
    field_error(response, "start_date")
    assert not Batch.objects.exists()
    assert input_value(response, "start_date") == "13-13-2025"


def test_batch_create_offers_only_the_organisers_active_programs(staff_client, program, organiser):
    inactive = ProgramFactory(organiser=organiser, is_active=False)
    foreign = ProgramFactory(organiser=OrganiserFactory())
    response = staff_client.get(reverse("trainings:batch_create"))
    choices = list(response.context["form"].fields["program"].queryset)
    assert choices == [program]
    response = staff_client.post(reverse("trainings:batch_create"), batch_post(foreign))
    field_error(response, "program")
    response = staff_client.post(reverse("trainings:batch_create"), batch_post(inactive))
    field_error(response, "program")
    assert not Batch.objects.exists()


def test_batch_edit_shows_the_batch_and_saves(staff_client, batch):
    url = reverse("trainings:batch_edit", args=[batch.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert input_value(response, "name") == batch.name
    assert input_value(response, "start_date") == START.isoformat()
    assert selected_value(response, "program") == str(batch.program_id)
    response = staff_client.post(url, edit_post(batch, name="Angkatan baru", end_date="2025-10-17"))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.name, batch.end_date) == ("Angkatan baru", date(2025, 10, 17))


def test_batch_edit_refuses_an_end_before_the_start_and_changes_nothing(staff_client, batch):
    url = reverse("trainings:batch_edit", args=[batch.pk])
    name = batch.name
    response = staff_client.post(url, edit_post(batch, name="Berubah", end_date="2025-10-01"))
    assert response.status_code == 200
    field_error(response, "end_date")
    assert input_value(response, "name") == "Berubah"
    assert input_value(response, "end_date") == "2025-10-01"
    batch.refresh_from_db()
    assert (batch.name, batch.end_date) == (name, END)


def test_batch_edit_refuses_a_total_below_the_allocated_seats(staff_client, batch):
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=25)
    response = staff_client.post(
        reverse("trainings:batch_edit", args=[batch.pk]),
        edit_post(batch, quota_total="20"),
    )
    assert response.status_code == 200
    field_error(response, "quota_total")
    assert input_value(response, "quota_total") == "20"
    batch.refresh_from_db()
    assert batch.quota_total == 40


def test_batch_edit_refuses_dates_that_leave_a_session_outside(staff_client, batch):
    add_session(batch, date=END)
    response = staff_client.post(
        reverse("trainings:batch_edit", args=[batch.pk]), edit_post(batch, end_date="2025-10-14")
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "alert-danger" in response.content.decode()
    batch.refresh_from_db()
    assert batch.end_date == END


def test_batch_detail_shows_quota_curriculum_and_timetable(staff_client, batch):
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=12)
    teacher = FacilitatorFactory(organiser=batch.organiser, name="Dra. Siti Aminah")
    session = add_session(batch, date=date(2025, 10, 14))
    session.facilitators.add(teacher)
    response = staff_client.get(reverse("trainings:batch_detail", args=[batch.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Situbondo" in content
    assert f'data-session="{session.pk}"' in content
    assert "Dra. Siti Aminah" in content
    assert response.context["can_change"] is True
    assert response.context["detail"].scheduled_jp == 2
    assert response.context["detail"].program_jp == 6


# -------------------------------------------------------------------------------------------------- status


@pytest.fixture
def coming_batch(organiser, program):
    """A draft batch a month ahead with a quota and a nomination deadline: ready to open."""
    start = timezone.localdate() + timedelta(days=30)
    return BatchFactory(
        organiser=organiser,
        program=program,
        start_date=start,
        end_date=start + timedelta(days=3),
        nomination_deadline=start - timedelta(days=10),
        quota_total=40,
    )


def test_open_nomination_from_draft(staff_client, coming_batch):
    batch = coming_batch
    response = staff_client.post(reverse("trainings:batch_status", args=[batch.pk]), {"action": "open"})
    assert response.url == reverse("trainings:batch_detail", args=[batch.pk])
    success_shown(staff_client, response)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.NOMINATION_OPEN


@pytest.mark.parametrize(
    "change", [{"quota_total": 0}, {"nomination_deadline": None}, {"nomination_deadline": date(2025, 1, 1)}]
)
def test_open_nomination_without_quota_or_deadline_shows_the_error(staff_client, coming_batch, change):
    batch = coming_batch
    Batch.objects.filter(pk=batch.pk).update(**change)
    response = staff_client.post(reverse("trainings:batch_status", args=[batch.pk]), {"action": "open"})
    error_shown(staff_client, response)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT


def test_close_start_and_finish(staff_client, batch):
    batch.status = Batch.Status.NOMINATION_OPEN
    batch.save()
    url = reverse("trainings:batch_status", args=[batch.pk])
    success_shown(staff_client, staff_client.post(url, {"action": "close"}))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.NOMINATION_CLOSED

    # No timetable yet: the batch cannot start.
    error_shown(staff_client, staff_client.post(url, {"action": "start"}))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.NOMINATION_CLOSED

    add_session(batch)
    success_shown(staff_client, staff_client.post(url, {"action": "start"}))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING  # the batch's dates (October 2025) are past

    success_shown(staff_client, staff_client.post(url, {"action": "finish"}))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.FINISHED


def test_an_unknown_or_impossible_action_changes_nothing(staff_client, batch):
    url = reverse("trainings:batch_status", args=[batch.pk])
    for action in ("explode", "", "finish", "close"):
        error_shown(staff_client, staff_client.post(url, {"action": action}))
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT


# -------------------------------------------------------------------------------------------------- quotas


def allocation_post(code="35.12", seats=10, kind="kabupaten"):
    return {"kind": kind, "region": region(code).pk, "pillar_type": "", "seats": str(seats)}


def test_allocation_add_saves(staff_client, batch):
    response = staff_client.post(reverse("trainings:allocation_add", args=[batch.pk]), allocation_post(seats=15))
    assert response.status_code == 302
    allocation = batch.allocations.get()
    assert (allocation.kind, allocation.region.code, allocation.seats) == ("kabupaten", "35.12", 15)


def test_allocation_exceeding_the_total_is_refused_and_keeps_the_input(staff_client, batch):
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.25"), seats=30)
    response = staff_client.post(reverse("trainings:allocation_add", args=[batch.pk]), allocation_post(seats=11))
    assert response.status_code == 200
    field_error(response, "seats")
    assert input_value(response, "seats") == "11"
    assert selected_value(response, "region") == str(region("35.12").pk)
    assert selected_value(response, "kind") == "kabupaten"
    assert batch.allocations.count() == 1


def test_allocation_edit_exceeding_the_total_changes_nothing(staff_client, batch):
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.25"), seats=30)
    allocation = QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=10)
    url = reverse("trainings:allocation_edit", args=[batch.pk, allocation.pk])
    response = staff_client.get(url)
    assert input_value(response, "seats") == "10"
    response = staff_client.post(url, allocation_post(seats=11))
    assert response.status_code == 200
    field_error(response, "seats")
    assert input_value(response, "seats") == "11"
    allocation.refresh_from_db()
    assert allocation.seats == 10
    # Within the total it saves.
    assert staff_client.post(url, allocation_post(seats=5)).status_code == 302
    allocation.refresh_from_db()
    assert allocation.seats == 5


def test_allocation_without_region_or_seats_is_refused(staff_client, batch):
    url = reverse("trainings:allocation_add", args=[batch.pk])
    response = staff_client.post(url, {"kind": "kabupaten", "region": "", "seats": "0"})
    assert response.status_code == 200
    field_error(response, "region")
    field_error(response, "seats")
    response = staff_client.post(url, {"kind": "pillar", "region": "", "pillar_type": "", "seats": "3"})
    field_error(response, "pillar_type")
    assert not batch.allocations.exists()


def test_a_kabupaten_twice_is_refused(staff_client, batch):
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    response = staff_client.post(reverse("trainings:allocation_add", args=[batch.pk]), allocation_post(seats=5))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert batch.allocations.count() == 1


def test_allocation_delete(staff_client, batch):
    allocation = QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    response = staff_client.post(reverse("trainings:allocation_delete", args=[batch.pk, allocation.pk]))
    assert response.status_code == 302
    assert not batch.allocations.exists()


def test_day_venues_save_and_refuse_a_too_long_venue(staff_client, batch):
    url = reverse("trainings:day_venues", args=[batch.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    days = {day.isoformat(): "" for day in batch.days}
    response = staff_client.post(url, {**days, "2025-10-14": "x" * 201})
    assert response.status_code == 200
    field_error(response, "2025-10-14")
    assert input_value(response, "2025-10-14") == "x" * 201
    assert not BatchVenue.objects.exists()
    response = staff_client.post(url, {**days, "2025-10-14": "Hotel Santika Malang"})
    assert response.status_code == 302
    assert BatchVenue.objects.get().venue == "Hotel Santika Malang"


# ------------------------------------------------------------------------------------------------ schedule


def session_post(batch, day="2025-10-14", start="08:00", end="09:30", jp="2", **overrides):
    module = batch.program.modules.order_by("order").first()
    data = {
        "date": day,
        "start_time": start,
        "end_time": end,
        "kind": Session.Kind.MATERI,
        "module": module.pk,
        "title": "",
        "jp": jp,
        "venue": "",
    }
    data.update(overrides)
    return data


def test_session_add_saves(staff_client, batch):
    teacher = FacilitatorFactory(organiser=batch.organiser)
    response = staff_client.post(
        reverse("trainings:session_add", args=[batch.pk]), session_post(batch, facilitators=[teacher.pk])
    )
    assert response.status_code == 302
    assert response.url == reverse("trainings:schedule", args=[batch.pk])
    session = batch.sessions.get()
    assert (session.date, session.start_time, session.jp) == (date(2025, 10, 14), time(8, 0), 2)
    assert list(session.facilitators.all()) == [teacher]


def test_session_outside_the_batch_dates_is_refused_and_keeps_the_input(staff_client, batch):
    response = staff_client.post(
        reverse("trainings:session_add", args=[batch.pk]),
        session_post(batch, day="2025-10-20", start="10:15"),
    )
    assert response.status_code == 200
    field_error(response, "date")
    assert input_value(response, "start_time") == "10:15"
    assert input_value(response, "jp") == "2"
    assert not Session.objects.exists()


def test_session_ending_before_it_starts_is_refused(staff_client, batch):
    response = staff_client.post(
        reverse("trainings:session_add", args=[batch.pk]), session_post(batch, start="10:00", end="09:00")
    )
    assert response.status_code == 200
    field_error(response, "end_time")
    assert input_value(response, "start_time") == "10:00"
    assert input_value(response, "end_time") == "09:00"
    assert selected_value(response, "date") == "2025-10-14"
    assert not Session.objects.exists()


def test_session_with_more_jp_than_time_is_refused(staff_client, batch):
    response = staff_client.post(
        reverse("trainings:session_add", args=[batch.pk]),
        session_post(batch, start="08:00", end="08:45", jp="2"),
    )
    field_error(response, "jp")
    assert not Session.objects.exists()


def test_session_overlapping_another_of_the_batch_is_refused(staff_client, batch):
    existing = add_session(batch, date=date(2025, 10, 14), start_time=time(8, 0), end_time=time(9, 30))
    response = staff_client.post(
        reverse("trainings:session_add", args=[batch.pk]), session_post(batch, start="09:00", end="10:30")
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert list(batch.sessions.all()) == [existing]


def test_session_facilitator_double_booking_is_refused_next_to_the_field(staff_client, batch):
    teacher = FacilitatorFactory(organiser=batch.organiser, name="Dra. Siti Aminah")
    other = BatchFactory(organiser=batch.organiser, name="Angkatan Gresik", start_date=START, end_date=END)
    booked = SessionFactory(batch=other, date=date(2025, 10, 14), start_time=time(8, 0), end_time=time(9, 30))
    booked.facilitators.add(teacher)
    session = add_session(batch, date=date(2025, 10, 15), start_time=time(8, 0), end_time=time(9, 30))
    url = reverse("trainings:session_edit", args=[batch.pk, session.pk])
    response = staff_client.post(url, session_post(batch, start="09:00", end="10:30", facilitators=[teacher.pk]))
    assert response.status_code == 200
    message = field_error(response, "facilitators")
    assert "Dra. Siti Aminah" in message
    assert "Angkatan Gresik" in message
    assert re.search(rf'<input[^>]*value="{teacher.pk}"[^>]*checked', response.content.decode())
    session.refresh_from_db()
    assert (session.date, session.start_time) == (date(2025, 10, 15), time(8, 0))
    assert not session.facilitators.exists()


def test_session_edit_moves_the_session(staff_client, batch):
    session = add_session(batch, date=START)
    url = reverse("trainings:session_edit", args=[batch.pk, session.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert selected_value(response, "date") == START.isoformat()
    assert input_value(response, "start_time") == "08:00"
    response = staff_client.post(url, session_post(batch, day="2025-10-16", start="13:00", end="14:30"))
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.date, session.start_time, session.end_time) == (END, time(13, 0), time(14, 30))


def test_session_delete(staff_client, batch):
    session = add_session(batch)
    response = staff_client.post(reverse("trainings:session_delete", args=[batch.pk, session.pk]))
    assert response.status_code == 302
    assert not Session.objects.exists()


def test_schedule_copy_drafts_the_curriculum_once(staff_client, batch):
    url = reverse("trainings:schedule_copy", args=[batch.pk])
    response = staff_client.post(url)
    assert response.url == reverse("trainings:schedule", args=[batch.pk])
    success_shown(staff_client, response)
    assert sum(s.jp for s in batch.sessions.all()) == 6
    count = batch.sessions.count()
    error_shown(staff_client, staff_client.post(url))
    assert batch.sessions.count() == count


def test_schedule_page(staff_client, batch):
    add_session(batch)
    response = staff_client.get(reverse("trainings:schedule", args=[batch.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert reverse("trainings:session_add", args=[batch.pk]) in content
    # The copy button is only offered for an empty timetable.
    assert reverse("trainings:schedule_copy", args=[batch.pk]) not in content


def test_calendar_workload_and_list_pages(staff_client, batch):
    assert staff_client.get(reverse("trainings:calendar"), {"year": 2025, "month": 10}).status_code == 200
    assert staff_client.get(reverse("trainings:calendar"), {"year": "abc", "month": "x"}).status_code == 200
    assert staff_client.get(reverse("trainings:workload"), {"year": 2025}).status_code == 200
    response = staff_client.get(reverse("trainings:batch_list"), {"year": 2025, "status": "draft"})
    assert list(response.context["page"]) == [batch]
    response = staff_client.get(reverse("trainings:batch_list"), {"status": "open"})
    assert list(response.context["page"]) == []


@pytest.mark.parametrize("name", ["trainings:calendar", "trainings:workload"])
def test_a_year_out_of_range_is_not_a_server_error(staff_client, name):
    response = staff_client.get(reverse(name), {"year": "99999"})
    assert response.status_code in (200, 400, 404)


# ------------------------------------------------------------------------------------------- unknown ids


def batch_urls(pk, allocation_pk=1, session_pk=1):
    """(method, url) of every page of one batch."""
    return [
        ("get", reverse("trainings:batch_detail", args=[pk])),
        ("get", reverse("trainings:batch_edit", args=[pk])),
        ("post", reverse("trainings:batch_status", args=[pk])),
        ("get", reverse("trainings:allocation_add", args=[pk])),
        ("get", reverse("trainings:allocation_edit", args=[pk, allocation_pk])),
        ("post", reverse("trainings:allocation_delete", args=[pk, allocation_pk])),
        ("get", reverse("trainings:day_venues", args=[pk])),
        ("get", reverse("trainings:schedule", args=[pk])),
        ("post", reverse("trainings:schedule_copy", args=[pk])),
        ("get", reverse("trainings:session_add", args=[pk])),
        ("get", reverse("trainings:session_edit", args=[pk, session_pk])),
        ("post", reverse("trainings:session_delete", args=[pk, session_pk])),
    ]


def test_an_unknown_batch_is_404(staff_client, batch):
    allocation = QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
    session = add_session(batch)
    for method, url in batch_urls(999999, allocation.pk, session.pk):
        response = getattr(staff_client, method)(url, {"action": "open"} if method == "post" else {})
        assert response.status_code == 404, url
    assert batch.allocations.count() == batch.sessions.count() == 1


def test_an_allocation_or_session_of_another_batch_is_404(staff_client, batch, organiser):
    other = BatchFactory(organiser=organiser)
    allocation = QuotaAllocation.objects.create(batch=other, kind="kabupaten", region=region("35.12"), seats=5)
    session = SessionFactory(batch=other)
    cases = [
        ("get", reverse("trainings:allocation_edit", args=[batch.pk, allocation.pk])),
        ("post", reverse("trainings:allocation_edit", args=[batch.pk, allocation.pk])),
        ("post", reverse("trainings:allocation_delete", args=[batch.pk, allocation.pk])),
        ("get", reverse("trainings:session_edit", args=[batch.pk, session.pk])),
        ("post", reverse("trainings:session_edit", args=[batch.pk, session.pk])),
        ("post", reverse("trainings:session_delete", args=[batch.pk, session.pk])),
        ("get", reverse("trainings:allocation_edit", args=[batch.pk, 999999])),
        ("get", reverse("trainings:session_edit", args=[batch.pk, 999999])),
    ]
    for method, url in cases:
        assert getattr(staff_client, method)(url).status_code == 404, (method, url)
    assert QuotaAllocation.objects.filter(pk=allocation.pk).exists()
    assert Session.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize(
    "name, extra",
    [
        ("trainings:batch_status", ()),
        ("trainings:allocation_delete", ("allocation",)),
        ("trainings:schedule_copy", ()),
        ("trainings:session_delete", ("session",)),
    ],
)
def test_post_only_views_refuse_get(staff_client, batch, name, extra):
    objects = {
        "allocation": QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5),
        "session": add_session(batch),
    }
    args = [batch.pk, *(objects[key].pk for key in extra)]
    response = staff_client.get(reverse(name, args=args))
    assert response.status_code == 405
    assert batch.allocations.count() == 1
    assert batch.sessions.count() == 1
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT


# ------------------------------------------------------------------------------------------- query counts


def make_sessions(batch, count: int, facilitators) -> None:
    """`count` sessions over the batch's days, each taught by every one of `facilitators`."""
    modules = list(batch.program.modules.all())
    days = batch.days
    for i in range(count):
        session = SessionFactory(
            batch=batch,
            date=days[i % len(days)],
            start_time=time(7 + i // len(days) % 12, 0),
            end_time=time(7 + i // len(days) % 12, 45),
            module=modules[i % len(modules)],
            jp=1,
        )
        session.facilitators.set(facilitators)


# Session and user, then the batch, its allocations, day venues, sessions (with materi), their facilitators and
# the program's materi.
DETAIL_QUERIES = 9


@pytest.mark.parametrize("sessions", [5, 50])
def test_batch_detail_queries_do_not_grow_with_the_timetable(
    client, staff, organiser, program, django_assert_num_queries, sessions
):
    batch = BatchFactory(organiser=organiser, program=program, start_date=START, end_date=START + timedelta(days=9))
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=10)
    QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.25"), seats=10)
    BatchVenue.objects.create(batch=batch, date=START, venue="Hotel Santika")
    facilitators = [FacilitatorFactory(organiser=organiser) for _ in range(2)]
    make_sessions(batch, sessions, facilitators)
    client.force_login(staff)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(reverse("trainings:batch_detail", args=[batch.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("data-session=") == sessions


def test_batch_detail_queries_are_the_same_for_5_and_50_sessions(client, staff, organiser, program):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(staff)
    facilitators = [FacilitatorFactory(organiser=organiser) for _ in range(2)]
    counts = []
    for sessions in (5, 50):
        batch = BatchFactory(organiser=organiser, program=program, start_date=START, end_date=START + timedelta(days=9))
        make_sessions(batch, sessions, facilitators)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("trainings:batch_detail", args=[batch.pk])).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == DETAIL_QUERIES


# Session and user, the user's organiser (for the filter form), the count for the paginator, the filter's
# programs and kabupaten, then the page of batches and their kabupaten allocations.
LIST_QUERIES = 8


@pytest.mark.parametrize("batches", [5, 50])
def test_batch_list_queries_do_not_grow_with_the_batches(client, staff, organiser, django_assert_num_queries, batches):
    programs = [ModuleFactory(program__organiser=organiser, jp=3).program for _ in range(3)]
    for i in range(batches):
        batch = BatchFactory(organiser=organiser, program=programs[i % 3], status=Batch.Status.NOMINATION_OPEN)
        QuotaAllocation.objects.create(batch=batch, kind="kabupaten", region=region("35.12"), seats=5)
        add_session(batch)
    client.force_login(staff)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("trainings:batch_list"))
    assert response.status_code == 200
    assert len(response.context["page"]) == min(batches, 20)
