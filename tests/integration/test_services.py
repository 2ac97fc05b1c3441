"""The production services themselves: PostgreSQL as the database and Redis as the broker and cache."""

import pytest
import redis
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_database_is_postgresql(postgres_required):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_redis_answers(redis_required):
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_celery_uses_redis_as_broker_when_configured(redis_required):
    """With REDIS_URL, tasks go to Redis for the workers. (The suite itself runs them in-process unless a test
    asks for a worker: see tests/conftest.py; the settings module shows what the application configures.)"""
    import config.settings as configured
    from config.celery import app

    assert app.conf.broker_url == settings.REDIS_URL
    assert configured.CELERY_TASK_ALWAYS_EAGER is False
