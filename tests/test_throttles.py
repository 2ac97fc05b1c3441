"""The throttles of the public pages (config/throttle.py): they count what a guesser needs and never honest use,
they never lock a participant out of their own certificate, every per-address limit holds a venue of 264
participants behind one router, and with the cache down each fails open or closed as written, never a 500."""

import pytest
from django.test import Client, RequestFactory, override_settings

from certificates import services
from config import throttle
from participants.models import Enrollment
from tests.addresses import unique_address
from tests.certificates.test_services import ISSUED, finished_batch
from tests.factories import StaffFactory
from tests.outages import cache_down

pytestmark = pytest.mark.django_db

DOWNLOAD = "/sertifikat/unduh/"
VENUE = 264  # participants behind one router at the largest venue we know (Probolinggo, 2019)
TYPOS = 3  # wrong attempts each, within one window


def limit(rule: throttle.Throttle) -> int:
    return int(rule.rate.split("/")[0])


@pytest.fixture
def certificate():
    staff = StaffFactory(organiser__code="UPT-PTKS")
    batch = finished_batch(staff, participants=1)
    return services.certificates_issue(actor=staff, batch=batch, enrollments=list(batch.enrollments.all()), now=ISSUED)[
        0
    ]


@pytest.fixture
def owner():
    """A participant's NIK and access code, and a wrong code for the same NIK."""
    staff = StaffFactory(organiser__code="UPT-PTKS")
    enrollment = Enrollment.objects.select_related("person").get(batch=finished_batch(staff, participants=1))
    wrong = "AAAAAAAA" if enrollment.access_code != "AAAAAAAA" else "BBBBBBBB"
    return {
        "right": {"nik": enrollment.person.nik, "access_code": enrollment.access_code},
        "wrong": {"nik": enrollment.person.nik, "access_code": wrong},
    }


class Device:
    """A browser at an address: it opens the download page first (and so gets its device id), then posts."""

    def __init__(self, ip: str):
        self.ip = ip
        self.client = Client(REMOTE_ADDR=ip)
        assert self.client.get(DOWNLOAD).status_code == 200
        assert throttle.DEVICE_COOKIE in self.client.cookies

    def post(self, data):
        return self.client.post(DOWNLOAD, data)


def fill(rule: throttle.Throttle, ip: str, times: int):
    """Earlier attempts from an address, counted in the throttle's own counter, as the views count them."""
    request = RequestFactory().get("/", REMOTE_ADDR=ip)
    for _attempt in range(times):
        rule.count(request)


# ------------------------------------------------------------------------------ participant download


def test_a_strangers_wrong_codes_for_a_nik_do_not_lock_its_owner_out(owner):
    stranger = Device(unique_address())
    for _attempt in range(limit(throttle.DOWNLOAD_WRONG_PAIRS_BY_CLIENT)):
        assert stranger.post(owner["wrong"]).status_code == 200
    assert stranger.post(owner["wrong"]).status_code == 429  # the stranger's device is held back...
    # ...but the owner, from their own phone elsewhere or on the same Wi-Fi, gets in at once.
    assert Device(unique_address()).post(owner["right"]).status_code == 302
    assert Device(stranger.ip).post(owner["right"]).status_code == 302


def test_a_throttled_device_is_refused_even_with_the_right_pair(owner):
    """Otherwise the refusal would tell a guesser which code was right."""
    guesser = Device(unique_address())
    for _attempt in range(limit(throttle.DOWNLOAD_WRONG_PAIRS_BY_CLIENT) + 1):
        guesser.post(owner["wrong"])
    response = guesser.post(owner["right"])
    assert response.status_code == 429 and b'id="throttled"' in response.content


def test_an_address_over_its_limit_is_refused_whatever_the_device(owner):
    """A guesser who throws away its cookie still counts against its address."""
    ip = unique_address()
    fill(throttle.DOWNLOAD_WRONG_PAIRS_BY_ADDRESS, ip, limit(throttle.DOWNLOAD_WRONG_PAIRS_BY_ADDRESS) - 1)
    assert Device(ip).post({"nik": "3512011708859999", "access_code": "AAAAAAAA"}).status_code == 200
    assert Device(ip).post({"nik": "3512011708859998", "access_code": "AAAAAAAA"}).status_code == 429
    assert Device(ip).post(owner["right"]).status_code == 429
    assert Device(unique_address()).post(owner["right"]).status_code == 302


def test_a_venue_of_264_with_three_typos_each_does_not_refuse_the_next_right_pair(owner):
    venue = unique_address()
    fill(throttle.DOWNLOAD_WRONG_PAIRS_BY_ADDRESS, venue, VENUE * TYPOS)
    assert Device(venue).post(owner["wrong"]).status_code == 200  # one more typo is still just a typo
    assert Device(venue).post(owner["right"]).status_code == 302


def test_a_participant_who_mistypes_a_few_times_gets_in(owner):
    phone = Device(unique_address())
    for _attempt in range(TYPOS):
        assert phone.post(owner["wrong"]).status_code == 200
    assert phone.post(owner["right"]).status_code == 302


# ---------------------------------------------------------------------------------- verification


def url(code: str) -> str:
    return f"/v/{code}"


def test_a_room_verifying_from_one_address_is_served(certificate):
    """Forty participants scanning their QR codes at a closing ceremony, on the venue's Wi-Fi."""
    venue = unique_address()
    fill(throttle.VERIFY_MISSES, venue, limit(throttle.VERIFY_MISSES) - 1)  # a busy day of typos already
    statuses = {Client(REMOTE_ADDR=venue).get(url(certificate.verification_code)).status_code for _ in range(40)}
    assert statuses == {200}
    # None of the forty was counted: the venue's last allowed miss is still a plain 404.
    assert Client(REMOTE_ADDR=venue).get(url("AAAAAAAAAAAA")).status_code == 404


def test_unknown_codes_are_throttled_per_address_and_a_known_code_is_still_served(certificate):
    guesser = unique_address()
    fill(throttle.VERIFY_MISSES, guesser, limit(throttle.VERIFY_MISSES) - 1)
    assert Client().get(url("AAAAAAAAAAAA"), REMOTE_ADDR=guesser).status_code == 404
    response = Client().get(url("AAAAAAAAAAAB"), REMOTE_ADDR=guesser)
    assert response.status_code == 429 and b'id="verify-throttled"' in response.content
    assert Client().get(url(certificate.verification_code), REMOTE_ADDR=guesser).status_code == 200
    assert Client().get(url("AAAAAAAAAAAB"), REMOTE_ADDR=unique_address()).status_code == 404


def test_the_addresses_of_one_ipv6_network_share_one_count(certificate):
    """One subscriber holds a whole /64: hopping between its addresses gives no fresh count."""
    fill(throttle.VERIFY_MISSES, "2001:db8:1:2::1", limit(throttle.VERIFY_MISSES))
    assert Client().get(url("AAAAAAAAAAAB"), REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert Client().get(url("AAAAAAAAAAAB"), REMOTE_ADDR="2001:db8:1:3::1").status_code == 404


def test_a_venue_of_264_with_three_typos_each_still_gets_answers(certificate):
    venue = unique_address()
    fill(throttle.VERIFY_MISSES, venue, VENUE * TYPOS)
    assert Client().get(url("AAAAAAAAAAAA"), REMOTE_ADDR=venue).status_code == 404


# --------------------------------------------------------------------------------- cache down


@override_settings(DEBUG=False)
def test_with_the_cache_down_verification_fails_open(certificate):
    browser = Client(raise_request_exception=False)
    with cache_down():
        assert browser.get(url(certificate.verification_code)).status_code == 200
        assert browser.get(url("AAAAAAAAAAAA")).status_code == 404


@override_settings(DEBUG=False)
def test_with_the_cache_down_the_download_fails_closed_with_try_again_shortly(owner):
    browser = Client(raise_request_exception=False)
    with cache_down():
        assert browser.get(DOWNLOAD).status_code == 200  # the form still opens
        for pair in (owner["right"], owner["wrong"]):
            response = browser.post(DOWNLOAD, pair)
            assert response.status_code == 503
            assert "coba lagi sebentar" in response.content.decode()
    assert "certificates_person" not in browser.session
