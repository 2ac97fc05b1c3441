"""Sinergi settings. Every value that differs between a laptop and production is read here from the
environment (see .env.example); nothing else in the project reads os.environ."""

import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_site_url, env_str, require

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SINERGI_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# Under pytest the suite runs with production-like settings except for HTTPS-only cookies and redirects.
TESTING = env_bool("SINERGI_TESTING", "pytest" in sys.modules)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address printed in every certificate's QR code. An issued PDF never changes, so production must say
# it: a default there would print codes that point nowhere. `make run PORT=…` sets it for the demo.
if not (DEBUG or TESTING or env_str("SITE_URL")):
    raise ImproperlyConfigured(
        "SITE_URL must be set when DEBUG is off: the site's public address, like https://sinergi.example.org, "
        "which every certificate's QR code carries"
    )
SITE_URL = env_site_url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "js_lib_bootstrap5",
    "js_lib_htmx",
    "axes",
    "rules.apps.AutodiscoverRulesConfig",
    "accounts",
    "pillars",
    "trainings",
    "participants",
    "certificates",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.navigation",
            ],
        },
    }
]

# Database: SQLite under var/ unless DATABASE_URL points elsewhere (PostgreSQL in production).
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "sinergi.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (runserver, gunicorn workers) write at once: take the write lock when a transaction
    # starts, and wait for it, instead of failing with "database is locked"; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background jobs. With REDIS_URL, Redis is the Celery broker (and the cache). Without it — the laptop, the demo —
# the broker is a folder under var/ (kombu's filesystem transport, no server) and `make run` starts a worker on it
# next to the web server, so no request renders documents itself. The test suite runs tasks in-process.
REDIS_URL = env_str("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING and not REDIS_URL)
BROKER_FOLDER = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
elif TESTING:
    CELERY_BROKER_URL = "memory://"  # tests that ask for `tasks_queued` see their messages wait here
else:
    CELERY_BROKER_URL = "filesystem://localhost//"  # no host is used; naming one keeps kombu from warning
CELERY_RESULT_BACKEND = None
# In-process, a failed document job is recorded on its row (and shown on its page) instead of breaking the
# request that queued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540)
CELERY_TIMEZONE = "Asia/Jakarta"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"certificates.tasks.*": {"queue": "documents"}, "participants.tasks.*": {"queue": "documents"}}
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A message a worker took but never acknowledged (the machine died) goes back to the queue after this long; it
# must be longer than the longest task (CELERY_TASK_TIME_LIMIT).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# A request that starts a job waits for the broker. A Redis that hangs (takes the connection, never answers) must
# fail within seconds, as one that refuses does, so the job is marked failed with the queue's message instead of
# the request being killed by gunicorn and the job left queued: short socket timeouts (kombu's default is to wait
# for ever; only the Redis transport reads them) and a short publish retry (3 tries, under a second of pauses).
CELERY_BROKER_TRANSPORT_OPTIONS |= {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # One folder is both ends of every queue; read messages are deleted. The worker looks for new ones every
    # 0.2 s (kombu's default of 1 s would add up to a second to each step of a job).
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(BROKER_FOLDER / "queue"),
        "data_folder_out": str(BROKER_FOLDER / "queue"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "processed_folder": str(BROKER_FOLDER / "processed"),
        "polling_interval": 0.2,
    }
# Celery beat (`celery -A config beat`) starts the daily media clean-up at 02.30 WIB (certificates/cleanup.py).
CELERY_BEAT_SCHEDULE = {
    "media-cleanup": {"task": "certificates.tasks.media_cleanup", "schedule": crontab(hour=2, minute=30)},
}
# Uploaded spreadsheets nobody confirmed (personal data of people never nominated) are deleted after this long;
# a stored file no row points to is deleted once older than ORPHAN_GRACE_HOURS (a younger one may belong to a job
# still writing it).
UPLOAD_RETENTION_HOURS = env_int("UPLOAD_RETENTION_HOURS", 72)
ORPHAN_GRACE_HOURS = env_int("ORPHAN_GRACE_HOURS", 24)
if UPLOAD_RETENTION_HOURS < 1 or ORPHAN_GRACE_HOURS < 1:
    raise ImproperlyConfigured("UPLOAD_RETENTION_HOURS and ORPHAN_GRACE_HOURS must be at least 1")
# Certificates rendered by one task (one WeasyPrint document, split per participant), and attendance sheets.
DOCUMENT_CHUNK_SIZE = env_int("DOCUMENT_CHUNK_SIZE", 25)
SHEET_CHUNK_SIZE = env_int("SHEET_CHUNK_SIZE", 4)

# Values that parse but would break documents or jobs stop the start here, not in the middle of a batch.
require(DOCUMENT_CHUNK_SIZE >= 1, f"DOCUMENT_CHUNK_SIZE must be at least 1; got {DOCUMENT_CHUNK_SIZE}")
require(SHEET_CHUNK_SIZE >= 1, f"SHEET_CHUNK_SIZE must be at least 1; got {SHEET_CHUNK_SIZE}")
require(
    CELERY_TASK_SOFT_TIME_LIMIT >= 1,
    f"CELERY_TASK_SOFT_TIME_LIMIT must be at least 1 second; got {CELERY_TASK_SOFT_TIME_LIMIT}",
)
require(
    CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT,
    "CELERY_TASK_SOFT_TIME_LIMIT must be shorter than CELERY_TASK_TIME_LIMIT, or a task is killed before it can "
    f"stop cleanly; got {CELERY_TASK_SOFT_TIME_LIMIT} and {CELERY_TASK_TIME_LIMIT}",
)
require(
    CELERY_VISIBILITY_TIMEOUT > CELERY_TASK_TIME_LIMIT,
    "CELERY_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT, or a long task is handed to a second "
    f"worker while the first still runs it; got {CELERY_VISIBILITY_TIMEOUT} and {CELERY_TASK_TIME_LIMIT}",
)

if REDIS_URL:
    # Short socket timeouts: with Redis down or unreachable, a throttle gives up within a second and fails open
    # or closed as config/throttle.py says, instead of holding the request.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.backends.RolePermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# One-time set-password links for new accounts stay valid for three days.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)

# Failed logins: lock the username from that IP after AXES_FAILURE_LIMIT attempts, for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_ENABLED = env_bool("AXES_ENABLED", True)
# Reverse proxies in front of the site; the lockout counts failures per client address (see config/proxy.py).
TRUSTED_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "config.proxy.client_ip"
AXES_VERBOSE = False

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# No URL route serves MEDIA_URL: files are served through views that check permission, never publicly.
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if env_str("AWS_STORAGE_BUCKET_NAME"):
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    # Never replace an object of the same name (django-storages replaces it by default): as on the file system, a
    # second file of that name gets a new one, so an upload cannot overwrite another and removing a losing
    # copy cannot remove the file a row points to.
    AWS_S3_FILE_OVERWRITE = False

# QR self check-in: opens this many minutes before a session starts; later than CHECKIN_LATE_MINUTES after the
# start a participant is recorded as late (terlambat).
CHECKIN_OPEN_MINUTES = env_int("CHECKIN_OPEN_MINUTES", 30)
CHECKIN_LATE_MINUTES = env_int("CHECKIN_LATE_MINUTES", 15)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# E-mail is sent only when EMAIL_HOST is configured; otherwise links are shown on screen only.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Sinergi <noreply@sinergi.local>")
EMAIL_ENABLED = bool(EMAIL_HOST)
if not EMAIL_ENABLED:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Security: production values by default, relaxed only when DEBUG is on or under the test suite.
_HTTPS = not (DEBUG or TESTING)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = _HTTPS
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint reports every layout step at INFO.
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "pikepdf": {"level": "WARNING"},
    },
}
