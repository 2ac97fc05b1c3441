"""The load balancer's health check: 200 while the database answers, 503 when it does not."""

from unittest import mock

import pytest
from django.db import OperationalError, connections

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_up_and_in_process_tasks_without_redis(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "up", "broker": "in-process"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_reports_the_folder_broker_of_make_run(client, settings):
    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = False

    assert client.get("/healthz").json() == {"status": "ok", "database": "up", "broker": "folder"}


def test_healthz_reports_broker_up_with_redis(client, redis_required):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "broker": "up"}


def test_healthz_is_unavailable_when_the_database_is_down(client, settings):
    settings.REDIS_URL = ""
    failure = OperationalError("could not connect to server: Connection refused")

    with mock.patch.object(connections["default"], "cursor", side_effect=failure):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "broker": "in-process"}


def test_healthz_reports_broker_down_but_stays_up_while_the_database_answers(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "broker": "down"}


def test_healthz_is_not_redirected_to_https(client, settings):
    """The load balancer probes over plain HTTP inside the network, even with SECURE_SSL_REDIRECT on."""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


def test_healthz_accepts_only_get(client):
    assert client.post("/healthz").status_code == 405
