"""Suite-wide fixtures: a private MEDIA_ROOT and private throttle counters per test, guards for tests that need
PostgreSQL or Redis, and a headless browser page for the end-to-end tests.

Set REQUIRE_SERVICES=1 (CI does) to make a missing or unreachable service, or a missing system tool (chromium,
poppler, zbar: `scripts/system-packages test` installs them), a failure instead of a skip."""

import functools
import hashlib
import os
import secrets
import shutil

import pytest
from django.test import override_settings

from config.env import env_bool, env_str

# Playwright's sync API keeps an asyncio event loop in the test thread. Django sees that loop and refuses ORM
# calls from the thread (SynchronousOnlyOperation) although the tests themselves are plain synchronous code.
# The flag lifts that check for the test process only; the application never sets it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# Debian's chromium by default; elsewhere (Ubuntu has no chromium deb) CHROMIUM_PATH names another executable.
CHROMIUM = env_str("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVICE_FIXTURES = {"postgres_required", "redis_required"}


def _services_required() -> bool:
    return env_bool("REQUIRE_SERVICES", False)


def _database_url_is_postgres() -> bool:
    return env_str("DATABASE_URL").split("://", 1)[0] in {"postgres", "postgresql", "pgsql", "postgis"}


def pytest_configure(config):
    """With REQUIRE_SERVICES=1 the run must really use the services; refuse to start otherwise."""
    if not _services_required():
        return
    problems = []
    if not _database_url_is_postgres():
        problems.append("DATABASE_URL must point to PostgreSQL (postgres://user@host:5432/name)")
    if not env_str("REDIS_URL"):
        problems.append("REDIS_URL must be set (redis://host:6379/0)")
    if problems:
        raise pytest.UsageError("REQUIRE_SERVICES=1, but " + "; ".join(problems))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tag tests by the fixtures they use, so `-m e2e` or `-m "not services"` select them."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser_page" in fixtures:
            item.add_marker(pytest.mark.e2e)
        if fixtures & SERVICE_FIXTURES:
            item.add_marker(pytest.mark.services)


def _unavailable(reason: str):
    if _services_required():
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def _postgres_problem() -> str:
    """Why PostgreSQL cannot be used, or "" when it can."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        return "needs PostgreSQL: set DATABASE_URL=postgres://…"
    import psycopg2

    try:
        psycopg2.connect(
            dbname="postgres",
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            connect_timeout=3,
        ).close()
    except psycopg2.Error as exc:
        return f"PostgreSQL at DATABASE_URL is not reachable: {str(exc).strip()}"
    return ""


@functools.cache
def _redis_problem() -> str:
    """Why Redis cannot be used, or "" when it can."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://…"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at REDIS_URL is not reachable: {exc}"
    finally:
        client.close()
    return ""


@pytest.fixture
def postgres_required():
    """Skip the test (fail it under REQUIRE_SERVICES=1) unless the suite runs on a reachable PostgreSQL."""
    problem = _postgres_problem()
    if problem:
        _unavailable(problem)


@pytest.fixture
def redis_required():
    """Skip the test (fail it under REQUIRE_SERVICES=1) unless REDIS_URL names a reachable Redis."""
    problem = _redis_problem()
    if problem:
        _unavailable(problem)


def _require_tools(*tools: str, package: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        _unavailable(f"needs {', '.join(missing)} from the Debian package {package} (scripts/system-packages test)")


@pytest.fixture
def poppler():
    """Skip the test (fail it under REQUIRE_SERVICES=1) unless poppler's pdftotext and pdftoppm are installed."""
    _require_tools("pdftotext", "pdftoppm", package="poppler-utils")


@pytest.fixture
def zbar():
    """Skip the test (fail it under REQUIRE_SERVICES=1) unless zbar's zbarimg is installed."""
    _require_tools("zbarimg", package="zbar-tools")


@pytest.fixture(autouse=True, scope="session")
def _static_root(tmp_path_factory):
    """WhiteNoise warns about a missing STATIC_ROOT (an error under filterwarnings=error), as in a checkout
    where collectstatic never ran. Tests find static files through the finders; an empty directory will do."""
    with override_settings(STATIC_ROOT=tmp_path_factory.mktemp("static")):
        yield


@pytest.fixture(autouse=True)
def _tasks_in_process(request, settings):
    """Celery tasks run in the test process when their transaction commits, as in the embedded default, even
    when REDIS_URL names a broker: a test sees its job finish. Tests that drive real workers (the
    `start_worker` fixture of tests/integration) or that ask for `tasks_queued` send them to the broker."""
    from config.celery import app

    eager = not ({"start_worker", "tasks_queued"} & set(request.fixturenames))
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def tasks_queued():
    """Tasks go to the broker (Redis under CI, Celery's in-memory transport otherwise) and wait there for a
    worker; whatever this test queued is purged afterwards."""
    from config.celery import app

    yield app
    with app.connection_for_write() as connection:
        for queue in ("documents", "celery"):
            connection.default_channel.queue_purge(queue)


# One value per run: counts of an earlier run, still within their window in a shared Redis, are never read.
_RUN = secrets.token_hex(4)


@pytest.fixture(autouse=True)
def _own_throttle_counters(request, settings):
    """Every test counts its throttles (config/throttle.py) under a cache prefix of its own. Under REDIS_URL the
    cache is one Redis shared by all tests of a run, and by runs before it while their windows last: a count
    left there by another test at the same client address (the test client's 127.0.0.1, a fixed venue address)
    would otherwise throttle this one. Nothing needs to clear the cache, which also holds Celery's queues."""
    test = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{_RUN}:{test}:"


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    """Every test writes its uploads and generated PDFs to its own temporary directory."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media


@pytest.fixture(scope="session")
def _chromium(django_db_setup):
    if not os.path.exists(CHROMIUM):
        _unavailable(
            f"end-to-end tests need Chromium at {CHROMIUM} (scripts/system-packages test, or set CHROMIUM_PATH)"
        )
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The copy of the reference data (regions, pillar types) that serialized rollback restores after a
    # transactional test is kept on the connection objects.
    saved = {c.alias: c._test_serialized_contents for c in connections.all() if hasattr(c, "_test_serialized_contents")}
    with sync_playwright() as playwright:
        # Playwright keeps an asyncio loop running in this thread, so Django's connection storage switches to
        # a context-local one with new connection objects: give them the saved copy again.
        for alias, contents in saved.items():
            connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(_chromium, live_server, transactional_db):
    """A fresh page (own cookies) in headless Chromium; open `live_server.url + path` with it.
    The live server runs in another thread, so the test's data is committed (transactional_db)."""
    context = _chromium.new_context(locale="id-ID", timezone_id="Asia/Jakarta")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
