"""Project-wide views: the role-aware landing page and the load-balancer health check."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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
    except Exception:  # any failure means the database cannot serve requests
        return "down"
    return "up"


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
    database = _database_status()
    broker = _broker_status()
    status = 200 if database == "up" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "unavailable", "database": database, "broker": broker},
        status=status,
    )
