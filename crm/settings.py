"""Settings for the dealer CRM, read from the environment (django-environ).

``DJANGO_ENV`` selects the mode: ``development`` (the default, used by ``make run``),
``test`` or ``production``. Production values have no defaults: a missing secret key or
host list stops the process at start-up with ``ImproperlyConfigured``.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DJANGO_DEBUG", default=False)
if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: refuse to start without one
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must name the real host names in production")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off in production")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

# Rotating the secret key (docs/security.md): the old key, listed here, still reads sessions and
# signed links (invitations, password resets) until they expire.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

# Release shown by the health endpoints so the cluster manager can tell builds apart.
RELEASE_ID = env.str("RELEASE_ID", default="dev")

INSTALLED_APPS = [
    "dealers.admin_apps.VerifiedAdminConfig",  # django.contrib.admin with the two-factor admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",  # no models: its country names in German and English (crm.countries)
    "dealers",
    "crm",
    "crm.campaigns",  # marketing campaigns: target, consent-checked selection, results (docs/campaigns.md)
    "crm.notifications",  # reminders and notifications: bell, list, e-mail digest (docs/notifications.md)
    "crm.quotes",  # quotes (Angebote) as PDF (docs/quotes.md)
    "crm.appointments",  # appointments and the test-drive fleet (docs/appointments.md)
    "crm.messaging",  # e-mail from the CRM: templates, sending, replies by SMTP (docs/messaging.md)
    "sync",
    "ha",
]

MIDDLEWARE = [
    "csp.middleware.CSPMiddleware",  # first, so probe answers carry the policy too
    "dealers.middleware.DatabaseSessionMiddleware",  # no dealer scope until one is known (dealers.rls)
    "ha.middleware.ProbeShortcutMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ha.retry.TransactionRetryMiddleware",  # re-runs what follows after a failover (scope, view, template)
    "dealers.middleware.ActiveMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dealers.reauth.SessionLimitsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ha.readonly.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into the "try again at" page
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

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
                "dealers.context_processors.active_membership",
                "ha.readonly.read_only_banner",
            ],
        },
    },
]

# PostgreSQL only. Django's native psycopg pool reuses connections per process
# (measured 3.7x the requests/s of opening a connection per request).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/crm"),
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=1),
        "max_size": env.int("DB_POOL_MAX", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=3)
# Timeouts (issue 9). Web processes (crm.wsgi sets CRM_WEB_PROCESS) open connections with the web
# values as start-up options, so they cost no round trip; Celery tasks, operator commands and
# migrations set their own for their duration (dealers.rls); other processes keep the server's.
# PostgreSQL units: "5s", "2min", "0" for none. Each row: the process kind, then statement_timeout and
# lock_timeout, each as (environment variable, default).
DATABASE_TIMEOUTS = {
    kind: {
        "statement_timeout": env.str(statement_variable, default=statement_default),
        "lock_timeout": env.str(lock_variable, default=lock_default),
    }
    for kind, (statement_variable, statement_default), (lock_variable, lock_default) in [
        ("web", ("DB_STATEMENT_TIMEOUT", "5s"), ("DB_LOCK_TIMEOUT", "2s")),
        ("job", ("DB_JOB_STATEMENT_TIMEOUT", "4min"), ("DB_JOB_LOCK_TIMEOUT", "30s")),
        ("command", ("DB_COMMAND_STATEMENT_TIMEOUT", "30min"), ("DB_COMMAND_LOCK_TIMEOUT", "1min")),
        ("migrate", ("DB_MIGRATE_STATEMENT_TIMEOUT", "0"), ("DB_MIGRATE_LOCK_TIMEOUT", "0")),
    ]
}
if env.bool("CRM_WEB_PROCESS", default=False):
    DATABASES["default"]["OPTIONS"]["options"] = " ".join(
        [
            *filter(None, [DATABASES["default"]["OPTIONS"].get("options")]),
            f"-c statement_timeout={DATABASE_TIMEOUTS['web']['statement_timeout']}",
            f"-c lock_timeout={DATABASE_TIMEOUTS['web']['lock_timeout']}",
        ]
    )
# Typo-tolerant search (crm.selectors.search_prospects): the word similarity at which ``search_text %> word``
# matches. The operator reads it from the connection, so every connection starts with it (a start-up
# option: no round trip; a placeholder until pg_trgm loads, harmless where pg_trgm is missing).
SEARCH_WORD_SIMILARITY = 0.45
# JIT compilation off: PostgreSQL compiles any statement its planner prices above 100,000, which at 10M
# prospects includes short probes with a LIMIT (the relay's took 577 ms to compile and 0.2 ms to run).
# Our statements are short; a report that would gain from it can SET jit = on for itself.
DATABASE_JIT = env.bool("DB_JIT", default=False)
DATABASES["default"]["OPTIONS"]["options"] = " ".join(
    [
        *filter(None, [DATABASES["default"]["OPTIONS"].get("options")]),
        f"-c pg_trgm.word_similarity_threshold={SEARCH_WORD_SIMILARITY}",
        f"-c jit={'on' if DATABASE_JIT else 'off'}",
    ]
)
if "pool" in DATABASES["default"]["OPTIONS"]:
    from dealers.rls import reset_pooled_connection

    # A connection going back to the pool forgets the dealer it worked for (dealers.rls).
    DATABASES["default"]["OPTIONS"]["pool"]["reset"] = reset_pooled_connection
# A streaming replica for reports, exports and the change feed (crm/replica.py, docs/performance.md):
# the primary's options (pool, timeouts, tenancy reset) with the replica's address; within the lag
# bound, checked every DATABASE_REPLICA_CHECK_SECONDS per process, else those reads use the primary.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=30.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=2.0)
if env.str("DATABASE_REPLICA_URL", default=""):
    _replica = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"] = {
        **DATABASES["default"],
        **{key: _replica[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT") if key in _replica},
        "OPTIONS": {**DATABASES["default"]["OPTIONS"]},
        # A dead standby must cost a request little before it falls back to the primary: a pooled
        # connection is checked before it is handed out, and the wait for one is short.
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},  # a test run never creates a database on it
    }
    if "pool" in DATABASES["replica"]["OPTIONS"]:
        DATABASES["replica"]["OPTIONS"]["pool"] = {
            **DATABASES["replica"]["OPTIONS"]["pool"],
            "timeout": float(DATABASES["replica"]["OPTIONS"]["connect_timeout"]),
        }
DATABASE_ROUTERS = ["crm.replica.PrimaryWritesRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "dealers.User"
# django-axes first: it refuses locked-out accounts and addresses before a password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Argon2id first; older PBKDF2 hashes still verify and are rehashed with Argon2 at the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
if DJANGO_ENV == "test":
    # Tests create many users; the production hasher's work factor only slows them down.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sign-in throttling (django-axes; dealers/login_throttle.py): after AXES_FAILURE_LIMIT failures
# for one account, or from one client address, sign-ins are refused for AXES_COOLOFF_TIME after
# the latest failure. Unknown accounts count like known ones, so the answer never tells them apart.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one alone locks
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "dealers.login_throttle.normalized_username"
AXES_CLIENT_IP_CALLABLE = "dealers.login_throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "dealers.login_throttle.locked_out"
AXES_CLIENT_STR_CALLABLE = "dealers.login_throttle.log_label"  # no e-mail addresses in logs
AXES_VERBOSE = False  # no start-up banner: operator commands answer in one line
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]
# Behind a reverse proxy: name the header it sets (e.g. X-Forwarded-For) and how many proxies of
# ours append to it. Unset, only the TCP peer counts: a client cannot choose its own address.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
CLIENT_IP_PROXY_COUNT = env.int("CLIENT_IP_PROXY_COUNT", default=1)
# Password reset mails: per client address and per account, within the window.
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int("PASSWORD_RESET_LIMIT_PER_ADDRESS", default=10)
PASSWORD_RESET_LIMIT_PER_ACCOUNT = env.int("PASSWORD_RESET_LIMIT_PER_ACCOUNT", default=3)
PASSWORD_RESET_WINDOW_SECONDS = 3600

# Two-factor authentication (django-otp; dealers/two_factor.py): required for manufacturer staff.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Dealer CRM")
# Sessions end 10 hours after sign-in and after 30 idle minutes (dealers/reauth.py); API keys,
# webhook secrets, roles and one's own second factor need the password again after REAUTH_WINDOW.
SESSION_COOKIE_AGE = env.int("SESSION_HOURS", default=10) * 3600
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_MINUTES", default=30) * 60
REAUTH_WINDOW = env.int("REAUTH_MINUTES", default=15) * 60

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
# The test client builds the middleware anew for every Client, and WhiteNoise would index every static
# file (about 700) each time: a third of the route matrix's CPU. Tests look a file up when it is asked for.
WHITENOISE_AUTOREFRESH = DEBUG or DJANGO_ENV == "test"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".var" / "media")

# Outgoing mail (docs/messaging.md): SMTP in production; in development each message is kept as a file
# under .var/mail (make run), where the console backend wrote it into the worker's log as a warning.
_MAIL_BACKENDS = {
    "production": "django.core.mail.backends.smtp.EmailBackend",
    "development": "django.core.mail.backends.filebased.EmailBackend",
    "test": "django.core.mail.backends.locmem.EmailBackend",
}
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_MAIL_BACKENDS[DJANGO_ENV])
EMAIL_FILE_PATH = env.str(
    "EMAIL_FILE_PATH", default=str(Path(env.str("CRM_VAR_DIR", default=str(BASE_DIR / ".var"))) / "mail")
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS (STARTTLS, port 587) and EMAIL_USE_SSL (port 465) exclude each other")
# Seconds a mail server may take to answer; Django's default waits for ever and would hold a worker.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm@localhost")
# Quote PDFs (docs/quotes.md): a folder of logos named <dealer number>.png|.jpg|.svg; empty: static/quotes/logos.
QUOTE_LOGO_DIR = env.str("QUOTE_LOGO_DIR", default="")
# E-mail from the CRM (docs/messaging.md): replies come back to <dealer number>@ / reply+<token>@ this domain.
# In development (`make run` starts the intake, docs/messaging.md) replies go to a local demo domain.
CRM_INBOUND_MAIL_DOMAIN = env.str(
    "CRM_INBOUND_MAIL_DOMAIN", default="antwort.crm.localhost" if DJANGO_ENV == "development" else ""
)
CRM_MAIL_INTAKE_HOST = env.str("CRM_MAIL_INTAKE_HOST", default="127.0.0.1")
CRM_MAIL_INTAKE_PORT = env.int("CRM_MAIL_INTAKE_PORT", default=2525)
# Scheme and host of links in e-mails (escalations, notifications, withdrawal links); in production by default
# the first host name over HTTPS, as the node serves it.
CRM_PUBLIC_BASE_URL = env.str(
    "CRM_PUBLIC_BASE_URL", default=f"https://{ALLOWED_HOSTS[0].lstrip('.')}/" if PRODUCTION else ""
)

# Reminders and notifications (docs/notifications.md, "Settings").
NOTIFICATIONS_POLL_SECONDS = env.float("NOTIFICATIONS_POLL_SECONDS", default=20)
NOTIFICATIONS_TASK_DUE_MINUTES = env.int("NOTIFICATIONS_TASK_DUE_MINUTES", default=60)
NOTIFICATIONS_SLA_WARNING_MINUTES = env.int("NOTIFICATIONS_SLA_WARNING_MINUTES", default=30)
NOTIFICATIONS_DIGEST_HOUR = env.int("NOTIFICATIONS_DIGEST_HOUR", default=7)
NOTIFICATIONS_KEEP_DAYS = env.int("NOTIFICATIONS_KEEP_DAYS", default=90)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4) on every response: the UI loads nothing from other origins
# and runs no inline code; scripts, styles, fonts and images come from our own static files. SVG data
# URIs are for Swagger UI's icons at /api/docs/. docs/security.md says why there is no nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The cluster manager and Prometheus talk to the node itself over plain HTTP: /ha/* is answered
    # before SecurityMiddleware (ProbeShortcutMiddleware), /metrics is exempt here (regexes on the path
    # without its leading slash). Both need a token in production (see HA_TOKEN, METRICS_TOKEN).
    SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^ha/"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if not SECURE_HSTS_PRELOAD:  # the operator chose not to be preloaded: check --deploy need not say so
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")


def _redis_url_of_parallel_test_worker(url: str) -> str:
    """Under pytest-xdist, worker ``gwK`` uses Redis db ``15 - K`` of the same server, whatever db ``url`` names.

    Tests flush their Redis db, and a Celery worker one test starts must not take another pytest
    worker's tasks. The highest dbs are the tests' (devstack's ``exec --test`` uses 15); the low ones
    stay free for ``make run`` and for serial runs of other checkouts. The URL is exported once, so the
    servers a test starts inherit it, while a URL a test hands a subprocess (a private Redis) is kept.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if DJANGO_ENV != "test" or not worker or os.environ.get("CRM_TEST_REDIS_WORKER") == worker:
        return url
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"parallel tests need a TCP Redis URL (redis://host:port/db), not {parts.scheme}://")
    db = 15 - int(worker.removeprefix("gw"))
    if db < 9:
        raise ImproperlyConfigured(f"at most 7 pytest-xdist workers share a Redis server, not {worker}")
    url = urlunsplit(parts._replace(path=f"/{db}"))
    os.environ["REDIS_URL"] = url
    os.environ["CRM_TEST_REDIS_WORKER"] = worker
    return url


REDIS_URL = _redis_url_of_parallel_test_worker(REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="crm"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# Celery: Redis may lose or repeat a message; PostgreSQL holds all pending work (docs/sync.md).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Longer than any task may run, so a late-acked task is not redelivered while still running.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False


def _beat_schedule() -> dict[str, dict[str, object]]:
    from crm.notifications.schedule import BEAT_SCHEDULE as notifications
    from crm.schedule import BEAT_SCHEDULE as crm
    from dealers.schedule import BEAT_SCHEDULE as dealers
    from ha.schedule import BEAT_SCHEDULE as ha
    from sync.inbound.schedule import BEAT_SCHEDULE as inbound
    from sync.outbound.schedule import BEAT_SCHEDULE as outbound

    return {**crm, **dealers, **ha, **inbound, **outbound, **notifications}


CELERY_BEAT_SCHEDULE = _beat_schedule()
# Periodic jobs fire only on the node holding the scheduler lease (docs/high-availability.md).
CELERY_BEAT_SCHEDULER = "ha.beat:LeasedScheduler"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # API keys per dealership (dealers.authentication); errors as problem+json (crm.api.errors).
    "DEFAULT_AUTHENTICATION_CLASSES": ["dealers.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "crm.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Per API key; "<requests>/<second|minute|hour>". Larger request bodies get 413.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/minute")
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Dealer CRM API",
    "DESCRIPTION": "REST API for dealer management systems and the manufacturer's lead channels.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # What the served schema needs; global so that check --deploy (drf_spectacular.W001) judges it.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_response_headers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProspectKindEnum": "crm.models.Prospect.Kind",
        "ActivityKindEnum": "crm.models.Activity.Kind",
        "LeadSourceEnum": "crm.models.Lead.Source",
        "ProspectOriginEnum": "crm.models.Prospect.Origin",
        "ConsentStatusEnum": "crm.models.Consent.Status",
        "ActivityDirectionEnum": "crm.models.Activity.Direction",
        "ActivityOutcomeEnum": "crm.models.Activity.Outcome",
        "VehicleConditionEnum": "crm.models.Lead.Condition",
        # The prospect's preferred channel and the lead's contact channel share one choice set;
        # the name predates the lead's field.
        "PreferredChannelEnum": "crm.models.Prospect.Channel",
    },
}

LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "keyvalue")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "crm.logging.JsonFormatter"},
        "keyvalue": {"()": "crm.logging.KeyValueFormatter"},
    },
    # Per-task heartbeat lines (Celery's received/succeeded, beat's sending) are dropped unless LOG_TASK_EVENTS=1.
    "filters": {"heartbeats": {"()": "crm.logging.DropHeartbeats"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": [] if env.bool("LOG_TASK_EVENTS", default=False) else ["heartbeats"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # One line per webhook delivery would drown the relay's own events.
        "httpx": {"level": "WARNING"},
    },
}

# Operator endpoints: the details of /ha/health and /metrics. A caller needs the bearer token, or a peer
# address (REMOTE_ADDR, never X-Forwarded-For) in the allowed networks. Production trusts no network
# unless the operator lists one (behind a proxy on the same host everyone is loopback); development and
# test trust loopback. Production refuses to start without both tokens.
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]
MIN_TOKEN_LENGTH = 32


def _operator_token(name: str) -> str:
    token = env.str(name, default="")
    if PRODUCTION and len(token) < MIN_TOKEN_LENGTH:
        raise ImproperlyConfigured(f"{name} must be a random value of at least {MIN_TOKEN_LENGTH} characters")
    return token


def _networks(name: str) -> list[str]:
    networks = env.list(name, default=[] if PRODUCTION else LOOPBACK_NETWORKS)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {network!r} is not an IP network") from None
    return networks


# The key of the erasure tombstones' hashes (docs/data-protection.md). Without it they are keyed by SECRET_KEY,
# and rotating that key would let every erased person back in unflagged: production requires it.
ERASURE_TOMBSTONE_KEY = _operator_token("ERASURE_TOMBSTONE_KEY")

# Health and drain (ha app). The token unlocks the details of /ha/health.
HA_TOKEN = _operator_token("HA_TOKEN")
HA_ALLOWED_NETWORKS = _networks("HA_ALLOWED_NETWORKS")
HA_STATE_DIR = env.path("HA_STATE_DIR", default=BASE_DIR / ".var" / "ha")
# After `ha drain`, writes are still served this long while the load balancer notices /ha/ready's 503
# (HAProxy: inter x fall); then they get 503. None in tests, where a drained node must refuse at once.
HA_DRAIN_GRACE_SECONDS = env.float("HA_DRAIN_GRACE_SECONDS", default=0.0 if DJANGO_ENV == "test" else 5.0)
# Whole-transaction retry on connection errors and SQLSTATE 25006 (ha/retry.py): seconds to keep trying
# before the 503 (short in tests, where a read-only database is a fixture), first and longest pause.
HA_RETRY_SECONDS = env.float("HA_RETRY_SECONDS", default=1.0 if DJANGO_ENV == "test" else 15.0)
HA_RETRY_FIRST_PAUSE = env.float("HA_RETRY_FIRST_PAUSE", default=0.1)
HA_RETRY_MAX_PAUSE = env.float("HA_RETRY_MAX_PAUSE", default=2.0)
# The connection pool's own reconnect pauses (ha.apps): first pause and growth factor. psycopg_pool waits
# 1, 2, 4, 8 s between attempts, so a 5 s switchover kept the pool empty until 7 s after the outage began.
HA_POOL_RECONNECT_FIRST_PAUSE = env.float("HA_POOL_RECONNECT_FIRST_PAUSE", default=0.25)
HA_POOL_RECONNECT_BACKOFF = env.float("HA_POOL_RECONNECT_BACKOFF", default=1.25)
# This node's liveness URL for `ha probe`; empty: from the address gunicorn was started on (ha/probe.py).
HA_LOCAL_URL = env.str("HA_LOCAL_URL", default="")
# Checks other apps add to /ha/health (dotted paths; each returns {"name": [check, ...]}).
HA_HEALTH_CHECKS: list[str] = ["sync.outbound.operator_alerts.outbox_checks"]
# Cluster view and operator alerts (docs/high-availability.md, "Cluster view and alerts").
HA_NODE_NAME = env.str("HA_NODE_NAME", default="")  # empty: the host name
# Seconds between heartbeats of each web, worker and scheduler process; 0 turns them off (the test default).
HA_NODE_HEARTBEAT_SECONDS = env.float("HA_NODE_HEARTBEAT_SECONDS", default=0 if DJANGO_ENV == "test" else 10)
HA_NODE_MISSING_SECONDS = env.float("HA_NODE_MISSING_SECONDS", default=60)
HA_HEARTBEAT_DATABASE_URL = env.str("HA_HEARTBEAT_DATABASE_URL", default="")  # empty: the default database
HA_ALERT_EMAILS = env.list("HA_ALERT_EMAILS", default=[])
HA_ALERT_WEBHOOK_URL = env.str("HA_ALERT_WEBHOOK_URL", default="")
HA_ALERT_WEBHOOK_SECRET = env.str("HA_ALERT_WEBHOOK_SECRET", default="")
HA_ALERT_CHANNELS = ["ha.alerts.EmailChannel", "sync.outbound.operator_alerts.WebhookChannel"]
HA_ALERT_CHECKS = [
    "sync.outbound.operator_alerts.dead_letter_signal",
    "sync.outbound.operator_alerts.sla_breach_signal",
]

# Lead exchange (sync). The other knobs and their defaults are listed in docs/sync.md.
SYNC_EXCHANGE_DIR = env.path("SYNC_EXCHANGE_DIR", default=BASE_DIR / ".var" / "exchange")
# /metrics answers callers with this bearer token, or from METRICS_ALLOWED_NETWORKS.
METRICS_TOKEN = _operator_token("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = _networks("METRICS_ALLOWED_NETWORKS")
# Webhook URLs (sync/outbound/url_guard.py): https to public addresses on these ports; http only outside
# production. ALLOWED_TARGETS is the operator's exception (host:port, address or network): none in
# production, the simulator under `make run`, loopback in tests (whose resolver never asks DNS).
SYNC_WEBHOOK_ALLOW_HTTP = not PRODUCTION and env.bool("SYNC_WEBHOOK_ALLOW_HTTP", default=True)
SYNC_WEBHOOK_PORTS = env.list("SYNC_WEBHOOK_PORTS", cast=int, default=[443, 8443])
SYNC_WEBHOOK_ALLOWED_TARGETS = env.list(
    "SYNC_WEBHOOK_ALLOWED_TARGETS",
    default={"production": [], "development": ["127.0.0.1:8700"], "test": ["127.0.0.0/8", "::1"]}[DJANGO_ENV],
)
SYNC_WEBHOOK_RESOLVER = env.str(
    "SYNC_WEBHOOK_RESOLVER",
    default="sync.outbound.url_guard.loopback_resolver" if DJANGO_ENV == "test" else "",
)
# CA certificates for webhook TLS instead of the default trust store (e.g. a private CA of an allowed target).
SYNC_WEBHOOK_CA_BUNDLE = env.str("SYNC_WEBHOOK_CA_BUNDLE", default="")
# Thresholds of sync's /ha/health checks and operator alerts (docs/high-availability.md).
SYNC_HEALTH_BACKLOG_WARN = env.int("SYNC_HEALTH_BACKLOG_WARN", default=10_000)
SYNC_HEALTH_BACKLOG_FAIL = env.int("SYNC_HEALTH_BACKLOG_FAIL", default=100_000)
SYNC_HEALTH_OLDEST_WARN_SECONDS = env.int("SYNC_HEALTH_OLDEST_WARN_SECONDS", default=900)
SYNC_HEALTH_OLDEST_FAIL_SECONDS = env.int("SYNC_HEALTH_OLDEST_FAIL_SECONDS", default=3600)
SYNC_ALERT_DEAD_LETTERS = env.int("SYNC_ALERT_DEAD_LETTERS", default=50)
SYNC_ALERT_SLA_BREACHES = env.int("SYNC_ALERT_SLA_BREACHES", default=100)
