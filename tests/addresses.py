"""Client addresses (REMOTE_ADDR) for tests of the throttles. Each call hands out an address not handed out
before in this run, so two clients of one test never share a count by chance; counts left by other tests, or by
an earlier run on the same Redis, are kept apart by the counter prefix each test gets (tests/conftest.py)."""

import itertools

_numbers = itertools.count(1)


def unique_address() -> str:
    """A private (10.0.0.0/8) address, new in this run."""
    number = next(_numbers)
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
