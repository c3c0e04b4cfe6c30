"""Settings for the console: one file, every knob read from the environment.

The defaults let `python manage.py runserver` work from a checkout on SQLite with a local
Redis; production sets DEBUG=0, SECRET_KEY and DATABASE_URL.
"""

import ipaddress
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

PLACEHOLDER_SECRET = "dev-only-not-secret"


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", PLACEHOLDER_SECRET)
if not DEBUG and SECRET_KEY == PLACEHOLDER_SECRET:
    raise ImproperlyConfigured("Set SECRET_KEY: DEBUG is off and the secret key is the development placeholder.")

# The audit log's hash chain is keyed (HMAC-SHA256) with secrets the database does not hold, so whoever
# can write to the database still cannot forge an event. AUDIT_HMAC_KEY, or the file AUDIT_HMAC_KEY_FILE
# names, lists ID:SECRET entries separated by spaces or lines, oldest first: new events use the last,
# the older ones stay to verify the events they signed. Each event records the id of its key.
PLACEHOLDER_AUDIT_KEY = "dev:dev-only-audit-key-not-secret-do-not-deploy"


def audit_keys(text: str, source: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for entry in text.split():
        key_id, colon, secret = entry.partition(":")
        # The message never quotes an entry: it holds a secret.
        if not colon or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", key_id) or len(secret) < 32:
            raise ImproperlyConfigured(
                f"{source}: entry {len(keys) + 1} is not ID:SECRET (an ID of up to 32 letters, digits, '.', '_' "
                "or '-', and a SECRET of at least 32 characters without spaces)."
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"{source}: the key id {key_id!r} is listed twice; give every key its own id.")
        keys[key_id] = secret
    if not keys:
        raise ImproperlyConfigured(f"{source} is empty: list at least one ID:SECRET entry.")
    return keys


def env_audit_keys() -> dict[str, str]:
    path = env_str("AUDIT_HMAC_KEY_FILE")
    if path and env_str("AUDIT_HMAC_KEY"):
        raise ImproperlyConfigured("Set AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE, not both.")
    if not path:
        return audit_keys(env_str("AUDIT_HMAC_KEY", PLACEHOLDER_AUDIT_KEY), "AUDIT_HMAC_KEY")
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ImproperlyConfigured(f"AUDIT_HMAC_KEY_FILE={path} cannot be read: {error.strerror}.") from None
    return audit_keys(text, f"AUDIT_HMAC_KEY_FILE={path}")


AUDIT_HMAC_KEYS = env_audit_keys()
# `make demo` serves with DEBUG off while the README's command-line examples run against its database with
# the defaults: one chain, so one key, the placeholder. Only the demo sets this; check --deploy still warns.
ALLOW_PLACEHOLDER_AUDIT_KEY = env_bool("ALLOW_PLACEHOLDER_AUDIT_KEY", False)
if (
    not DEBUG
    and not ALLOW_PLACEHOLDER_AUDIT_KEY
    and PLACEHOLDER_AUDIT_KEY.partition(":")[2] in AUDIT_HMAC_KEYS.values()
):
    raise ImproperlyConfigured(
        "Set AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE): DEBUG is off and the audit log's key is the development "
        "placeholder."
    )
# Signed checkpoints of the audit log's head go here, outside the database; in production, a directory
# the database's administrators cannot write (another machine's mount, write-once storage).
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", str(BASE_DIR / "audit-checkpoints")))
# Events removed from the end of the log since the latest checkpoint go unnoticed: keep this short.
AUDIT_CHECKPOINT_INTERVAL = env_int("AUDIT_CHECKPOINT_INTERVAL", 300)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "groups",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after security (which adds HSTS and nosniff to them too), before sessions:
    # a stylesheet needs no session or user.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "groups.middleware.ApiAuthenticationMiddleware",
    "groups.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"

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
                "groups.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "console.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the Celery worker share the file: wait for each other's writes and take
    # the write lock up front, instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file (not memory) so a worker process in end-to-end tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_FILE", str(BASE_DIR / "test_db.sqlite3"))}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Every view needs a signed-in user (groups.middleware); these are where signing in and out lead.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cluster_list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` gathers the files here; whitenoise serves them from it with DEBUG off.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names served with a year's cache, so a deploy never leaves a browser on old scripts.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# In development (and tests, which load these settings with DEBUG on) whitenoise serves the apps' files as
# they are, with no collectstatic; in production only what collectstatic gathered, indexed once at start.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# With DEBUG off the console assumes https (behind a proxy or not): secure cookies, a redirect to https,
# HSTS. The demo, on plain http at 127.0.0.1, turns these off by name (localkafka/demo_stack.py).
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# Pages send the CSRF token from the template (hx-headers on <body>), so no script needs the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A working day; a console that can move offsets should not stay signed in for weeks.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# A stale form answers in the console's own words and layout, not Django's developer page.
CSRF_FAILURE_VIEW = "groups.views.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER_NAME=HTTP_X_FORWARDED_PROTO so Django
# knows the request was https (the proxy must set that header and drop any the client sent); without
# it every request looks like http and the https redirect below loops (docs/deploy.md).
if env_str("SECURE_PROXY_SSL_HEADER_NAME"):
    SECURE_PROXY_SSL_HEADER = (env_str("SECURE_PROXY_SSL_HEADER_NAME"), "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe these over plain http, straight to a web process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# A year, once the site answers over https only; browsers honour it only from an https answer.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# The directive only consents to the browsers' preload list; nothing happens until someone submits the host.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)

# Clusters registered at start-up (`python manage.py sync_clusters` and the demo):
# CONSOLE_CLUSTERS="prod=broker1:9092,broker2:9092;staging=10.0.0.5:9092"
CONSOLE_CLUSTERS = env_str("CONSOLE_CLUSTERS")

# Seconds one admin request to Kafka may take before the page says the cluster is unreachable.
KAFKA_REQUEST_TIMEOUT = float(env_int("KAFKA_REQUEST_TIMEOUT_MS", 10_000)) / 1000

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660)
# Redelivery of an unacknowledged task must come after the hard limit, never during a live run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "reap-stale-operations": {"task": "groups.tasks.reap_stale_operations", "schedule": 60.0},
    # A request expires at its time even between sweeps: approving re-checks the time itself.
    "expire-approval-requests": {"task": "groups.tasks.expire_approval_requests", "schedule": 60.0},
    # Cheap when there is nothing to do; an hour's packing runs once, after the hour ends. A run that
    # waited longer than its period is dropped: the next one does the same work.
    "roll-up-history": {
        "task": "groups.tasks.roll_up_history",
        "schedule": 60.0,
        "options": {"queue": "collection", "expires": 60},
    },
    "write-audit-checkpoint": {
        "task": "groups.tasks.write_audit_checkpoint",
        "schedule": float(AUDIT_CHECKPOINT_INTERVAL),
    },
    # Picks up alert notifications whose task was lost or could not be queued.
    "send-due-alert-deliveries": {"task": "groups.tasks.send_due_alert_deliveries", "schedule": 60.0},
    "prune-alert-episodes": {"task": "groups.tasks.prune_alert_episodes", "schedule": 3600.0},
}
# Two kinds of work, two pools (README, section Worker pools): operations and their upkeep (reaper,
# approval expiry, audit checkpoints) on the default queue `operations`; the lag collector and alert
# notifications on `collection` and `notifications`, so neither a slow scan nor a slow webhook ever
# delays a reset. One worker may consume all three (`-Q operations,collection,notifications`). The
# collector runs one round per cluster every Cluster.collect_every_seconds; beat re-reads the
# clusters for their entries (groups.snapshot.beat).
CELERY_TASK_DEFAULT_QUEUE = "operations"
CELERY_TASK_ROUTES = {
    "groups.tasks.deliver_alert": {"queue": "notifications"},
    "groups.tasks.send_due_alert_deliveries": {"queue": "notifications"},
    "groups.tasks.prune_alert_episodes": {"queue": "notifications"},
    "groups.tasks.collect_cluster": {"queue": "collection"},
}
CELERY_BEAT_SCHEDULER = "groups.snapshot.beat:ClusterScheduler"
# Per process: the group list keeps each row's sparkline for the snapshot it was drawn from
# (groups.views.history); 5,000 of about 2.6 kB each.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 5000}}}
# Observations of each group-partition kept for its status (Burrow's window).
COLLECT_WINDOW_ROUNDS = env_int("COLLECT_WINDOW_ROUNDS", 10)
# A killed round holds its cluster's lock this long at most; a live one renews it.
COLLECT_LOCK_SECONDS = env_int("COLLECT_LOCK_SECONDS", 30)
# A partition whose unread records retention will delete sooner than this is flagged.
RETENTION_WARNING_SECONDS = env_int("RETENTION_WARNING_SECONDS", 3600)

# A running operation whose worker has been silent this long is marked failed; it must exceed the
# hard time limit so a live but slow worker is never reaped.
OPERATION_STALE_AFTER = env_int("OPERATION_STALE_AFTER", CELERY_TASK_TIME_LIMIT + 60)

# Alerts (README, section Alerts).
# The console's address as notifications link to it.
CONSOLE_URL = env_str("CONSOLE_URL", "http://127.0.0.1:8000")
# A reset, undo, deletion or replay mutes the alert rules of the groups it moved for this long after it.
ALERT_MUTE_MINUTES = env_int("ALERT_MUTE_MINUTES", 15)
# Hysteresis: a firing alert clears only below its threshold less this share of it (retention margin:
# above it plus this share), and only once every condition has stayed clear for ALERT_CLEAR_SECONDS.
ALERT_HYSTERESIS_PERCENT = env_int("ALERT_HYSTERESIS_PERCENT", 10)
ALERT_CLEAR_SECONDS = env_int("ALERT_CLEAR_SECONDS", 120)
# A failed notification is tried again after the base, then twice as long each time, this many times in all.
ALERT_RETRY_BASE_SECONDS = env_int("ALERT_RETRY_BASE_SECONDS", 30)
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", 6)
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", 10)
# Alerts that ended (resolved, or held back by a mute until they cleared) are listed this many days, then
# pruned with their notifications (beat, each hour).
ALERT_EPISODE_RETENTION_DAYS = env_int("ALERT_EPISODE_RETENTION_DAYS", 30)
if ALERT_EPISODE_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("ALERT_EPISODE_RETENTION_DAYS must be at least 1.")

# /metrics (README, section Prometheus metrics) answers a scrape that sends this token as
# 'Authorization: Bearer <token>', or one from these addresses or networks (comma-separated, e.g.
# 10.0.0.0/8,127.0.0.1); with neither set it answers none.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is shorter than 16 characters: use a random one, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'."
    )
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: '{_entry}' is neither an IP address nor a network such as "
            "10.0.0.0/8 or 2001:db8::/32."
        ) from None

# Email notifications use Django's SMTP settings.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "kafka-console@localhost")

# Lag and offset history (groups.snapshot.history): every round kept this many hours, then only
# 5-minute roll-ups (smallest, largest, last), kept this many days.
HISTORY_FULL_RETENTION_HOURS = env_int("HISTORY_FULL_RETENTION_HOURS", 24)
HISTORY_ROLLUP_RETENTION_DAYS = env_int("HISTORY_ROLLUP_RETENTION_DAYS", 30)
if HISTORY_FULL_RETENTION_HOURS < 1 or HISTORY_ROLLUP_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("HISTORY_FULL_RETENTION_HOURS and HISTORY_ROLLUP_RETENTION_DAYS must be at least 1.")

# LOG_FORMAT=json writes one JSON object a line (for a log shipper); every line a worker writes while it
# runs an operation carries its `operation_id` (groups.logs).
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"operation": {"()": "groups.logs.OperationFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s%(operation_label)s: %(message)s"},
        "json": {"()": "groups.logs.json_formatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["operation"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # kafka-python (the collector's committed-offsets reader) logs a line per group at INFO, and warns
    # each time it parses a large answer (10,000 groups' offsets) on its network thread.
    "loggers": {
        "kafka": {"level": env_str("KAFKA_PYTHON_LOG_LEVEL", "WARNING")},
        "kafka.net.selector": {"level": "ERROR"},
    },
}
