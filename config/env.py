"""Strict readers for environment variables: a wrong value stops the start with a clear message."""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_site_url(name: str, default: str) -> str:
    """An absolute http(s) address with a host and nothing after it: `https://sinergi.example.org`, or with a port
    `http://127.0.0.1:8080`. Documents print it (the QR code of a certificate), so a typo must stop the start
    rather than end up on paper; one trailing slash is dropped."""
    raw = env_str(name, default)
    value = raw[:-1] if raw.endswith("/") else raw
    problem = _site_url_problem(value)
    if problem:
        raise ImproperlyConfigured(
            f"{name} must be the site's public address, scheme and host only, like https://sinergi.example.org "
            f"(it is printed in every certificate's QR code); got {raw!r}: {problem}"
        )
    return value


def _site_url_problem(value: str) -> str:
    """Why `value` is not a usable public address, or "" when it is."""
    if not value:
        return "it is empty"
    if any(character.isspace() for character in value):
        return "it contains a space"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed IPv6 bracket: `http://[::1`
        return "the host is not a valid address (an IPv6 address goes in [ ])"
    if parts.scheme not in {"http", "https"}:
        return "the scheme must be http:// or https://"
    if not parts.hostname:
        return "there is no host name"
    if parts.username is not None or parts.password is not None:
        return "it must not contain a user name or password"
    try:
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return "the port is not a number between 0 and 65535"
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        return "nothing may follow the host and port (no path, ? or #)"
    return ""


def require(condition: bool, message: str) -> None:
    """Stop the start with `message` unless `condition` holds: for settings that break documents or jobs."""
    if not condition:
        raise ImproperlyConfigured(message)
