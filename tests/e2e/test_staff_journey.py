"""A member of the organiser's staff plans a batch in a real browser: log in, create the batch, give a
kabupaten its quota, draft the timetable from the curriculum, move a session, get refused a facilitator
double booking, and find the batch on the calendar.

Selectors use hrefs, ids and names rather than visible text: the UI texts are translated."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pillars.models import Region
from tests.factories import (
    PASSWORD,
    BatchFactory,
    FacilitatorFactory,
    ModuleFactory,
    OrganiserFactory,
    ProgramFactory,
    SessionFactory,
    StaffFactory,
)
from trainings.models import JP_MINUTES, Batch, QuotaAllocation, Session

# The reference data (regions) comes from migrations; a transactional test flushes the tables afterwards,
# so ask for the serialized copy to be restored before this test runs.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("django_db_serialized_rollback")]

MODULE_JP = [4, 4, 3, 3, 3, 3]  # 20 JP in six materi
BATCH_NAME = "Angkatan I Kabupaten Situbondo"
CLASH_START, CLASH_END = time(15, 0), time(16, 30)


def _submit(page):
    """The submit button of the page's form (the navbar's log-out button is a submit button too)."""
    page.locator("main form[method=post] button[type=submit]").first.click()


def _jp_cells(page) -> list[int]:
    texts = page.locator("tr[data-session] td:nth-child(3)").all_text_contents()
    return [int(re.search(r"\d+", text).group()) for text in texts]


def _plus_jp(start: time, jp: int) -> time:
    return (datetime.combine(datetime.min, start) + timedelta(minutes=jp * JP_MINUTES)).time()


@pytest.fixture
def journey_data():
    organiser = OrganiserFactory(code="UPT-PTKS-E2E")
    staff = StaffFactory(username="panitia", first_name="Panitia", organiser=organiser)
    program = ProgramFactory(organiser=organiser, title="Pelatihan Pendamping PKH")
    for order, jp in enumerate(MODULE_JP, start=1):
        ModuleFactory(program=program, order=order, title=f"Materi E2E {order}", jp=jp)
    facilitator_a = FacilitatorFactory(organiser=organiser, name="Dra. Siti Aminah")
    facilitator_b = FacilitatorFactory(organiser=organiser, name="Budi Santoso, M.Si.")

    start = timezone.localdate() + timedelta(days=30)
    days = [start + timedelta(days=i) for i in range(3)]
    # Facilitator A already teaches another batch of the organiser on the first afternoon.
    other = BatchFactory(
        organiser=organiser,
        name="Angkatan II Kabupaten Gresik",
        start_date=days[0],
        end_date=days[-1],
        status=Batch.Status.NOMINATION_OPEN,
    )
    booked = SessionFactory(batch=other, date=days[0], start_time=CLASH_START, end_time=CLASH_END, jp=2)
    booked.facilitators.add(facilitator_a)
    return {
        "staff": staff,
        "program": program,
        "a": facilitator_a,
        "b": facilitator_b,
        "days": days,
        "situbondo": Region.objects.get(code="35.12"),
    }


def test_staff_plans_a_batch_in_the_browser(browser_page, live_server, journey_data):
    page = browser_page
    data = journey_data
    days = data["days"]
    url = live_server.url

    # Log in through the real login form; the staff's landing page is the batch list.
    page.goto(f"{url}/pelatihan/angkatan/")
    page.wait_for_url(re.compile(r"/akun/masuk/"))
    page.fill("#id_username", "panitia")
    page.fill("#id_password", PASSWORD)
    _submit(page)
    page.wait_for_url(re.compile(r"^[^?]*/pelatihan/angkatan/$"))

    # A new batch.
    page.locator('main a[href$="/angkatan/baru/"]').click()
    page.wait_for_url(re.compile(r"^[^?]*/pelatihan/angkatan/baru/$"))
    page.select_option("#id_program", value=str(data["program"].pk))
    page.fill("#id_name", BATCH_NAME)
    page.fill("#id_start_date", days[0].isoformat())
    page.fill("#id_end_date", days[-1].isoformat())
    page.fill("#id_venue", "UPT PTKS Malang, Aula Utama")
    page.fill("#id_nomination_deadline", (days[0] - timedelta(days=7)).isoformat())
    page.fill("#id_quota_total", "30")
    _submit(page)
    page.wait_for_url(re.compile(r"^[^?]*/pelatihan/angkatan/\d+/$"))
    batch = Batch.objects.get(name=BATCH_NAME)
    assert page.url.endswith(f"/pelatihan/angkatan/{batch.pk}/")
    assert (batch.organiser_id, batch.start_date, batch.end_date, batch.quota_total) == (
        data["staff"].organiser_id,
        days[0],
        days[-1],
        30,
    )
    expect(page.locator("h1")).to_contain_text(BATCH_NAME)

    # A quota for Kabupaten Situbondo.
    page.locator(f'main a[href$="/angkatan/{batch.pk}/kuota/baru/"]').click()
    page.wait_for_url(re.compile(r"^[^?]*/kuota/baru/$"))
    page.select_option("#id_kind", value=QuotaAllocation.Kind.KABUPATEN)
    page.select_option("#id_region", value=str(data["situbondo"].pk))
    page.fill("#id_seats", "12")
    _submit(page)
    page.wait_for_url(re.compile(rf"^[^?]*/pelatihan/angkatan/{batch.pk}/$"))
    quota_row = page.locator("#quota-table tbody tr").filter(has_text="Situbondo")
    expect(quota_row).to_have_count(1)
    expect(quota_row.locator("td").nth(1)).to_have_text("12")
    assert batch.allocations.get().region == data["situbondo"]

    # Draft the timetable from the curriculum.
    page.locator(f'main a[href$="/angkatan/{batch.pk}/jadwal/"]').click()
    page.wait_for_url(re.compile(rf"^[^?]*/angkatan/{batch.pk}/jadwal/$"))
    expect(page.locator("tr[data-session]")).to_have_count(0)
    page.locator('form[action$="/jadwal/salin-kurikulum/"] button[type=submit]').click()
    sessions = batch.sessions.order_by("date", "start_time")
    expect(page.locator("tr[data-session]").first).to_be_visible()
    expect(page.locator("tr[data-session]")).to_have_count(sessions.count())
    assert sum(_jp_cells(page)) == sum(MODULE_JP) == sum(s.jp for s in sessions)
    assert not Session.facilitators.through.objects.filter(session__batch=batch).exists()

    # Move the last session to the first afternoon, after the first day's other sessions.
    moved = sessions.last()
    assert moved.date == days[-1]
    first_day_end = max(s.end_time for s in sessions if s.date == days[0])
    assert first_day_end <= CLASH_START, "the first afternoon must be free from 15.00 for this test"
    new_end = _plus_jp(CLASH_START, moved.jp)
    page.locator(f'a[href$="/jadwal/sesi/{moved.pk}/"]').click()
    page.wait_for_url(re.compile(rf"^[^?]*/jadwal/sesi/{moved.pk}/$"))
    page.select_option("#id_date", value=days[0].isoformat())
    page.fill("#id_start_time", CLASH_START.strftime("%H:%M"))
    page.fill("#id_end_time", new_end.strftime("%H:%M"))
    _submit(page)
    page.wait_for_url(re.compile(rf"^[^?]*/angkatan/{batch.pk}/jadwal/$"))
    first_day = page.locator("section.timetable-day").first
    moved_row = first_day.locator(f'tr[data-session="{moved.pk}"]')
    expect(moved_row).to_be_visible()
    expect(moved_row.locator("td.session-time")).to_contain_text(f"{CLASH_START:%H.%M} - {new_end:%H.%M}")
    expect(page.locator("section.timetable-day").last.locator(f'tr[data-session="{moved.pk}"]')).to_have_count(0)
    moved.refresh_from_db()
    assert (moved.date, moved.start_time, moved.end_time) == (days[0], CLASH_START, new_end)

    # Facilitator A teaches the other batch at that time: the double booking is refused next to the field.
    page.locator(f'a[href$="/jadwal/sesi/{moved.pk}/"]').click()
    page.wait_for_url(re.compile(rf"^[^?]*/jadwal/sesi/{moved.pk}/$"))
    page.check(f'input[name="facilitators"][value="{data["a"].pk}"]')
    _submit(page)
    page.wait_for_load_state()
    expect(page.locator("#error_1_id_facilitators")).to_be_visible()
    expect(page.locator(".invalid-feedback")).to_contain_text(data["a"].name)
    expect(page.locator(".invalid-feedback")).to_contain_text("Angkatan II Kabupaten Gresik")
    assert page.url.endswith(f"/jadwal/sesi/{moved.pk}/")
    expect(page.locator(f'input[name="facilitators"][value="{data["a"].pk}"]')).to_be_checked()
    moved.refresh_from_db()
    assert list(moved.facilitators.all()) == []
    assert (moved.date, moved.start_time) == (days[0], CLASH_START)
    assert not data["a"].sessions.filter(batch=batch).exists()

    # The batch is on the calendar of its month.
    page.locator('nav a[href$="/pelatihan/kalender/"]').click()
    page.wait_for_url(re.compile(r"^[^?]*/pelatihan/kalender/$"))
    page.goto(f"{url}/pelatihan/kalender/?year={days[0].year}&month={days[0].month}")
    grid = page.locator("table.calendar-grid")
    expect(grid).to_be_visible()
    expect(grid.locator(f'a[href$="/pelatihan/angkatan/{batch.pk}/"]').first).to_contain_text(BATCH_NAME)
