"""Project-wide views: the role-aware landing page, the load-balancer health check, and the server-error handler,
which doubles as the outage page. Django's own views render the other error pages from templates/ (400.html,
403.html, 404.html, and 403_csrf.html for a refused form)."""

import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .throttle import CACHE_ERRORS, ThrottleUnavailable

# What a browser is told to wait before trying again when a service is down.
RETRY_AFTER_SECONDS = 30


@login_required
def home(request):
    user = request.user
    if user.is_organiser_staff:
        return redirect("trainings:batch_list")
    if user.is_operator:
        return redirect("participants:nominations_home")
    if user.is_facilitator:
        return redirect("trainings:my_sessions")
    return render(request, "no_role.html")


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DatabaseError, InterfaceError):  # InterfaceError: a connection closed under us
        return "down"
    return "up"


def _cache_status() -> str:
    """The cache holds the throttles' counters: a write and a read through the configured backend."""
    try:
        cache.set("healthz", "1", timeout=10)
        answer = cache.get("healthz")
    except CACHE_ERRORS:
        return "down"
    return "up" if answer == "1" else "down"


def _broker_status() -> str:
    if not settings.REDIS_URL:
        # Without Redis the broker is a folder on this machine (make run), or the tasks run in-process (tests).
        return "in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "folder"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except redis.RedisError:
        return "down"
    return "up"


@never_cache
@require_GET
def healthz(request):
    """Each dependency's state, and the overall one (README, "Throttling and outages", says what a load balancer
    does with each): "ok" when all answer; "degraded" (still 200: keep the server in the pool) when the cache or
    the broker is down, since pages go on serving (throttles fail as config/throttle.py says, document jobs wait);
    "unavailable" (503: take the server out) only when the database is down."""
    checks = {"database": _database_status(), "cache": _cache_status(), "broker": _broker_status()}
    if checks["database"] != "up":
        overall, status = "unavailable", 503
    elif "down" in checks.values():
        overall, status = "degraded", 200
    else:
        overall, status = "ok", 200
    return JsonResponse({"status": overall, **checks}, status=status)


def _is_outage(error: BaseException | None) -> bool:
    """A service that is down rather than a bug: the database's connection, or a fail-closed throttle's cache."""
    while error is not None:
        if isinstance(error, OperationalError | InterfaceError | ThrottleUnavailable):
            return True
        error = error.__cause__ or error.__context__
    return False


def server_error(request):
    """handler500. Rendered with an empty context, like Django's own: no context processor, no session, no
    database. When the cause is an outage the answer is the 503 page "coba lagi sebentar" instead."""
    if _is_outage(sys.exc_info()[1]):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
