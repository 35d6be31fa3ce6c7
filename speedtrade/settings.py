"""SpeedTrade settings: one file, driven by environment variables.

Two runtime modes follow from what is configured:

* embedded default (no DATABASE_URL / REDIS_URL): SQLite file, in-memory channel
  layer, Celery tasks executed in process — what `make run` uses;
* services (DATABASE_URL and REDIS_URL set): PostgreSQL, channels-redis, a Celery
  worker and beat — what tests, docker-compose and production use.

SPEEDTRADE_ENV (development | test | production) then decides debugging, secrets and transport security.

Why one long module: every setting is read from the environment with its default and the reason for it
next to it, and a reader finds any setting by searching one file. It is grouped by concern in the order
Django needs them — environment, apps and middleware, database, cache/channels/Celery, auth, email, API,
then one section per app, the periodic tasks, static files and storage, security, metrics, logging.
Each structure (MIDDLEWARE, REST_FRAMEWORK, DATABASES, FEED_TICK_HANDLERS, CELERY_BEAT_SCHEDULE, STORAGES…)
is built once, in full, in its section: nothing further down rewrites it
(speedtrade/tests/test_settings_built_once.py).
"""

import importlib.util
import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _decimal(name: str, default: str) -> Decimal:
    """A money, price or percentage setting: a finite Decimal, parsed here once (never a float)."""
    raw = env.str(name, default=default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise environ.ImproperlyConfigured(f"{name} must be a decimal number, not {raw!r}.")
    return value


# Fail closed: a process that says neither which environment it is nor whether to debug does not start
# (`make run`, `make test`, the Dockerfile and compose all say). DEBUG=false alone means production.
if "SPEEDTRADE_ENV" not in env and "DEBUG" not in env:
    raise environ.ImproperlyConfigured(
        "Set SPEEDTRADE_ENV (development | test | production), or DEBUG explicitly: refusing to guess."
    )
if "SPEEDTRADE_ENV" in env:
    ENVIRONMENT = env.str("SPEEDTRADE_ENV")  # development | test | production
else:
    ENVIRONMENT = "development" if env.bool("DEBUG") else "production"
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env.bool("DEBUG", default=ENVIRONMENT == "development")
_INSECURE_DEV_KEY = "django-insecure-speedtrade-development-only"
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else _INSECURE_DEV_KEY)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set in production (SPEEDTRADE_ENV=production).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SERVICES_MODE = "DATABASE_URL" in env and "REDIS_URL" in env
REDIS_URL = env.str("REDIS_URL", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    "allauth.usersessions",
    "speedtrade",
    "accounts",
    "marketdata",
    "trading",
    "portfolios",
    "notifications",
    "alerts",
    "recurring",
    "documents",
]

# The same list in every mode.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "speedtrade.middleware.ProcessTimeMiddleware",
    # X-RateLimit-* headers on every key-authenticated response (including the 429 itself).
    "accounts.api.rate_limit.ApiKeyRateLimitHeadersMiddleware",
    "speedtrade.health.HealthCheckMiddleware",  # before anything validates the Host header
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserTimeZoneMiddleware",  # pages' times in the customer's zone
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff sessions end after STAFF_IDLE_TIMEOUT_SECONDS without a request (checked just before the MFA gate),
    # and staff reach the admin only after a TOTP login (after allauth's middleware).
    "accounts.middleware.StaffIdleTimeoutMiddleware",
    "accounts.middleware.StaffAdminMFAMiddleware",
    # allauth's UserSessionsMiddleware, writing a session's activity at most every
    # USERSESSIONS_TRACK_ACTIVITY_SECONDS (speedtrade/middleware.py).
    "speedtrade.middleware.ThrottledUserSessionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "speedtrade.urls"
ASGI_APPLICATION = "speedtrade.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
# Under ASGI each request's synchronous part runs on a thread of its own and Django's connections
# are per thread: persistent connections (CONN_MAX_AGE) pile up with concurrency until PostgreSQL
# refuses clients (the order-entry benchmark hit max_connections and answered 500s). A bounded
# psycopg pool per process instead: a request borrows a connection and returns it when it ends.
# DB_POOL_MAX_SIZE=0 turns the pool off for persistent connections (DB_CONN_MAX_AGE).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=8)
# Behind PgBouncer in transaction mode (docs/notes/scaling.md) consecutive transactions of one client may run
# on different server connections: nothing may outlive a transaction on the server. Django's psycopg backend
# binds parameters client-side (server_side_binding stays off) and psycopg must not prepare statements itself
# (prepare_threshold None); server-side cursors (.iterator()) become plain ones; session advisory locks and
# migrations use DATABASE_DIRECT_URL. The per-process pool stays: it bounds what one process asks of PgBouncer.
DB_TRANSACTION_POOLER = env.bool("DB_TRANSACTION_POOLER", default=False)


def _database(url: dict) -> dict:
    """The default database: what DATABASE_URL says, and how this process holds its connections."""
    options = dict(url.get("OPTIONS", {}))
    if url["ENGINE"] != "django.db.backends.postgresql":
        # SQLite serialises writers; wait for the lock instead of failing at once. IMMEDIATE: a
        # transaction takes the write lock when it starts, so one that read first cannot fail with
        # "database is locked" when it then writes while the in-process feed is writing bars
        # (SQLite does not wait in that upgrade). WAL: page reads do not wait for the feed's writes.
        sqlite = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        return {**url, "OPTIONS": options | sqlite}
    if DB_POOL_MAX_SIZE > 0:  # the pool above: no connection is kept past its request
        connections = {"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False}
        options["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_MAX_SIZE,
            # Well under a client's patience (10 s for the bench and most HTTP clients): a request that cannot
            # have a connection soon is better refused (503 `overloaded`, before its first statement) than done
            # after its client gave up. Requests rarely wait here at all: the edge admits no more than
            # ADMISSION_MAX_IN_FLIGHT at a time (speedtrade/admission.py).
            "timeout": env.float("DB_POOL_TIMEOUT_SECONDS", default=2.0),
        }
    else:
        # Persistent connections: a new PostgreSQL backend per request costs more than most of our queries.
        connections = {"CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60), "CONN_HEALTH_CHECKS": True}
    if DB_TRANSACTION_POOLER:
        connections["DISABLE_SERVER_SIDE_CURSORS"] = True
        options |= {"prepare_threshold": None, "server_side_binding": False}
    return {**url, **connections, "OPTIONS": options}


DATABASES = {"default": _database(env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# PostgreSQL itself when DATABASE_URL goes through PgBouncer: session-level advisory locks (the
# singletons' leadership, speedtrade/singleton.py) and migrations need a real session. Empty: DATABASE_URL.
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default="")
# How often a standby singleton (beat, feed, broker streams) tries the lock, and the active one checks it.
SINGLETON_POLL_SECONDS = env.float("SINGLETON_POLL_SECONDS", default=1.0)


# --- Cache, channels, Celery -----------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions written through to the database, read from Redis: every JWT-authenticated API call
    # checks its session (logout revokes), and a Redis GET is cheaper than a query. Only with a
    # shared cache: a per-process cache would keep a logged-out session alive in other processes.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer whose receive ends for sure when cancelled (speedtrade/channel_layer.py).
            "BACKEND": "speedtrade.channel_layer.CancellableRedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same as channels_redis's
                # 5 s BZPOPMIN: an idle socket's receive then raised TimeoutError and killed its
                # consumer after ~5 s without messages. Reads must outlast the blocking pop.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="speedtrade"),
                # A server process's sockets and quote hub share one channel (`specific.<process>!…`): channels-redis's
                # 100 per channel dropped fills there whenever a busy server fell a second behind.
                "channel_capacity": {"specific.*": 2000},
                # A killed process's channels stay in their groups (and every group send writes to them) until they
                # expire; live processes join theirs again every third of this (speedtrade/channel_layer.py).
                "group_expiry": env.int("CHANNEL_LAYER_GROUP_EXPIRY_SECONDS", default=60),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The task broker. Services deployments use RabbitMQ (amqp://…: durable queues, persistent messages,
# acks that survive a broker restart); Redis stays the fallback for simple setups and keeps the cache,
# sessions and the channel layer either way. Money never depends on a message alone: every task that
# moves money has a beat sweep that finds work left in a non-final state (docs/notes/scaling.md).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
if CELERY_BROKER_IS_REDIS:
    # Redis has no acks: a message taken by a worker that dies comes back only after the visibility
    # timeout (kombu's default: one hour). Ours are idempotent, so a short timeout costs at most a
    # duplicate run of a task still running (or waiting for its countdown) past it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_REDIS_VISIBILITY_TIMEOUT_SECONDS", default=30),
        # How often a worker looks for such messages: every interval × throttle seconds (kombu: 10 × 10).
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        # A publish to a Redis that vanished without closing the socket fails instead of hanging.
        "socket_timeout": 10,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A late-acked task cannot be acked on a connection that is gone; the broker redelivers it, so the
# worker stops it instead of finishing a run whose message will run again anyway.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every connection before and after each task, and in a prefork worker the whole
# psycopg pool with it: two new PostgreSQL sessions per task (a fill's notification cost the worker and the
# database more than the fill). With this it does so once in this many tasks; in between each task hands its
# connection back to the pool (speedtrade/celery.py), as a request does.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# django-celery-beat's database scheduler, writing a heartbeat per tick (`manage.py healthcheck beat`).
CELERY_BEAT_SCHEDULER = "speedtrade.beat:HeartbeatScheduler"
# The embedded default has no beat: the web server runs CELERY_BEAT_SCHEDULE itself (speedtrade/periodic.py).
# Services mode runs `celery beat` instead, so this stays off there and no periodic job runs twice.
PERIODIC_TASKS_IN_PROCESS = env.bool("PERIODIC_TASKS_IN_PROCESS", default=not SERVICES_MODE)

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# Ending a session from the sessions page closes its sockets and cached tokens as a logout does.
USERSESSIONS_ADAPTER = "accounts.adapters.UserSessionsAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
# Security notices by email: password changed/reset/set, email changes, MFA activated/removed (adapter: after commit).
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "SpeedTrade"
USERSESSIONS_TRACK_ACTIVITY = True

# Client IPs (audit events, KYC signatures, allauth's per-IP login limits) are REMOTE_ADDR, which uvicorn
# takes from X-Forwarded-For only when the request comes from one of TRUSTED_PROXY_IPS (`manage.py serve`
# passes them as forwarded_allow_ips; compose: nginx's fixed address). allauth must not read the header
# itself: a client can write anything into it.
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=["127.0.0.1", "::1"])
ALLAUTH_TRUSTED_PROXY_COUNT = 0
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None

HEADLESS_CLIENTS = ("app",)
HEADLESS_ONLY = False
HEADLESS_TOKEN_STRATEGY = "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy"
# HS256 signs with SECRET_KEY; set an RSA key (PEM) to let other services verify tokens.
HEADLESS_JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", default="")
HEADLESS_JWT_ALGORITHM = "RS256" if HEADLESS_JWT_PRIVATE_KEY else "HS256"
HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = int(timedelta(minutes=30).total_seconds())
HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN = int(timedelta(days=7).total_seconds())
# Stateful validation ties each access token to its session, so logging out revokes it.
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
HEADLESS_SERVE_SPECIFICATION = True

# EMAIL_URL names the mail server or provider in one variable (smtp://, smtp+tls://user:password@host:587,
# smtp+ssl://…; django-environ's schemes); without it EMAIL_BACKEND and EMAIL_HOST, … (the console in development).
_EMAIL = env.email_url("EMAIL_URL") if env.str("EMAIL_URL", default="") else {}
# Or an email service's HTTP API through django-anymail: EMAIL_PROVIDER is the name of one of anymail's backends
# (sendgrid, mailgun, postmark, amazon_ses, brevo, …) and wins over EMAIL_URL/EMAIL_BACKEND. Its settings come
# from ANYMAIL_<SETTING> variables with anymail's names (ANYMAIL_MAILGUN_API_KEY, ANYMAIL_SENDGRID_API_URL, …);
# SendGrid's key may also be SENDGRID_API_KEY.
EMAIL_PROVIDER = env.str("EMAIL_PROVIDER", default="")
if EMAIL_PROVIDER and importlib.util.find_spec(f"anymail.backends.{EMAIL_PROVIDER}") is None:
    raise environ.ImproperlyConfigured(
        f"EMAIL_PROVIDER {EMAIL_PROVIDER!r} is not a django-anymail backend (sendgrid, mailgun, postmark, …)."
    )
EMAIL_BACKEND = (
    f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
    if EMAIL_PROVIDER
    else _EMAIL.get("EMAIL_BACKEND")
    or env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
)
EMAIL_HOST = _EMAIL.get("EMAIL_HOST") or env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _EMAIL.get("EMAIL_PORT") or env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER") or env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD") or env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS") or env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL") or env.bool("EMAIL_USE_SSL", default=False)
# A hung provider fails the attempt, which is retried (notifications.tasks). EMAIL_TIMEOUT is the older name.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=env.int("EMAIL_TIMEOUT", default=10))
ANYMAIL = {
    **({"SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default="")} if EMAIL_PROVIDER == "sendgrid" else {}),
    **{name.removeprefix("ANYMAIL_"): value for name, value in env.ENVIRON.items() if name.startswith("ANYMAIL_")},
}
if EMAIL_PROVIDER == "sendgrid" and not ANYMAIL["SENDGRID_API_KEY"]:
    raise environ.ImproperlyConfigured("EMAIL_PROVIDER=sendgrid needs SENDGRID_API_KEY (a SendGrid API key).")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SpeedTrade <no-reply@speedtrade.local>")

# --- API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header turns "not authenticated" into 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # allauth's JWTTokenAuthentication, checking a token's session at most every
        # USERSESSIONS_TRACK_ACTIVITY_SECONDS (speedtrade/api/authentication.py).
        "speedtrade.api.authentication.ThrottledJWTTokenAuthentication",
        "accounts.api.authentication.AlpacaKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api.permissions.ApiKeyScopePermission",
    ],
    "DEFAULT_PAGINATION_CLASS": "speedtrade.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's rates and keys, counted in fixed windows: one round trip at any rate (speedtrade/api/throttling.py).
        "speedtrade.api.throttling.AnonRateFixedWindowThrottle",
        "speedtrade.api.throttling.UserRateFixedWindowThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
    },
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "speedtrade.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SpeedTrade API",
    "DESCRIPTION": "Brokerage API for stocks and crypto. Field names follow Alpaca's Trading API; "
    "money and quantities are decimal strings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Several models have a `kind`: the documents' one is named for what it is.
    "ENUM_NAME_OVERRIDES": {"DocumentKindEnum": "documents.models.DocumentKind"},
}

# --- marketdata -----------------------------------------------------------------
# A quote older than this is served with `stale: true` (still used as the last price).
QUOTE_STALE_AFTER_SECONDS = env.int("QUOTE_STALE_AFTER_SECONDS", default=60)
# Which provider `run_feed` (and the in-process feed) reads: simulated | alpaca | ccxt:<exchange id>.
FEED_PROVIDER = env.str("FEED_PROVIDER", default="simulated")
# Embedded default: the feed runs inside the web server (ASGI lifespan); services mode runs `make feed`.
FEED_IN_PROCESS = env.bool("FEED_IN_PROCESS", default=not SERVICES_MODE)
# Dotted paths of callables `handler(quotes: list[Quote])` called on every batch of ticks: any given in
# the environment, then the paper venue matching resting orders and price alerts (alerts/book.py).
FEED_TICK_HANDLERS = [
    *env.list("FEED_TICK_HANDLERS", default=[]),
    "trading.paper_fills.on_ticks",
    "alerts.book.on_ticks",
]
# Dotted paths of classes `run_feed` runs beside the feed while it leads (`instance.run(stop)`). None by default:
# the order engine runs in `run_engine`, its own process, since in the feed's it waited for the feed's GIL on
# every round trip (docs/notes/bench.md, issue 22). "trading.engine.OrderEngine" puts it back in the feed (one
# process fewer); its own lock keeps one engine per deployment wherever it runs.
FEED_COMPANIONS = env.list("FEED_COMPANIONS", default=[])
FEED_BAR_FLUSH_SECONDS = env.float("FEED_BAR_FLUSH_SECONDS", default=1.0)  # how often ticks become stored bars
FEED_GAP_WARNING_SECONDS = env.float("FEED_GAP_WARNING_SECONDS", default=30.0)
FEED_RECONNECT_MAX_SECONDS = env.float("FEED_RECONNECT_MAX_SECONDS", default=60.0)
# Test-only: US equities count as open around the clock, so a second instance acting as the venue of an
# end-to-end test (trading/tests/test_two_instances.py) fills stock orders whatever the time. Never in production.
MARKET_ALWAYS_OPEN = env.bool("MARKET_ALWAYS_OPEN", default=False)
SIMULATED_FEED_SEED = env.int("SIMULATED_FEED_SEED", default=2026)
SIMULATED_FEED_TICKS_PER_SECOND = env.float("SIMULATED_FEED_TICKS_PER_SECOND", default=100.0)
SIMULATED_FEED_BATCH_SECONDS = env.float("SIMULATED_FEED_BATCH_SECONDS", default=0.1)
QUOTES_WS_MAX_SYMBOLS = env.int("QUOTES_WS_MAX_SYMBOLS", default=200)
# Conflation window per connection. 25 ms, not 50: at 200 ticks/s (1,000 clients × 10 of 100 symbols) a 50 ms window
# superseded 2.3–2.8 % of the quotes and waited ~21 ms on average; 25 ms: 0.6 % and ~8 ms, for 20 % more frames
# (`python -m bench.fanout_parts window`, docs/notes/bench.md).
QUOTES_WS_FLUSH_SECONDS = env.float("QUOTES_WS_FLUSH_SECONDS", default=0.025)
# permessage-deflate compresses every frame for every socket on its own (a zlib stream each): most of the web
# process's CPU per quote frame in the fan-out bench, and memory per socket, for frames of a few hundred bytes. Off.
WS_PER_MESSAGE_DEFLATE = env.bool("WS_PER_MESSAGE_DEFLATE", default=False)
# Limits of every WebSocket (speedtrade/consumers.py; README "WebSocket limits"). Frames: uvicorn refuses
# larger ones too. Sockets: per user and web process. Rate: client frames per second per socket.
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=64 * 1024)
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)
WS_MAX_MESSAGES_PER_SECOND = env.int("WS_MAX_MESSAGES_PER_SECOND", default=20)
BARS_MAX_PER_REQUEST = 10_000  # also bounds a bars request's range: at most this many intervals

# --- Brokers and data providers ----------------------------------------------------
# Alpaca (alpaca-py). Keys are required for the "alpaca" feed and `sync_assets --provider alpaca`.
ALPACA_API_KEY = env.str("ALPACA_API_KEY", default="")
ALPACA_SECRET_KEY = env.str("ALPACA_SECRET_KEY", default="")
ALPACA_DATA_FEED = env.str("ALPACA_DATA_FEED", default="iex")  # iex (free) | sip (subscription)
# Optional base-URL overrides (proxies, tests); empty = alpaca-py's defaults.
ALPACA_BASE_URL = env.str("ALPACA_BASE_URL", default="")  # Trading API (assets); default paper
ALPACA_DATA_URL = env.str("ALPACA_DATA_URL", default="")  # historical market data REST API
ALPACA_DATA_STREAM_URL = env.str("ALPACA_DATA_STREAM_URL", default="")  # market data websocket host
# Alpaca as a venue (BROKER_US_EQUITY / BROKER_CRYPTO = alpaca): keys above are then required.
ALPACA_PAPER = env.bool("ALPACA_PAPER", default=True)  # Alpaca's paper trading account
ALPACA_STREAM_URL = env.str("ALPACA_STREAM_URL", default="")  # trade_updates websocket; empty = alpaca-py's
# One budget for every process using the account (Alpaca allows 200/min); a Redis token bucket.
ALPACA_REQUESTS_PER_MINUTE = env.int("ALPACA_REQUESTS_PER_MINUTE", default=190)
ALPACA_TIMEOUT_SECONDS = env.float("ALPACA_TIMEOUT_SECONDS", default=10.0)
# run_broker_streams: how often ccxt exchanges that cannot push order updates are polled for them;
# those that push (ccxt.pro watch_orders) are still polled, slowly, as a safety net (and once after each reconnect).
BROKER_STREAMS_POLL_SECONDS = env.float("BROKER_STREAMS_POLL_SECONDS", default=2.0)
BROKER_STREAMS_SAFETY_POLL_SECONDS = env.float("BROKER_STREAMS_SAFETY_POLL_SECONDS", default=60.0)
# ccxt (provider "ccxt:<exchange id>"). Public market data needs no keys; a ccxt venue needs key and secret.
CCXT_API_KEY = env.str("CCXT_API_KEY", default="")
CCXT_SECRET = env.str("CCXT_SECRET", default="")
CCXT_PASSWORD = env.str("CCXT_PASSWORD", default="")
CCXT_SANDBOX = env.bool("CCXT_SANDBOX", default=False)
# Exchange quote currencies that stand in for SpeedTrade's USD, in order of preference
# (e.g. "USD,USDT" on an exchange that lists BTC/USDT but no BTC/USD).
CCXT_USD_QUOTE_CURRENCIES = env.list("CCXT_USD_QUOTE_CURRENCIES", default=["USD"])
CCXT_STREAMING = env.bool("CCXT_STREAMING", default=True)  # watch_tickers when the exchange supports it
CCXT_POLL_SECONDS = env.float("CCXT_POLL_SECONDS", default=2.0)  # fetch_tickers interval otherwise
CCXT_API_URLS = env.json("CCXT_API_URLS", default={})  # merged into exchange.urls["api"] (proxies, tests)

# --- portfolios -------------------------------------------------------------------
# Seconds between a transfer's creation and the simulated bank rail settling it (0: at once).
TRANSFER_SETTLEMENT_DELAY_SECONDS = env.int("TRANSFER_SETTLEMENT_DELAY_SECONDS", default=0)
TRANSFER_MAX_AMOUNT = _decimal("TRANSFER_MAX_AMOUNT", default="50000.00")
EQUITY_SNAPSHOT_INTERVAL_SECONDS = env.int("EQUITY_SNAPSHOT_INTERVAL_SECONDS", default=300)
# --- live account stream (/ws/trades `account` messages; portfolios/consumers.py) ---
ACCOUNT_STREAM_MIN_INTERVAL_SECONDS = env.float("ACCOUNT_STREAM_MIN_INTERVAL_SECONDS", default=1.0)  # per socket
ACCOUNT_STREAM_REFRESH_SECONDS = env.float("ACCOUNT_STREAM_REFRESH_SECONDS", default=60.0)  # reload inputs this often
# A transfer still queued or pending this long after its settlement was due is queued again by the
# beat sweep `recover_transfers` (its settlement message was lost with a broker, or its worker died).
TRANSFER_RECOVERY_AFTER_SECONDS = env.int("TRANSFER_RECOVERY_AFTER_SECONDS", default=60)

# --- issue 20 providers: Plaid bank rail, Polygon/Massive, CoinGecko, yfinance ----------
# Polygon (Massive) market data: FEED_PROVIDER=polygon, sync_assets/backfill_bars --provider polygon.
POLYGON_API_KEY = env.str("POLYGON_API_KEY", default="")  # required for the polygon provider
# Stream cluster host: socket.massive.com (real time) or delayed.massive.com (delayed plans).
POLYGON_STREAM_HOST = env.str("POLYGON_STREAM_HOST", default="socket.massive.com")
POLYGON_STREAM_SECURE = env.bool("POLYGON_STREAM_SECURE", default=True)  # wss; false only for local test servers
POLYGON_API_URL = env.str("POLYGON_API_URL", default="")  # REST base override; empty = massive's
POLYGON_MAX_RECONNECTS = env.int("POLYGON_MAX_RECONNECTS", default=5)  # in a row, then run_feed restarts the stream
# CoinGecko reference data (sync_assets --provider coingecko). The key is optional (demo key header).
COINGECKO_API_KEY = env.str("COINGECKO_API_KEY", default="")
COINGECKO_API_URL = env.str("COINGECKO_API_URL", default="")  # empty = public (or pro with a pro key) API
COINGECKO_PRO = env.bool("COINGECKO_PRO", default=False)  # the key is a paid (pro) key
COINGECKO_MIN_INTERVAL_SECONDS = env.float("COINGECKO_MIN_INTERVAL_SECONDS", default=2.5)  # public limit ~30/min
# Bank rail (portfolios/bank_rail.py, portfolios/plaid.py).
BANK_RAIL = env.str("BANK_RAIL", default="simulated")  # simulated | plaid
if BANK_RAIL not in ("simulated", "plaid"):
    raise environ.ImproperlyConfigured(f"BANK_RAIL must be simulated or plaid, not {BANK_RAIL!r}.")
# Required when BANK_RAIL=plaid (the system check portfolios.E001 names a missing one).
PLAID_CLIENT_ID = env.str("PLAID_CLIENT_ID", default="")
PLAID_SECRET = env.str("PLAID_SECRET", default="")
PLAID_ENV = env.str("PLAID_ENV", default="sandbox")  # sandbox | production
PLAID_API_URL = env.str("PLAID_API_URL", default="")  # override of the PLAID_ENV host (proxies, tests)
PLAID_WEBHOOK_URL = env.str("PLAID_WEBHOOK_URL", default="")  # our /plaid/webhook/ as Plaid reaches it
PLAID_LINK_SCRIPT_URL = "https://cdn.plaid.com/link/v2/stable/link-initialize.js"  # must come from Plaid
# Link is Plaid's script, in Plaid's iframe, talking to Plaid: the transfers page alone allows those origins
# (portfolios.views.transfers), and only with the Plaid rail.
PLAID_LINK_CSP = (
    {
        "script-src": [PLAID_LINK_SCRIPT_URL],
        "frame-src": ["https://cdn.plaid.com/"],
        "connect-src": [f"https://{PLAID_ENV}.plaid.com/"],
    }
    if BANK_RAIL == "plaid"
    else None
)
PLAID_NAME_MATCH_THRESHOLD = _decimal("PLAID_NAME_MATCH_THRESHOLD", default="0.85")
PLAID_TRANSFER_SYNC_SECONDS = env.int("PLAID_TRANSFER_SYNC_SECONDS", default=60)
PLAID_WEBHOOK_MAX_AGE_SECONDS = 300  # Plaid's advice: refuse verification tokens older than 5 minutes


# --- accounts (KYC, audit, admin) ---------------------------------------------------
# Fernet keys for personal data at rest (tax ids), comma-separated, first = current.
# Rotation: see accounts/encryption.py and `manage.py rotate_encryption_keys`.
def _field_encryption_keys() -> list[str]:
    keys = env.list("FIELD_ENCRYPTION_KEYS", default=[])
    if keys:
        return keys
    if PRODUCTION:
        raise environ.ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set in production.")
    # Never derived from SECRET_KEY, whose development default is public: a random key of this checkout.
    from accounts.encryption import local_development_key

    return [local_development_key(BASE_DIR / "var" / "field-encryption.key")]


FIELD_ENCRYPTION_KEYS = _field_encryption_keys()
# Staff sessions end after this long without a request (accounts.middleware.StaffIdleTimeoutMiddleware).
STAFF_IDLE_TIMEOUT_SECONDS = env.int("STAFF_IDLE_TIMEOUT_SECONDS", default=15 * 60)
# --- api keys ----------------------------------------------------------------------
# Alpaca-style key pairs (APCA-API-KEY-ID / APCA-API-SECRET-KEY) on every API route.
API_KEYS_MAX_ACTIVE = env.int("API_KEYS_MAX_ACTIVE", default=10)
API_KEY_RATE_LIMIT_PER_MINUTE = env.int("API_KEY_RATE_LIMIT_PER_MINUTE", default=200)
# All of one user's keys together (accounts/api/rate_limit.py).
API_USER_RATE_LIMIT_PER_MINUTE = env.int("API_USER_RATE_LIMIT_PER_MINUTE", default=400)

# --- trading ---------------------------------------------------------------------
# Venue per asset class (see trading/brokers/base.py: BROKERS).
BROKER_US_EQUITY = env.str("BROKER_US_EQUITY", default="paper")
BROKER_CRYPTO = env.str("BROKER_CRYPTO", default="paper")
# Pre-trade risk (docs/notes/trading.md).
TRADING_MARKET_BUY_BUFFER_PERCENT = _decimal("TRADING_MARKET_BUY_BUFFER_PERCENT", default="5")
TRADING_LIMIT_PRICE_BAND_PERCENT = _decimal("TRADING_LIMIT_PRICE_BAND_PERCENT", default="10")
TRADING_MAX_ORDER_NOTIONAL = _decimal("TRADING_MAX_ORDER_NOTIONAL", default="1000000")
TRADING_SUBMIT_STUCK_SECONDS = env.int("TRADING_SUBMIT_STUCK_SECONDS", default=30)
# --- the order engine (issue 22, trading/engine.py) ---
# True where no engine process runs (the embedded default; tests, which run tasks eagerly): the placing
# process submits each order right after commit (the paper venue's batch for that one order, or the submit
# task). False: placement wakes the engine (`run_engine`), which fills paper orders and relays the others.
TRADING_ENGINE_INLINE = env.bool("TRADING_ENGINE_INLINE", default=CELERY_TASK_ALWAYS_EAGER)
# The engine's fallback poll of its inbox when no wake message comes (a lost publish, Redis away).
TRADING_ENGINE_POLL_SECONDS = env.float("TRADING_ENGINE_POLL_SECONDS", default=0.2)
# Orders per batch at most: one transaction accepts and fills them (and one relay transaction hands this many on).
# Each batch claims whatever has committed, up to this: a batch's cost is mostly fixed now that its fills are booked
# set-based (claim, acceptance, ~18 statements; ~2 ms more per order), so under load the engine takes what arrived
# while the last batch booked rather than one order per batch. Placement locks its account, as the batch does, so
# this also bounds how long a placement waits for the batch in progress when the inbox has a backlog.
# (TRADING_ENGINE_SLICE_MS sized batches by the last one's pace as if cost grew with the batch: under load a batch
# of one took longer than the slice and the engine stayed at one order per batch; docs/notes/bench.md, h30eng.)
TRADING_ENGINE_BATCH_SIZE = env.int("TRADING_ENGINE_BATCH_SIZE", default=200)
# --- good faith (cash accounts) ---
# Good-faith violations in 12 months that restrict a cash account to settled cash for 90 days
# (Reg T / FINRA practice: 3); a sale that would be one more is refused (docs/notes/trading.md).
TRADING_GFV_LIMIT = env.int("TRADING_GFV_LIMIT", default=3)
# Backoff cap between retries of a submit/cancel whose outcome is unknown (venue timeout, 429, 5xx).
TRADING_VENUE_RETRY_MAX_SECONDS = env.float("TRADING_VENUE_RETRY_MAX_SECONDS", default=30.0)

# --- trading: contingent orders, trailing marks, auctions -------------------------
# Trailing stops' water marks are written at most this often (and whenever a stop fires).
TRADING_TRAILING_HWM_FLUSH_SECONDS = env.float("TRADING_TRAILING_HWM_FLUSH_SECONDS", default=1.0)

# --- performance (issue 10, bench/) ------------------------------------------------
# Order entry reads assets from a per-process cache; another process's change to an asset
# (halt, tradable flag) is seen within this many seconds (0 disables the cache).
ASSET_CACHE_SECONDS = env.float("ASSET_CACHE_SECONDS", default=5.0)
# Every account valuation reads each held asset's previous close; a process keeps them per New York date, and
# another process's late or corrected bar of a past day is seen within this many seconds (0 disables the cache).
PREVIOUS_CLOSE_CACHE_SECONDS = env.float("PREVIOUS_CLOSE_CACHE_SECONDS", default=60.0)
# allauth tracks a session's activity (a row write) on every request; ours at most this often
# per session and process, and at once when the IP or user agent changes.
USERSESSIONS_TRACK_ACTIVITY_SECONDS = env.float("USERSESSIONS_TRACK_ACTIVITY_SECONDS", default=60.0)
# The lean request path (issue 22, speedtrade/lean_api.py) answers the hot API routes for credentials this
# process checked in full within AUTH_CACHE_SECONDS (at most the activity interval above, so sessions are
# still tracked through the full path); revocations reach every process at once through Redis pub/sub.
LEAN_API_ENABLED = env.bool("LEAN_API_ENABLED", default=True)
AUTH_CACHE_SECONDS = min(env.float("AUTH_CACHE_SECONDS", default=60.0), USERSESSIONS_TRACK_ACTIVITY_SECONDS)
# Admission at the edge (speedtrade/admission.py): at most this many HTTP requests in work per web process (0: no
# limit); one more waits for a place at most ADMISSION_WAIT_SECONDS, then is answered 503 with Retry-After before
# any of its work. Twice the database pool by default: a connection freed is taken at once by a request already
# admitted, and waits for the pool stay short. WebSockets, /health, /ready, /metrics and static files pass.
ADMISSION_MAX_IN_FLIGHT = env.int("ADMISSION_MAX_IN_FLIGHT", default=2 * DB_POOL_MAX_SIZE or 16)
ADMISSION_WAIT_SECONDS = env.float("ADMISSION_WAIT_SECONDS", default=1.0)
# The lean path places the orders whose checks read nothing from the database (trading.risk.
# checks_read_no_database) on the event loop, with no thread: its Redis reads in one round trip and the order
# writer's call on a small async psycopg pool of each worker's event loop (PostgreSQL only; each worker may
# hold DB_POOL_MAX_SIZE + LEAN_DB_POOL_MAX_SIZE connections). Off: every order through the request's thread.
LEAN_API_ASYNC_ORDERS = env.bool("LEAN_API_ASYNC_ORDERS", default=True)
LEAN_DB_POOL_MAX_SIZE = env.int("LEAN_DB_POOL_MAX_SIZE", default=4)

# --- Periodic tasks (celery beat; django-celery-beat's scheduler above) ---------------
CELERY_BEAT_SCHEDULE = {
    # Transfers whose settlement message was lost (TRANSFER_RECOVERY_AFTER_SECONDS).
    "portfolios-recover-transfers": {"task": "portfolios.tasks.recover_transfers", "schedule": 30.0},
    "portfolios-equity-snapshots": {
        "task": "portfolios.tasks.take_equity_snapshots",
        "schedule": timedelta(seconds=EQUITY_SNAPSHOT_INTERVAL_SECONDS),
    },
    # Every 5 minutes on weekday afternoons/evenings (UTC covers 13:00 ET early closes and
    # 16:00 ET closes in both EST and EDT); the task itself checks the XNYS calendar and
    # writes one close snapshot per session.
    "portfolios-session-close-snapshots": {
        "task": "portfolios.tasks.take_session_close_snapshots",
        "schedule": crontab(minute="*/5", hour="17-23", day_of_week="mon-fri"),
    },
    **(
        {
            "portfolios-plaid-transfer-events": {
                "task": "portfolios.tasks.sync_plaid_transfer_events",
                "schedule": timedelta(seconds=PLAID_TRANSFER_SYNC_SECONDS),
            }
        }
        if BANK_RAIL == "plaid"
        else {}
    ),
    "trading-reconcile-orders": {"task": "trading.tasks.reconcile_orders", "schedule": 30.0},
    # Every minute: day orders expire as soon as their session's close has passed.
    "trading-expire-orders": {"task": "trading.tasks.expire_orders", "schedule": 60.0},
    # Recurring investments (issue 23).
    "recurring-runs-due": {"task": "recurring.tasks.recurring_runs_due", "schedule": 60.0},
    # Account documents (issue 19: documents/). Each job issues only what is missing, so a missed or repeated
    # run is harmless. Trade confirmations (SEC Rule 10b-10) for orders with fills not yet confirmed, well
    # within the next business day.
    "documents-trade-confirmations": {"task": "documents.tasks.issue_trade_confirmations", "schedule": 600.0},
    # Monthly statements (FINRA Rule 2231) for the previous month, from the first XNYS business day of the month
    # (the task checks the calendar; it runs every morning so a day it missed is caught up the next).
    "documents-monthly-statements": {
        "task": "documents.tasks.issue_monthly_statements",
        "schedule": crontab(minute=0, hour=11),
    },
    # Year-end realized gains reports (1099-B shaped) for the previous tax year, every January morning.
    "documents-year-end-gains": {
        "task": "documents.tasks.issue_year_end_reports",
        "schedule": crontab(minute=30, hour=11, month_of_year=1),
    },
}

# --- dashboard (web pages, issue 7) ------------------------------------------------
# Where the "Trade" link goes for a user with no symbol of their own yet: a well-known stock under $100.
DASHBOARD_DEFAULT_SYMBOL = env.str("DASHBOARD_DEFAULT_SYMBOL", default="F")
# The file email backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend)
# writes here; the browser end-to-end test reads verification links from it.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
# Static files straight from the app folders when nothing was collected (development,
# tests); production serves the collected, hashed files.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not PRODUCTION)

# --- notifications (issue 23: notifications/, docs/notes/notifications.md) --------------
# Called with (kind, payload) after the commit of every user push and audit event (speedtrade/announcements.py).
ANNOUNCEMENT_SUBSCRIBERS = env.list("ANNOUNCEMENT_SUBSCRIBERS", default=["notifications.subscribers.on_announcements"])
# Called in the restriction's transaction when an account is frozen or blocked from trading
# (portfolios.services.account_restriction_apply): trading cancels the account's open orders.
ACCOUNT_RESTRICTED_ORDERS_CANCEL = "trading.services.orders_cancel_for_restriction"
# Absolute links in emails (unsubscribe, "Open SpeedTrade") start with this.
NOTIFICATIONS_SITE_URL = env.str("NOTIFICATIONS_SITE_URL", default="http://127.0.0.1:8000")
NOTIFICATIONS_EMAIL_DOMAIN = env.str("NOTIFICATIONS_EMAIL_DOMAIN", default="speedtrade.local")  # Message-ID domain
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", default=600.0)
# Web Push (VAPID, RFC 8292): the application server's P-256 key pair, base64url (raw private scalar, uncompressed
# public point: `vapid --gen` of py-vapid, or notifications/push.py's docs). Unset: web pushes are skipped.
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_PUBLIC_KEY = env.str("WEBPUSH_VAPID_PUBLIC_KEY", default="")
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default="mailto:ops@speedtrade.local")
WEBPUSH_TTL_SECONDS = env.int("WEBPUSH_TTL_SECONDS", default=86400)
# FCM (apps' tokens) through firebase-admin and FCM's HTTP v1 API. Off: FCM deliveries are recorded skipped.
FCM_ENABLED = env.bool("FCM_ENABLED", default=False)
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")  # the Firebase service account's JSON key
FCM_API_URL = env.str("FCM_API_URL", default="https://fcm.googleapis.com")  # tests point it at a local server
FCM_TIMEOUT_SECONDS = env.float("FCM_TIMEOUT_SECONDS", default=10.0)
if FCM_ENABLED and not FCM_CREDENTIALS_FILE:
    raise environ.ImproperlyConfigured(
        "FCM_ENABLED is true but FCM_CREDENTIALS_FILE is not set (the Firebase service account's JSON key)."
    )


def _fcm_key_project_id(path: str) -> str:
    """The project_id in the Firebase service account's JSON key; refuses to start when the key is unreadable."""
    try:
        return json.loads(Path(path).read_text()).get("project_id", "")
    except (OSError, ValueError) as unreadable:
        raise environ.ImproperlyConfigured(
            f"FCM_CREDENTIALS_FILE {path!r} is not a readable JSON key: {unreadable}"
        ) from unreadable


_fcm_key_project = _fcm_key_project_id(FCM_CREDENTIALS_FILE) if FCM_ENABLED else ""
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="") or _fcm_key_project  # empty: the key's project_id
if FCM_ENABLED and not FCM_PROJECT_ID:
    raise environ.ImproperlyConfigured(
        "FCM_ENABLED is true but FCM_PROJECT_ID is not set and FCM_CREDENTIALS_FILE has no project_id."
    )

# --- price alerts (issue 23: alerts/) ----------------------------------------------
ALERTS_MAX_ACTIVE_PER_USER = env.int("ALERTS_MAX_ACTIVE_PER_USER", default=50)

# --- Static, i18n -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Private uploads (KYC documents) live outside anything served publicly (accounts/storage.py): on the
# local filesystem by default, in an S3-compatible bucket when PRIVATE_S3_BUCKET is set — what several
# web machines need, since each must read what another stored.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private")))
PRIVATE_S3_BUCKET = env.str("PRIVATE_S3_BUCKET", default="")
# Server-side encryption on every object: SSE-S3 (AES256) by default, SSE-KMS with a key id.
_private_s3_kms_key = env.str("PRIVATE_S3_KMS_KEY_ID", default="")
_private_storage = (
    {
        "BACKEND": "accounts.s3_storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": PRIVATE_S3_BUCKET,
            "location": env.str("PRIVATE_S3_PREFIX", default="private"),
            # Empty: AWS itself; else MinIO, Ceph, R2, a test server… (path-style addressing).
            "endpoint_url": env.str("PRIVATE_S3_ENDPOINT_URL", default="") or None,
            "addressing_style": "path" if env.str("PRIVATE_S3_ENDPOINT_URL", default="") else None,
            "region_name": env.str("PRIVATE_S3_REGION", default="") or None,
            # Empty: boto3's own chain (instance role, AWS_* variables, ~/.aws).
            "access_key": env.str("PRIVATE_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("PRIVATE_S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "object_parameters": (
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": _private_s3_kms_key}
                if _private_s3_kms_key
                else {"ServerSideEncryption": "AES256"}
            ),
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
    if PRIVATE_S3_BUCKET
    else {"BACKEND": "accounts.storage.PrivateFileSystemStorage"}
)
# Account documents (trade confirmations, statements, tax reports: documents/) are kept apart from the KYC
# uploads, at least six years (SEC Rule 17a-4): their own directory, or their own prefix of the bucket.
ACCOUNT_DOCUMENTS_ROOT = Path(env.str("ACCOUNT_DOCUMENTS_ROOT", default=str(PRIVATE_MEDIA_ROOT / "documents")))
_account_document_storage = (
    {
        "BACKEND": _private_storage["BACKEND"],
        "OPTIONS": {
            **_private_storage["OPTIONS"],
            "location": env.str("PRIVATE_S3_DOCUMENTS_PREFIX", default="documents"),
        },
    }
    if PRIVATE_S3_BUCKET
    else {
        "BACKEND": "accounts.storage.PrivateFileSystemStorage",
        "OPTIONS": {"root_setting": "ACCOUNT_DOCUMENTS_ROOT"},
    }
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    "private": _private_storage,
    "documents": _account_document_storage,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ---------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp) on every page: scripts and styles only from our own origin — no
# inline <script>, on* handlers or eval (htmx runs with allowEval/includeIndicatorStyles off, base.html);
# sockets back to the same host; nothing frames us. The API docs add inline styles (speedtrade/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # data: for the MFA QR code
        "connect-src": ["'self'"],  # fetch and /ws/ sockets of the same host
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Worker, beat, feed and broker streams serve their own metrics here (speedtrade/process_metrics.py;
# 0: not served). Web processes serve /metrics, aggregated over workers (PROMETHEUS_MULTIPROC_DIR).
METRICS_PORT = env.int("METRICS_PORT", default=0)
METRICS_ADDR = env.str("METRICS_ADDR", default="127.0.0.1")
# Emptied by `manage.py serve --workers N` (N > 1) at start, then shared by its workers. One per machine.
PROMETHEUS_WEB_MULTIPROC_DIR = env.str("PROMETHEUS_WEB_MULTIPROC_DIR", default=str(BASE_DIR / "var" / "prometheus-web"))
# A worker's prefork children need it too: set PROMETHEUS_MULTIPROC_DIR for the worker (a directory of its own).
if env.str("PROMETHEUS_MULTIPROC_DIR", default=""):
    Path(env.str("PROMETHEUS_MULTIPROC_DIR")).mkdir(parents=True, exist_ok=True)
# /metrics is for the internal network only outside development.
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
)

# --- Logging ----------------------------------------------------------------------
# Production always logs JSON lines (log shippers parse them), whatever a copied .env.example says.
LOG_FORMAT = "json" if PRODUCTION else env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "speedtrade.structured_logging.RedactSecretsFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": env.str("ACCESS_LOG_LEVEL", default="WARNING")},
        # WeasyPrint logs each rendering step at INFO (and parses a stylesheet when imported): warnings only.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # DEBUG: the order engine logs each batch's stages (the bench's order → fill step takes them apart).
        "trading.engine.stages": {"level": env.str("ENGINE_STAGES_LOG_LEVEL", default="INFO")},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    from speedtrade.sentry import sentry_options  # before_send strips keys, tokens, tax ids, document bytes

    sentry_sdk.init(
        **sentry_options(
            dsn=SENTRY_DSN,
            environment=ENVIRONMENT,
            traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        )
    )
