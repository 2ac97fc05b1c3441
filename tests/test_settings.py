"""Settings that would break documents or jobs stop the start with a message naming the variable: checked by
starting `manage.py check` in a fresh process, as a server start would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
# Production-like: DEBUG off, outside the test suite's relaxed settings, nothing inherited from this shell.
CLEARED = (
    "SITE_URL",
    "REDIS_URL",
    "DATABASE_URL",
    "DOCUMENT_CHUNK_SIZE",
    "SHEET_CHUNK_SIZE",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_VISIBILITY_TIMEOUT",
    "CELERY_TASK_ALWAYS_EAGER",
)


def start(tmp_path, **values) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SINERGI_TESTING": "0",
        "SECRET_KEY": "a-long-random-secret-for-the-settings-tests-only-0123456789",
        "ALLOWED_HOSTS": "sinergi.example.org",
        "SITE_URL": "https://sinergi.example.org",
        "SINERGI_VAR_DIR": str(tmp_path),
    }
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def assert_refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_values_start(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_debug_site_url_is_required(tmp_path):
    """A default address would be printed, forever, in the QR code of every certificate issued."""
    assert_refused(start(tmp_path, SITE_URL=None), "SITE_URL must be set when DEBUG is off")
    assert_refused(start(tmp_path, SITE_URL=""), "SITE_URL must be set when DEBUG is off")


def test_in_development_site_url_defaults_to_the_local_server(tmp_path):
    result = start(tmp_path, DEBUG="1", SECRET_KEY=None, SITE_URL=None)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("sinergi.example.org", "the scheme must be http:// or https://"),
        ("ftp://sinergi.example.org", "the scheme must be http:// or https://"),
        ("https://", "there is no host name"),
        ("https://sinergi.example.org/sertifikat", "nothing may follow the host and port"),
        ("https://sinergi.example.org?x=1", "nothing may follow the host and port"),
        ("https://sinergi.example.org#top", "nothing may follow the host and port"),
        ("https://sinergi.example.org//", "nothing may follow the host and port"),
        ("https://sinergi.example.org:80a", "the port is not a number"),
        ("https://admin:secret@sinergi.example.org", "must not contain a user name or password"),
        ("https://sinergi example.org", "it contains a space"),
        ("http://[::1", "the host is not a valid address"),
    ],
)
def test_a_malformed_site_url_is_refused(tmp_path, value, reason):
    result = start(tmp_path, SITE_URL=value)
    assert_refused(result, "SITE_URL must be the site's public address")
    assert reason in result.stderr


@pytest.mark.parametrize("value", ["https://sinergi.example.org/", "http://127.0.0.1:8080", "http://[::1]:8000"])
def test_a_site_url_with_scheme_host_and_port_starts(tmp_path, value):
    result = start(tmp_path, SITE_URL=value)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DOCUMENT_CHUNK_SIZE": "0"}, "DOCUMENT_CHUNK_SIZE must be at least 1; got 0"),
        ({"SHEET_CHUNK_SIZE": "-4"}, "SHEET_CHUNK_SIZE must be at least 1; got -4"),
        (
            {"CELERY_TASK_TIME_LIMIT": "600", "CELERY_VISIBILITY_TIMEOUT": "300"},
            "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT",
        ),
        (
            {"CELERY_TASK_TIME_LIMIT": "600", "CELERY_VISIBILITY_TIMEOUT": "600"},
            "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT",
        ),
        (
            {"CELERY_TASK_TIME_LIMIT": "500", "CELERY_TASK_SOFT_TIME_LIMIT": "540"},
            "CELERY_TASK_SOFT_TIME_LIMIT must be shorter than CELERY_TASK_TIME_LIMIT",
        ),
        ({"CELERY_TASK_SOFT_TIME_LIMIT": "0"}, "CELERY_TASK_SOFT_TIME_LIMIT must be at least 1 second"),
    ],
)
def test_settings_that_break_documents_or_jobs_are_refused(tmp_path, values, message):
    assert_refused(start(tmp_path, **values), message)


def test_development_is_refused_the_same_values(tmp_path):
    """DEBUG relaxes the SITE_URL requirement, not the checks on values that break jobs."""
    assert_refused(start(tmp_path, DEBUG="1", DOCUMENT_CHUNK_SIZE="0"), "DOCUMENT_CHUNK_SIZE must be at least 1")
