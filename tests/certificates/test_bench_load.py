"""The load benchmark's own rules: every answer that is not 2xx or 3xx is an error (a throttle's 429 too), and the
servers it starts are stopped even when the run breaks, so no process is left behind."""

import urllib.error
import urllib.request

import pytest

from certificates.management.commands.bench_load import figures
from trainings.management.commands._attendance_load import gunicorn


def _row(group, name, status, ms=10.0):
    return [group, name, str(status), str(ms), "0"]


def test_every_answer_but_2xx_and_3xx_counts_as_an_error_throttles_included():
    rows = [
        _row("pages", "verification page", 200),
        _row("pages", "verification page", 429),
        _row("pages", "verification page", 429),
        _row("login", "login", 302),
        _row("checkin", "check-in", 410),
        _row("upload_check", "upload and check", 0),  # no answer at all (connection refused or timed out)
        _row("pages", "review page", 500),
    ]
    lines = dict(figures(rows, elapsed=7.0))
    assert lines["load_errors"] == 5
    assert lines["load_status_429[verification page]"] == 2
    assert lines["load_status_410[check-in]"] == 1
    assert lines["load_status_0[upload and check]"] == 1
    assert lines["load_status_500[review page]"] == 1
    assert not any("[login]" in name and name.startswith("load_status_") for name in lines)
    assert lines["load_requests_per_second"] == 1.0


def test_the_headline_figures_come_first_and_in_order():
    rows = [_row("pages", "page", 200, ms) for ms in range(1, 101)]
    rows += [_row("checkin", "check-in", 200, 5), _row("upload_check", "upload and check", 200, 50)]
    names = [name for name, _value in figures(rows, elapsed=10.0)]
    assert names[:5] == [
        "load_errors",
        "load_pages_p95_ms",
        "load_checkin_p95_ms",
        "load_upload_check_p95_ms",
        "load_requests_per_second",
    ]
    assert dict(figures(rows, elapsed=10.0))["load_pages_p95_ms"] == 95.0


def test_gunicorn_is_stopped_when_the_run_breaks(tmp_path):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path}/load.sqlite3"}
    with (
        pytest.raises(RuntimeError, match="the load run broke"),
        gunicorn(scratch=str(tmp_path), workers=1, env=database) as (base, _access_log),
    ):
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310 - loopback
            assert response.status == 200
        raise RuntimeError("the load run broke")
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(base + "/healthz", timeout=5)  # noqa: S310 - loopback
