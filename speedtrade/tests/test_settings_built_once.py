"""Settings are built once, in order, per mode (issue 17 item 7): what each mode runs with is pinned here.

Each mode's settings are loaded in a process of their own (speedtrade.tests.test_settings_modes.run), with the
environment that mode's processes have.
"""

import ast
from pathlib import Path

import pytest

from speedtrade.tests.test_settings_modes import DEVELOPMENT, PRODUCTION, run, show

SERVICES = {
    "SPEEDTRADE_ENV": "development",
    "DATABASE_URL": PRODUCTION["DATABASE_URL"],
    "REDIS_URL": PRODUCTION["REDIS_URL"],
}
TEST = {**SERVICES, "SPEEDTRADE_ENV": "test", "CELERY_TASK_ALWAYS_EAGER": "true"}
MODES = {"embedded": DEVELOPMENT, "services": SERVICES, "test": TEST, "production": PRODUCTION}

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "speedtrade.middleware.ProcessTimeMiddleware",
    "accounts.api.rate_limit.ApiKeyRateLimitHeadersMiddleware",
    "speedtrade.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.StaffIdleTimeoutMiddleware",
    "accounts.middleware.StaffAdminMFAMiddleware",
    "speedtrade.middleware.ThrottledUserSessionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
AUTHENTICATION = [
    "speedtrade.api.authentication.ThrottledJWTTokenAuthentication",
    "accounts.api.authentication.AlpacaKeyAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
# How each mode holds its database connections: SQLite's are Django's default (closed after each request);
# PostgreSQL's come from a bounded pool per process, so none is kept past its request either.
POOL = {"min_size": 1, "max_size": 8, "timeout": 2.0}
CONNECTIONS = {
    "embedded": {"engine": "django.db.backends.sqlite3", "max_age": 0, "health_checks": False, "pool": None},
    "services": {"engine": "django.db.backends.postgresql", "max_age": 0, "health_checks": False, "pool": POOL},
    "test": {"engine": "django.db.backends.postgresql", "max_age": 0, "health_checks": False, "pool": POOL},
    "production": {"engine": "django.db.backends.postgresql", "max_age": 0, "health_checks": False, "pool": POOL},
}
SHOW_CONNECTIONS = (
    "(lambda d: {'engine': d['ENGINE'], 'max_age': d['CONN_MAX_AGE'], 'health_checks': d['CONN_HEALTH_CHECKS'], "
    "'pool': d['OPTIONS'].get('pool')})(__import__('django.db').db.connections['default'].settings_dict)"
)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_runs_the_same_middleware_and_api_authentication_in_order(mode):
    loaded = show(MODES[mode], "[s.MIDDLEWARE, s.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']]")
    assert loaded == [MIDDLEWARE, AUTHENTICATION]


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_holds_database_connections_as_documented(mode):
    assert show(MODES[mode], SHOW_CONNECTIONS) == CONNECTIONS[mode]


def test_without_the_pool_postgresql_connections_persist_for_a_minute_or_as_configured():
    persistent = {"engine": "django.db.backends.postgresql", "max_age": 60, "health_checks": True, "pool": None}
    assert show({**SERVICES, "DB_POOL_MAX_SIZE": "0"}, SHOW_CONNECTIONS) == persistent
    assert show({**PRODUCTION, "DB_POOL_MAX_SIZE": "0", "DB_CONN_MAX_AGE": "5"}, SHOW_CONNECTIONS) == {
        **persistent,
        "max_age": 5,
    }


MONEY_SETTINGS = {
    "TRANSFER_MAX_AMOUNT": "50000.00",
    "TRADING_MARKET_BUY_BUFFER_PERCENT": "5",
    "TRADING_LIMIT_PRICE_BAND_PERCENT": "10",
    "TRADING_MAX_ORDER_NOTIONAL": "1000000",
    "PLAID_NAME_MATCH_THRESHOLD": "0.85",
}


def test_money_settings_are_decimals_from_the_moment_settings_load():
    names = list(MONEY_SETTINGS)
    expression = f"{{name: [type(getattr(s, name)).__name__, str(getattr(s, name))] for name in {names!r}}}"
    assert show(DEVELOPMENT, expression) == {name: ["Decimal", value] for name, value in MONEY_SETTINGS.items()}
    assert show({**DEVELOPMENT, "TRADING_MAX_ORDER_NOTIONAL": "250000.10"}, "str(s.TRADING_MAX_ORDER_NOTIONAL)") == (
        "250000.10"
    )


@pytest.mark.parametrize("value", ["ten", "NaN", "Infinity", "1e"])
def test_a_money_setting_that_is_not_a_number_stops_the_process_at_start(value):
    result = run({**DEVELOPMENT, "TRANSFER_MAX_AMOUNT": value}, "manage.py", "check")
    assert result.returncode != 0
    assert f"TRANSFER_MAX_AMOUNT must be a decimal number, not {value!r}" in result.stderr


MUTATORS = {"append", "extend", "insert", "remove", "pop", "update", "setdefault", "clear"}


def test_no_setting_is_rewritten_further_down_settings_py():
    """Each setting is bound by one top-level statement and never mutated afterwards, so what a reader sees
    where a structure is defined is what Django runs with (branches of one `if` count as one statement)."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "settings.py").read_text())
    bound_by: dict[str, int] = {}
    rewrites = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            continue
        for node in ast.walk(statement):
            target = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id.isupper():
                if bound_by.setdefault(node.id, statement.lineno) != statement.lineno:
                    rewrites.append(f"line {node.lineno}: {node.id} bound again (first at {bound_by[node.id]})")
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
                target = node.value
            elif isinstance(node, ast.AugAssign):
                target = node.target
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                target = node.func.value
            while isinstance(target, ast.Subscript):
                target = target.value
            if isinstance(target, ast.Name) and target.id.isupper():
                rewrites.append(f"line {node.lineno}: {target.id} changed after it was built")
    assert rewrites == []
