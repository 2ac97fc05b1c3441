"""The load balancer's health check: each dependency's state; 200 while the database answers (also with the
cache or the broker down: "degraded"), 503 only when the database does not."""

import pytest

from tests.outages import cache_down, closed_port, database_down

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_dependency_up_with_in_process_tasks_without_redis(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "up", "cache": "up", "broker": "in-process"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_reports_the_folder_broker_of_make_run(client, settings):
    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = False

    assert client.get("/healthz").json() == {"status": "ok", "database": "up", "cache": "up", "broker": "folder"}


def test_healthz_reports_broker_and_cache_up_with_redis(client, redis_required):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "cache": "up", "broker": "up"}


def test_healthz_is_unavailable_when_the_database_is_down(client, settings):
    settings.REDIS_URL = ""

    with database_down():
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "cache": "up", "broker": "in-process"}


def test_healthz_is_degraded_but_200_when_the_cache_is_down(client, settings):
    settings.REDIS_URL = ""

    with cache_down():
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "up", "cache": "down", "broker": "in-process"}


def test_healthz_is_degraded_but_200_when_the_broker_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "up"


def test_healthz_is_not_redirected_to_https(client, settings):
    """The load balancer probes over plain HTTP inside the network, even with SECURE_SSL_REDIRECT on."""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


def test_healthz_accepts_only_get(client):
    assert client.post("/healthz").status_code == 405
