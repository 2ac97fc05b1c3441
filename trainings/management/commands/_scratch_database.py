"""The throwaway database of the benchmarks: `make bench` measures on fresh data and never touches real data."""

import tempfile
from contextlib import contextmanager

from django.db import connection
from django.test.utils import setup_test_environment, teardown_test_environment


@contextmanager
def scratch_database(prefix: str):
    """Create a test database named after `prefix` (on SQLite, a file in a scratch folder, so that gunicorn and
    worker processes open the same database), yield the scratch folder, and drop the database afterwards."""
    if connection.vendor != "sqlite":
        # Never reuse test_<name>: a test run may be using it at the same moment.
        connection.settings_dict["TEST"]["NAME"] = f"{prefix}_{connection.settings_dict['NAME']}"
    with tempfile.TemporaryDirectory(prefix=f"sinergi-{prefix}-") as scratch:
        if connection.vendor == "sqlite":
            connection.settings_dict["TEST"]["NAME"] = f"{scratch}/bench.sqlite3"
        setup_test_environment()
        old_name = connection.settings_dict["NAME"]
        try:
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
            yield scratch
        finally:
            connection.close()
            # Only a database that create_test_db switched to is dropped, never the configured one.
            if connection.settings_dict["NAME"] != old_name:
                connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
            teardown_test_environment()
