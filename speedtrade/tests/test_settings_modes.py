"""Both runtime modes load from the environment alone, and production passes --deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'debug': s.DEBUG, 'periodic': s.PERIODIC_TASKS_IN_PROCESS}))"
)


def run(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SPEEDTRADE_ENV", "DEBUG", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="speedtrade.settings")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_embedded_default_needs_no_services():
    result = run({"SPEEDTRADE_ENV": "development"}, "-c", SHOW)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {
        "db": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "eager": True,
        "debug": True,
        "periodic": True,  # no beat process: the web server runs the schedule
    }


def test_services_mode_uses_postgres_redis_and_a_real_worker():
    result = run(
        {
            "SPEEDTRADE_ENV": "development",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/speedtrade",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
        "-c",
        SHOW,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "db": "django.db.backends.postgresql",
        "layer": "speedtrade.channel_layer.CancellableRedisChannelLayer",
        "eager": False,
        "debug": True,
        "periodic": False,  # Celery beat runs the schedule: never twice
    }


DEVELOPMENT = {"SPEEDTRADE_ENV": "development"}
PRODUCTION = {
    "SPEEDTRADE_ENV": "production",
    "SECRET_KEY": "k8Jq2vP0xW7mZr4tY9bN3cL6hF1sD5gA-uE8iO2pQ7wR4yT0zX",
    "ALLOWED_HOSTS": "speedtrade.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/speedtrade",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # accounts: Fernet key for tax ids at rest (a fixed test key, not a real one)
    "FIELD_ENCRYPTION_KEYS": "mbS9QO2JJ1xvFZ6R0o1n2tY8l4rXq3kK7dVw5cHj0aE=",
}


def test_production_settings_pass_the_deploy_checklist():
    result = run(PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run(env, "manage.py", "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_field_encryption_keys():
    env = {k: v for k, v in PRODUCTION.items() if k != "FIELD_ENCRYPTION_KEYS"}
    result = run(env, "manage.py", "check")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def show(env_overrides: dict, expression: str):
    """The value of a settings expression as a process started with `env_overrides` sees it."""
    result = run(
        env_overrides,
        "-c",
        f"import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({expression}))",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_logs_json_even_when_the_env_file_says_text():
    assert show({**PRODUCTION, "LOG_FORMAT": "text"}, "s.LOGGING['handlers']['console']['formatter']") == "json"
    assert show({**DEVELOPMENT, "LOG_FORMAT": "text"}, "s.LOGGING['handlers']['console']['formatter']") == "text"


def test_email_url_configures_an_smtp_server_or_provider():
    loaded = show(
        {**DEVELOPMENT, "EMAIL_URL": "smtp+tls://mailer:s3cret%40x@smtp.example.com:587"},
        "[s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS]",
    )
    assert loaded == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        587,
        "mailer",
        "s3cret@x",
        True,
    ]
    assert show(DEVELOPMENT, "s.EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend"


def test_only_the_configured_proxy_is_trusted_for_client_ips():
    assert show(DEVELOPMENT, "s.TRUSTED_PROXY_IPS") == ["127.0.0.1", "::1"]
    assert show({**DEVELOPMENT, "TRUSTED_PROXY_IPS": "172.30.0.10"}, "s.TRUSTED_PROXY_IPS") == ["172.30.0.10"]
    # allauth's per-IP limits read REMOTE_ADDR (already the client's, from uvicorn), never the header itself.
    assert show(DEVELOPMENT, "[s.ALLAUTH_TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_CLIENT_IP_HEADER]") == [0, None]


def test_without_an_environment_or_debug_the_process_refuses_to_start():
    result = run({}, "manage.py", "check")
    assert result.returncode != 0
    assert "Set SPEEDTRADE_ENV" in result.stderr


def test_debug_alone_must_be_explicit_and_false_means_production():
    debugging = run({"DEBUG": "true"}, "-c", SHOW)
    assert debugging.returncode == 0, debugging.stderr
    assert json.loads(debugging.stdout)["debug"] is True
    # DEBUG=false without SPEEDTRADE_ENV is production: it wants a real secret key.
    not_debugging = run({"DEBUG": "false"}, "manage.py", "check")
    assert not_debugging.returncode != 0
    assert "SECRET_KEY must be set" in not_debugging.stderr


def test_the_development_encryption_key_is_not_derivable_from_the_public_default_secret():
    import base64
    import hashlib

    show_keys = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'secret': s.SECRET_KEY, 'keys': s.FIELD_ENCRYPTION_KEYS}))"
    )
    result = run({"SPEEDTRADE_ENV": "development"}, "-c", show_keys)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    public_secret = loaded["secret"]  # the development default, readable in settings.py
    guessable = [
        base64.urlsafe_b64encode(hashlib.sha256(f"{salt}{public_secret}".encode()).digest()).decode()
        for salt in ("speedtrade-field-encryption:", "")
    ]
    assert loaded["keys"] and not set(loaded["keys"]) & set(guessable)
