"""A widyaiswara records a session's attendance on a phone-sized screen (360 × 740) in a real browser: logs in,
lands on “Sesi saya”, opens today's session, sees a participant's QR check-in arrive without reloading, taps
“semua hadir”, changes two participants to Izin and Sakit, reloads and finds them kept; then the staff open the
session's change history and find those changes.

Selectors use ids, hrefs and data attributes rather than visible text: the UI texts are translated."""

import re
from datetime import time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, BatchFactory, FacilitatorUserFactory, OrganiserFactory, StaffFactory
from tests.trainings.test_attendance_views import enrol, make_session
from trainings import attendance_views, services
from trainings.models import Attendance, Batch

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("django_db_serialized_rollback")]

PHONE = {"width": 360, "height": 740}
NAMES = ["Siti Aminah", "Ahmad Fauzi", "Nur Hasanah", "Bambang Sutrisno", "Dewi Lestari", "Moh. Hasan"]


def _at(path: str) -> re.Pattern:
    """The whole URL of a path on the server, with no query."""
    return re.compile(r"^https?://[^/?]+" + re.escape(path) + "$")


def _log_in(page, url, username):
    page.goto(url + reverse("accounts:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form[method=post] button[type=submit]").first.click()


@pytest.fixture
def day():
    """A batch running today with a session under way (started five minutes ago, so a check-in now is on time)
    taught by the widyaiswara, and six participants."""
    organiser = OrganiserFactory(code="UPT-PTKS-E2E")
    staff = StaffFactory(username="panitia", first_name="Panitia", organiser=organiser)
    teacher = FacilitatorUserFactory(username="widyaiswara", first_name="Bu Widya", record__organiser=organiser)
    today = timezone.localdate()
    batch = BatchFactory(
        organiser=organiser,
        name="Angkatan II Kabupaten Situbondo",
        status=Batch.Status.RUNNING,
        start_date=today - timedelta(days=1),
        end_date=today + timedelta(days=1),
    )
    started = timezone.localtime() - timedelta(minutes=5)
    start = time(started.hour, started.minute) if started.date() == today else time(0, 0)
    session = make_session(batch, today, start, time(23, 59), facilitators=[teacher.facilitator])
    make_session(batch, today + timedelta(days=1), time(8, 0), time(9, 30), facilitators=[teacher.facilitator])
    enrollments = [enrol(batch, n, by=staff, name=name) for n, name in enumerate(NAMES, start=1)]
    return {"batch": batch, "session": session, "enrollments": enrollments}


def _row(page, enrollment):
    return page.locator(f"#row-{enrollment.pk}")


def _tap(page, enrollment, status):
    _row(page, enrollment).locator(f'button.attendance-status[value="{status}"]').click()
    expect(_row(page, enrollment)).to_have_attribute("data-status", status)


def _count(page, status):
    return page.locator(f"#count-{status}")


def _check_in_on_another_phone(page, url, session, enrollment):
    """A participant scans the projected code with their own phone and types their access code."""
    phone = page.context.browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta")
    try:
        other = phone.new_page()
        other.set_viewport_size(PHONE)
        other.goto(url + reverse("trainings:checkin", args=[session.pk, services.checkin_token(session)]))
        other.fill("#id_access_code", enrollment.access_code)
        other.locator("#checkin-submit").click()
        expect(other.locator("#checkin-done")).to_have_attribute("data-status", "hadir")
    finally:
        phone.close()


def test_a_widyaiswara_records_a_session_on_a_phone(browser_page, live_server, day, monkeypatch):
    # The page asks for fresh counts every second instead of every 20, so the test need not wait.
    monkeypatch.setattr(attendance_views, "LIVE_REFRESH_SECONDS", 1)
    page = browser_page
    page.set_viewport_size(PHONE)
    url = live_server.url
    session, enrollments = day["session"], day["enrollments"]
    attendance_path = reverse("trainings:session_attendance", args=[session.pk])

    # Logging in lands on “Sesi saya”, with today's session first.
    _log_in(page, url, "widyaiswara")
    page.wait_for_url(_at(reverse("trainings:my_sessions")))
    today_link = page.locator(f'#sessions-today a[data-session="{session.pk}"]')
    expect(today_link).to_have_attribute("href", attendance_path)
    today_link.click()
    page.wait_for_url(_at(attendance_path))

    rows = page.locator("#attendance-list li[data-enrollment]")
    expect(rows).to_have_count(len(NAMES))
    expect(_count(page, "none")).to_have_text(str(len(NAMES)))

    # Comfortable at 360 px: nothing wider than the screen, big buttons wrapping under the name.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    first = _row(page, enrollments[0])
    name_box = first.locator(".attendance-who").bounding_box()
    for button in first.locator("button.attendance-status").all():
        box = button.bounding_box()
        assert box["height"] >= 40 and box["width"] >= 40
        assert box["y"] >= name_box["y"] + name_box["height"]

    # Searching by name filters the rows in the page.
    page.fill("#attendance-search", "hasan")
    expect(page.locator("#attendance-list li[data-enrollment]:visible")).to_have_count(2)  # Nur Hasanah, Moh. Hasan
    page.fill("#attendance-search", "")
    expect(page.locator("#attendance-list li[data-enrollment]:visible")).to_have_count(len(NAMES))

    # A participant checks in by QR: the page shows it without being reloaded.
    early = enrollments[2]
    _check_in_on_another_phone(page, url, session, early)
    expect(_count(page, "hadir")).to_have_text("1")
    expect(_count(page, "none")).to_have_text(str(len(NAMES) - 1))
    expect(_row(page, early)).to_have_attribute("data-status", "hadir")
    expect(page.locator("#attendance-failed")).to_be_hidden()

    # “Semua hadir”, then the exceptions: Izin and Sakit.
    page.locator("#all-present").click()
    expect(_count(page, "hadir")).to_have_text(str(len(NAMES)))
    expect(_count(page, "none")).to_have_text("0")
    excused, sick = enrollments[1], enrollments[4]
    _tap(page, excused, "izin")
    _tap(page, sick, "sakit")
    expect(_count(page, "hadir")).to_have_text(str(len(NAMES) - 2))
    expect(_count(page, "izin")).to_have_text("1")
    expect(_count(page, "sakit")).to_have_text("1")

    # Reloaded, the page shows what was saved.
    page.reload()
    expect(_row(page, excused)).to_have_attribute("data-status", "izin")
    expect(_row(page, excused).locator('button.attendance-status[value="izin"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(_row(page, sick)).to_have_attribute("data-status", "sakit")
    expect(_row(page, enrollments[0])).to_have_attribute("data-status", "hadir")
    expect(_count(page, "hadir")).to_have_text(str(len(NAMES) - 2))
    assert dict(Attendance.objects.filter(session=session).values_list("enrollment_id", "status")) == {
        e.pk: {excused.pk: "izin", sick.pk: "sakit"}.get(e.pk, "hadir") for e in enrollments
    }

    # The staff find the session in the batch's timetable and open its change history.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, url, "panitia")
    page.wait_for_url(_at(reverse("trainings:batch_list")))
    page.goto(url + reverse("trainings:batch_detail", args=[day["batch"].pk]))
    page.locator(f'a.attendance-link[href="{attendance_path}"]').click()
    page.wait_for_url(_at(attendance_path))
    history_path = reverse("trainings:attendance_history", args=[session.pk])
    page.locator(f'#history-link[href="{history_path}"]').click()
    page.wait_for_url(_at(history_path))
    changes = page.locator("#attendance-history tbody tr[data-enrollment]")
    expect(changes).to_have_count(len(NAMES) + 2)
    for enrollment, status in ((excused, "izin"), (sick, "sakit")):
        row = page.locator(f'#attendance-history tr[data-enrollment="{enrollment.pk}"][data-new="{status}"]')
        expect(row).to_have_attribute("data-old", "hadir")
        expect(row.locator("td").first).to_have_text(enrollment.person.full_name)
        expect(row.locator("td").nth(4)).to_have_text("Bu Widya")
