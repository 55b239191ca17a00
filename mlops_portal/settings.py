"""Settings: defaults that just work on a laptop (SQLite, a server-less broker, DEBUG on);
production values come from the environment (see the README's table)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
import plotly
from celery.schedules import crontab

from mlops_portal.env import broker_settings, envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "lineage",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lineage.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mlops_portal.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "mlops_portal.urls"

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
                "lineage.context_processors.unread_notifications",
            ],
        },
    },
]

WSGI_APPLICATION = "mlops_portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        # A health check costs a round trip at the start of every request (a fifth of a
        # prediction's time); without it, a request on a connection the server dropped
        # fails once and the connection is replaced.
        conn_health_checks=envbool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker process and the web process share the file: wait for locks instead of failing,
    # and keep the test database on disk so that a real worker can open it too.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start otherwise
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js ships inside the plotly package: serve that copy, never a CDN.
    ("plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Uploads: the largest dataset or artifact accepted, and when Django spools to disk.
MAX_UPLOAD_BYTES = envint("MAX_UPLOAD_MB", 512) * 1024 * 1024
# A batch of 10,000 logged predictions with a few dozen features is several MiB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 32 * 1024 * 1024)

# Drift analyses over more rows than this (both sides) are shared among workers, a group
# of features per Celery task.
DRIFT_CHUNK_ROWS = envint("DRIFT_CHUNK_ROWS", 200_000)
DRIFT_FEATURES_PER_CHUNK = envint("DRIFT_FEATURES_PER_CHUNK", 5)

# Serving and the prediction log (monitoring.prediction_log explains the spool).
SERVING_CACHE_SIZE = envint("SERVING_CACHE_SIZE", 8)
# How long predict keeps which version is in production and the caller's role (0: ask the
# database on every request).
SERVING_VERSION_CACHE_SECONDS = float(envstr("SERVING_VERSION_CACHE_SECONDS", "1"))
# How long predict trusts a token it has seen (0: look it up on every request).
SERVING_TOKEN_CACHE_SECONDS = envint("SERVING_TOKEN_CACHE_SECONDS", 10)
SERVING_BATCH_LIMIT = envint("SERVING_BATCH_LIMIT", 1_000)
PREDICTION_BATCH_LIMIT = envint("PREDICTION_BATCH_LIMIT", 10_000)
PREDICTION_SPOOL_DIR = Path(envstr("PREDICTION_SPOOL_DIR", str(VAR_DIR / "prediction-spool")))
PREDICTION_SPOOL_MAX_BYTES = envint("PREDICTION_SPOOL_MAX_BYTES", 256 * 1024 * 1024)
PREDICTION_LOG_FLUSH_SECONDS = float(envstr("PREDICTION_LOG_FLUSH_SECONDS", "0.2"))
# "thread": a writer thread per process stores the log; "sync": each request stores its own.
PREDICTION_LOG_WRITER = envstr("PREDICTION_LOG_WRITER", "thread")
WORKER_HEARTBEAT_SECONDS = envint("WORKER_HEARTBEAT_SECONDS", 15)
WORKER_HEARTBEAT_STALE_SECONDS = envint("WORKER_HEARTBEAT_STALE_SECONDS", 60)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Model artifacts: skops loads only its default trusted types plus these, which are
# scikit-learn's own tree structures (reviewed: their state is plain arrays). Anything else
# in an upload is refused with the type named.
MODEL_TRUSTED_TYPES = envlist(
    "MODEL_TRUSTED_TYPES",
    [
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    ],
)

# Security: production values when DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes call the health endpoints over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery: the broker defaults to a server-less filesystem transport under var/.
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_settings(
    envstr("CELERY_BROKER_URL"), VAR_DIR
)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request that queues a job must not hang on a dead broker: give up after ~2 s and
# leave the job queued; beat's redispatch sends it when the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "redispatch-queued-jobs": {"task": "lineage.tasks.redispatch_queued_jobs", "schedule": 300.0},
    "find-expired-data": {
        "task": "lineage.tasks.find_expired_data",
        "schedule": crontab(hour=6, minute=0),
    },
    "evaluate-alerts": {"task": "monitoring.tasks.evaluate_alerts", "schedule": 60.0},
    "recover-prediction-spool": {
        "task": "monitoring.tasks.recover_prediction_spool",
        "schedule": 60.0,
    },
    "compact-prediction-rollups": {
        "task": "monitoring.tasks.compact_prediction_rollups",
        "schedule": crontab(minute=5),
    },
    "apply-prediction-retention": {
        "task": "monitoring.tasks.apply_prediction_retention",
        "schedule": crontab(hour=3, minute=30),
    },
}

REST_FRAMEWORK = {
    # Token first: an unauthenticated call then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "mlops_portal.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "mlops_portal.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mlops_portal.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MLOps portal API",
    "DESCRIPTION": "Catalog of projects, datasets and models, with their versions and jobs; "
    "quality checks, drift analyses, serving and its prediction log, alerts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "lineage.choices.Stage",
        "AuditActionEnum": "lineage.choices.AuditAction",
        "QualityStatusEnum": "lineage.choices.QualityStatus",
        "JobStateEnum": "lineage.choices.JobState",
        "ReviewStateEnum": "lineage.choices.ReviewState",
        "RunStateEnum": "lineage.choices.RunState",
        "VersionSourceEnum": "lineage.choices.VersionSource",
        "PredictionSourceEnum": "monitoring.choices.PredictionSource",
        "AlertMetricEnum": "monitoring.choices.AlertMetric",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}
