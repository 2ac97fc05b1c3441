"""Real outages for the fault tests: a cache (Redis) and a database pointed where nothing answers, and a database
that stops taking new rows. Nothing is mocked: the application's own clients try to connect or write and fail as
they would in production."""

import contextlib
import os
import socket
from collections.abc import Iterator

from django.db import connections
from django.test import override_settings


def closed_port() -> int:
    """A local port where nothing listens (the system just handed it out and it was closed again): connecting to
    it is refused at once, and a server started for a test can bind it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def hung_server() -> Iterator[int]:
    """A local port whose server is hung: the system completes every connection (the listen backlog), but nothing
    is ever read or answered, like a Redis that froze or a half-open connection behind a firewall. Yields the port;
    the connections are dropped when the block ends."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


def cache_down():
    """The default cache as a Redis at a closed port, with short timeouts as in production."""
    location = f"redis://127.0.0.1:{closed_port()}/0"
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": location,
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        }
    )


@contextlib.contextmanager
def database_down():
    """The default database alias points, for the duration, at a database that cannot be reached: PostgreSQL at a
    closed port, or an SQLite file that cannot be opened. The test's own connection is set aside, not closed, so
    the test database (and its transaction) is back afterwards."""
    original = connections["default"]
    broken_settings = {**original.settings_dict}
    if original.vendor == "sqlite":
        broken_settings["NAME"] = os.path.join(os.devnull, "sinergi.sqlite3")  # /dev/null is not a directory
    else:
        broken_settings.update(HOST="127.0.0.1", PORT=str(closed_port()))
        broken_settings["OPTIONS"] = {**broken_settings.get("OPTIONS", {}), "connect_timeout": 2}
    broken = original.__class__(broken_settings, alias="default")
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = original


@contextlib.contextmanager
def table_full(model, *, rows: int):
    """The database refuses new rows of `model` once its table holds `rows`, as when its storage or quota runs
    out halfway through a job: a trigger (SQLite or PostgreSQL) fails the insert with an integrity error. The
    trigger is dropped afterwards, so the next run finds room again."""
    table = connections["default"].ops.quote_name(model._meta.db_table)
    with connections["default"].cursor() as cursor:
        if connections["default"].vendor == "sqlite":
            cursor.execute(
                # The table name comes from the model and is quoted; `rows` is an int.
                f"CREATE TRIGGER outage_table_full BEFORE INSERT ON {table} "  # noqa: S608
                f"WHEN (SELECT count(*) FROM {table}) >= {int(rows)} "
                "BEGIN SELECT RAISE(ABORT, 'table full'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION outage_table_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
                f"IF (SELECT count(*) FROM {table}) >= {int(rows)} THEN "
                "RAISE EXCEPTION 'table full' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER outage_table_full BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION outage_table_full()"
            )
    try:
        yield
    finally:
        with connections["default"].cursor() as cursor:
            if connections["default"].vendor == "sqlite":
                cursor.execute("DROP TRIGGER outage_table_full")
            else:
                cursor.execute(f"DROP TRIGGER outage_table_full ON {table}")
                cursor.execute("DROP FUNCTION outage_table_full()")
