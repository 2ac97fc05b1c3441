"""The throttles of the public pages, in one place: what each counts, its limit, and what it does when the cache
that holds its counters (Redis in production) cannot be reached.

Every public page that could be used to guess a secret counts only what a guesser needs (unknown codes, wrong
pairs), never honest use, so a room full of participants behind one venue router is never held back. Limits
per address are sized for the largest venue we know, 264 participants behind one router making a few typos each
(264 × 3 = 792 misses in one window stay under every per-address limit); the arithmetic of guessing is in the
README ("Throttling and outages").

When the cache is down a throttle either fails open (the page goes on without counting) or fails closed
(ThrottleUnavailable, which the error handler turns into the 503 page "coba lagi sebentar"), never a 500. Which
one is written on each throttle below, with the reason.

The client of a per-device count is the device cookie (a random id the site itself issued and signed) together
with the address: nobody can put a count on someone else's device, so no one can lock another person out."""

import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django_ratelimit.core import get_usage

from .proxy import client_ip

logger = logging.getLogger(__name__)

# What a cache backend raises when its server cannot be reached: redis-py's errors, and socket errors.
CACHE_ERRORS = (redis.RedisError, OSError)

# A random id for a browser, only to tell the devices behind one address apart. Signed, so that only ids the
# site handed out are counted apart from the address's shared count.
DEVICE_COOKIE = "sinergi_device"
DEVICE_COOKIE_AGE = 365 * 24 * 3600
DEVICE_COOKIE_SALT = "sinergi.throttle.device"


class ThrottleUnavailable(Exception):
    """A fail-closed throttle could not reach its counters: the request is refused with the 503 page."""


def address(request) -> str:
    """The client's address as the per-address counts see it: an IPv4 address, or the /64 network of an IPv6
    one (a single subscriber is handed a whole /64, and could otherwise take a fresh count per address)."""
    ip = client_ip(request) or "-"
    if ":" in ip:
        try:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        except ValueError:
            return ip
    return ip


def device(request) -> str:
    """The device's id from its signed cookie, or "" when it has none (or a forged one)."""
    return request.get_signed_cookie(DEVICE_COOKIE, default="", salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_AGE)


def address_and_device(request) -> str:
    # Browsers without the cookie (refused, or a first POST) share their address's count.
    return f"{address(request)}|{device(request) or '-'}"


def remember_device(request, response, *, path: str):
    """Gives the browser a device id if it has none yet; kept for a year, sent only to `path`."""
    if not device(request):
        response.set_signed_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(18),
            salt=DEVICE_COOKIE_SALT,
            max_age=DEVICE_COOKIE_AGE,
            path=path,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


@dataclass(frozen=True)
class Throttle:
    """A limit on attempts per key and window (django-ratelimit's fixed windows, counted in the cache).

    `key(request, subject)` names the counter; `subject` is what the view adds (e.g. a hashed NIK) or "".
    `fail_open`: with the cache down, True lets the request through uncounted, False raises
    ThrottleUnavailable."""

    group: str
    rate: str
    key: Callable[..., str]
    fail_open: bool

    def _usage(self, request, subject: str, *, increment: bool) -> bool:
        try:
            usage = get_usage(
                request,
                group=self.group,
                key=lambda _group, request: self.key(request, subject),
                rate=self.rate,
                increment=increment,
            )
        except CACHE_ERRORS as error:
            return self._unavailable(error)
        if usage is None:  # throttling switched off (RATELIMIT_ENABLE = False)
            return False
        if usage["limit"] == 0:  # django-ratelimit's answer when the cache failed without raising
            return self._unavailable(None)
        return usage["should_limit"]

    def _unavailable(self, error) -> bool:
        logger.warning(
            "Throttle %s cannot reach the cache (%s); failing %s.",
            self.group,
            type(error).__name__ if error else "no answer",
            "open" if self.fail_open else "closed",
        )
        if self.fail_open:
            return False
        raise ThrottleUnavailable(self.group)

    def blocked(self, request, subject: str = "") -> bool:
        """Whether the client is over the limit, without counting anything."""
        return self._usage(request, subject, increment=False)

    def count(self, request, subject: str = "") -> bool:
        """Counts one more attempt; says whether the client is now over the limit."""
        return self._usage(request, subject, increment=True)


def _by_address(request, _subject) -> str:
    return address(request)


def _by_address_and_device(request, _subject) -> str:
    return address_and_device(request)


def _by_subject_and_client(request, subject) -> str:
    return f"{subject}|{address_and_device(request)}"


# Public verification (/v/<code>): unknown codes per address. A known code's page is always served and never
# counted: an office or a room of participants scanning their QR codes is honest use. Verification codes are
# 12 characters from 27 (27¹² ≈ 1.5 × 10¹⁷ values), so misses are a guesser's or a typist's; 1,000 per quarter
# hour covers a venue typing codes by hand. Fails OPEN: the page shows only public facts, and anyone holding a
# certificate must be able to check it while Redis is down.
VERIFY_MISSES = Throttle(group="certificates.verify.miss", rate="1000/15m", key=_by_address, fail_open=True)

# Participant download (/sertifikat/unduh/): wrong NIK/access-code pairs.
# Per address, loosely: a venue or a Dinsos office shares one address (792 typos in a quarter hour stay under).
# Fails CLOSED: the page hands out personal documents, so it does not take guesses it cannot count.
DOWNLOAD_WRONG_PAIRS_BY_ADDRESS = Throttle(
    group="certificates.download.wrong_pair", rate="1000/15m", key=_by_address, fail_open=False
)
# Per (NIK, client), tightly: a careless or curious device stops after a few wrong codes for one NIK, while the
# person themselves, from any other device, is never held back by someone else's attempts. A determined guesser
# can fetch a fresh device id with every try, so the bound on guessing is the per-address limit above (the
# arithmetic is in the README). Fails CLOSED, as above.
DOWNLOAD_WRONG_PAIRS_BY_CLIENT = Throttle(
    group="certificates.download.wrong_pair.nik", rate="5/15m", key=_by_subject_and_client, fail_open=False
)

# QR check-in (/pelatihan/presensi/…): wrong access codes, per device and, sized for a venue, per address. Only
# wrong codes are counted, and a right code always goes through (a participant who mistyped is not kept out).
# Both fail CLOSED for wrong codes only: a right code never touches the cache, so a room keeps checking in
# while Redis is down, and a wrong one gets the 503 page instead of an uncounted guess.
CHECKIN_WRONG_CODES_BY_DEVICE = Throttle(
    group="trainings.checkin.wrong_code", rate="10/m", key=_by_address_and_device, fail_open=False
)
CHECKIN_WRONG_CODES_BY_ADDRESS = Throttle(
    group="trainings.checkin.wrong_code.address", rate="1000/15m", key=_by_address, fail_open=False
)
