"""Settings of the console, read from the environment.

With nothing set the project runs in the embedded mode: SQLite in ``DATA_DIR``, the django-q2 ORM broker and
the bundled AmoCRM sandbox as the account. Every variable is listed in ``.env.example``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """The environment variable ``name``, stripped, or ``default`` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = env(name)
    try:
        return float(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def env_ints(name: str, default: str) -> list[int]:
    """A comma-separated list of integers, e.g. ``30,120,600``."""
    value = env(name, default)
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be comma-separated integers, got {value!r}") from exc


DEBUG = env_bool("DEBUG", False)
# Production mode: PostgreSQL (DATABASE_URL), Redis (REDIS_URL) as broker and shared cache, HTTPS-only
# defaults; every setting it needs must be given (ImproperlyConfigured otherwise). See README.
PRODUCTION = env_bool("PRODUCTION", False)


def production_requires(*names: str) -> None:
    """Fail at start-up when PRODUCTION=true and one of the variables ``names`` is unset."""
    missing = [name for name in names if PRODUCTION and not env(name)]
    if missing:
        raise ImproperlyConfigured(f"{', '.join(missing)} must be set when PRODUCTION=true (.env.example)")


production_requires("ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "staticfiles").mkdir(exist_ok=True)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:  # DEBUG=true does not make a generated key acceptable in production
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION=true")
    # Embedded mode: a key generated once and kept in the data folder, never in the repository.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        from django.core.management.utils import get_random_secret_key

        _key_file.write_text(get_random_secret_key())
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

# --- HTTPS and proxies: on by default in production, each switchable -----------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-hsts-seconds and the settings after it.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Probes and scrapers on the host or inside the network ask over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^metrics/?$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
# "X-Forwarded-Proto:https" when a proxy ends TLS and sets that header (and strips it from clients).
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header:
    _name, _sep, _value = _proxy_ssl_header.partition(":")
    if not (_name.strip() and _value.strip()):
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER must be 'Name:value', got {_proxy_ssl_header!r}")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _name.strip().upper().replace("-", "_"), _value.strip())
# How many proxies in front of the console append to X-Forwarded-For; 0 trusts no X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens stored hashed (rest_framework.authtoken kept them in plain text)
    "axes",  # login throttling
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files: the docs work offline
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "django_q",
    "console.customers",
    "console.orders",
    "console.amocrm",
    "console.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.web.passwords.PasswordChangeRequiredMiddleware",  # an admin-set password is changed first
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# Every answer carries this policy (console.web.middleware): our own scripts and styles only, no inline
# script or style, no eval.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)

ROOT_URLCONF = "settings.urls"
WSGI_APPLICATION = "settings.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.web.context_processors.console_nav",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'console.sqlite3'}")
# Health checks: a kept connection the server dropped (a PostgreSQL restart) is replaced, not failed.
_db_options = {"conn_max_age": env_int("DB_CONN_MAX_AGE", 60), "conn_health_checks": True}
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, **_db_options)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections are kept (DB_CONN_MAX_AGE, as for other databases): opening one costs more than most
    # queries (file open, schema parse, the PRAGMAs below), about 0.7 ms per webhook delivery, and the
    # django-q ORM broker would reopen one on every poll.
    # WAL lets the web process and the cluster read while one writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# django-axes first: it refuses a locked-out username + address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env("LANGUAGE_CODE", "ru")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "console" / "locale"]
TIME_ZONE = env("TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "console.orders.api_auth.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.api_permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"storefront": env("STOREFRONT_THROTTLE", "60/min")},
    "EXCEPTION_HANDLER": "console.api_base.exception_handler",
    # Throttles key on the client address: REMOTE_ADDR when 0, else the address that many proxies back in
    # X-Forwarded-For (https://www.django-rest-framework.org/api-guide/throttling/#how-clients-are-identified).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Furniture rental API",
    "DESCRIPTION": "Storefront checkout and manager cabinet: orders, customers, companies.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html: no CDN, the console works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Background work (django-q2) -------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
Q_BROKER = env("Q_BROKER", "redis" if REDIS_URL else "orm")
Q_CLUSTER: dict = {
    "name": env("Q_CLUSTER_NAME", "console"),
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 120),
    "retry": env_int("Q_RETRY", 180),
    "max_attempts": 1,
    "catch_up": False,
    "poll": env_float("Q_POLL", 0.2),
    "save_limit": env_int("Q_SAVE_LIMIT", 1000),
    "ack_failures": True,
    "label": "Django Q2",
}
if Q_BROKER == "redis":
    if not REDIS_URL:
        raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL")
    Q_CLUSTER["redis"] = REDIS_URL
elif Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
else:
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', got {Q_BROKER!r}")
Q_CLUSTER["sync"] = env_bool("Q_SYNC", False)

# One cache shared by every process (the API throttles, django-q2's cluster heartbeat): Redis when REDIS_URL
# is set, else a table in the database, created by ``migrate`` (console.web.apps).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "console_cache",
        # Django's default of 300 would cull throttle counters of busy clients early.
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
}
if REDIS_URL:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}

# --- Logins, API tokens, monitoring ------------------------------------------------------------
# django-axes (https://django-axes.readthedocs.io/en/latest/4_configuration.html): failures are counted per
# username + client address in the database; a lock lasts LOGIN_LOCKOUT_MINUTES, a success clears the count.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # shared by every process, kept across restarts
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "console.web.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "console.web.lockout.lockout_response"
# django-rest-knox (https://jazzband.github.io/django-rest-knox/settings/): a token is shown once, stored as
# a SHA-512 digest. API_TOKEN_TTL_DAYS=0: tokens never expire.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("API_TOKEN_TTL_DAYS", 90)) or None,
    "AUTH_HEADER_PREFIX": "Token",
}
# /metrics needs "Authorization: Bearer <METRICS_TOKEN>" when set; unset, it is open in the embedded mode and
# refused (403) in production.
METRICS_TOKEN = env("METRICS_TOKEN")

# --- Alerts to administrators --------------------------------------------------------------------
# Django's mail (https://docs.djangoproject.com/en/5.2/topics/email/): SMTP when EMAIL_HOST is set, else the
# console backend (mails printed on standard output, as the demo wants).
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not env_bool("EMAIL_USE_SSL", False))
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "console@localhost")
# An incident opens when this many orders failed to sync or wait for a retry, and clears below it.
ALERT_FAILED_THRESHOLD = env_int("ALERT_FAILED_THRESHOLD", 10)
# Webhooks count as stopped when none arrived for this long while the reconciliation found deal changes.
ALERT_WEBHOOK_SILENCE_MINUTES = env_int("ALERT_WEBHOOK_SILENCE_MINUTES", 30)
# How often the alert check runs (minutes).
ALERT_CHECK_MINUTES = env_int("ALERT_CHECK_MINUTES", 5)
# Optional: each incident's opening and clearing is also POSTed here as JSON (a chat tool's incoming hook).
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL")
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 5.0)

# --- AmoCRM ------------------------------------------------------------------------------------
# The integration's credentials; an admin can also enter them in the console. Empty means "not configured".
AMOCRM_CLIENT_ID = env("AMOCRM_CLIENT_ID")
AMOCRM_CLIENT_SECRET = env("AMOCRM_CLIENT_SECRET")
AMOCRM_REDIRECT_URI = env("AMOCRM_REDIRECT_URI")
AMOCRM_BASE_URL = env("AMOCRM_BASE_URL")  # https://{subdomain}.amocrm.ru, .kommo.com or the sandbox URL
AMOCRM_AUTHORIZE_URL = env("AMOCRM_AUTHORIZE_URL", "https://www.amocrm.ru/oauth")
AMOCRM_LONG_LIVED_TOKEN = env("AMOCRM_LONG_LIVED_TOKEN")
AMOCRM_RATE_LIMIT = env_float("AMOCRM_RATE_LIMIT", 7.0)  # requests per second, shared by every process
AMOCRM_CONNECT_TIMEOUT = env_float("AMOCRM_CONNECT_TIMEOUT", 5.0)
AMOCRM_READ_TIMEOUT = env_float("AMOCRM_READ_TIMEOUT", 20.0)
AMOCRM_WEBHOOK_BASE_URL = env("AMOCRM_WEBHOOK_BASE_URL")  # public URL of this console, for webhooks
AMOCRM_RECONCILE_MINUTES = env_int("AMOCRM_RECONCILE_MINUTES", 10)
# How often the webhook health check looks at our subscription in amoCRM (and repairs it).
AMOCRM_WEBHOOK_CHECK_MINUTES = env_int("AMOCRM_WEBHOOK_CHECK_MINUTES", 15)
# Largest webhook body the intake reads (bytes); a larger one is stored as invalid without being read.
WEBHOOK_MAX_BODY = env_int("WEBHOOK_MAX_BODY", 1024 * 1024)
# A failed sync is tried again after these delays (seconds after attempt 1, 2, ...; the last one repeats,
# +-20 %) and fails for good after AMOCRM_MAX_ATTEMPTS attempts.
AMOCRM_RETRY_DELAYS = env_ints("AMOCRM_RETRY_DELAYS", "30,120,600,3600,21600,43200,86400")
AMOCRM_MAX_ATTEMPTS = env_int("AMOCRM_MAX_ATTEMPTS", 8)
# A lease on background work (an order's sync, a contact or company being created) not renewed for this long
# was left by a dead worker and is taken over.
AMOCRM_LEASE_SECONDS = env_int("AMOCRM_LEASE_SECONDS", 60)
# The username every storefront order goes to; empty: in turn among the users marked for storefront orders.
STOREFRONT_RESPONSIBLE = env("STOREFRONT_RESPONSIBLE", "")
# A storefront order's "call the customer" task is due this many working minutes after the order came in
# (working hours: AMOCRM_WORKING_HOURS, "start-end" hours, Monday to Friday, in TIME_ZONE).
AMOCRM_CALL_TASK_MINUTES = env_int("AMOCRM_CALL_TASK_MINUTES", 30)
AMOCRM_WORKING_HOURS = env_ints("AMOCRM_WORKING_HOURS", "9,18")
# A create whose answer was lost (a timeout, a dropped connection, a gateway error) may still be carried out
# by amoCRM for a while: the console looks for what it created only this long after sending it.
AMOCRM_UNCONFIRMED_SETTLE_SECONDS = env_int("AMOCRM_UNCONFIRMED_SETTLE_SECONDS", 60)
# What each sync attempt sent to amoCRM and what it answered (redacted) is kept for support: each body cut to
# this many bytes, each exchange kept this many days (pruned with the sync log).
AMOCRM_EXCHANGE_MAX_BYTES = env_int("AMOCRM_EXCHANGE_MAX_BYTES", 64 * 1024)
AMOCRM_EXCHANGE_DAYS = env_int("AMOCRM_EXCHANGE_DAYS", 14)
# Fernet key (urlsafe base64, 32 bytes) for tokens and secrets at rest. Embedded mode keeps one in DATA_DIR.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEY:
    if env_bool("PRODUCTION"):
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when PRODUCTION=true")
    _fkey_file = DATA_DIR / "field_encryption_key"
    if not _fkey_file.exists():
        from cryptography.fernet import Fernet

        _fkey_file.write_bytes(Fernet.generate_key())
        _fkey_file.chmod(0o600)
    FIELD_ENCRYPTION_KEY = _fkey_file.read_text().strip()

# The default stage map the business already uses (initial values of the editable map).
AMO_PIPELINE_ID = env("AMO_PIPELINE_ID")
AMO_STATUS_MAP_ENV = {
    status: env(f"AMO_STATUS_{status.upper()}")
    for status in ("new", "reserved", "in_rent", "in_progress", "archived", "cancelled")
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "console.amocrm.api.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # axes.apps says "BEGIN" at every start; lockouts are logged by axes.handlers.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}
