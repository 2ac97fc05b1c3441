"""Real outages for the fault tests: a cache (Redis) and a database pointed where nothing answers. Nothing is
mocked: the application's own clients try to connect and fail as they would in production."""

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
