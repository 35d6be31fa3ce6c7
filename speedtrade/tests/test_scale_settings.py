"""Settings for running at scale: the task broker, Redis's visibility timeout, PgBouncer, private storage."""

import json

from speedtrade.tests.test_settings_modes import run

SERVICES = {
    "SPEEDTRADE_ENV": "development",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/speedtrade",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; from django.db import connection; "
    "p = connection.get_connection_params(); "
    "print(json.dumps({'broker': s.CELERY_BROKER_URL, 'transport': getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS', {}), "
    "'prepare_threshold': p.get('prepare_threshold', 'unset'), 'cursor': p['cursor_factory'].__name__, "
    "'server_side_cursors_off': s.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "'private': s.STORAGES['private']['BACKEND'], "
    "'sse': s.STORAGES['private'].get('OPTIONS', {}).get('object_parameters'), "
    "'acl': s.STORAGES['private'].get('OPTIONS', {}).get('default_acl')}))"
)


def _show(**overrides) -> dict:
    result = run({**SERVICES, **overrides}, "-c", SHOW)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_rabbitmq_when_a_broker_url_is_set_with_no_redis_transport_options():
    loaded = _show(CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert loaded["broker"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert loaded["transport"] == {}


def test_redis_as_the_fallback_broker_gives_a_killed_task_back_in_seconds():
    loaded = _show()
    assert loaded["broker"] == SERVICES["REDIS_URL"]
    assert loaded["transport"]["visibility_timeout"] == 30  # kombu's default is an hour
    assert loaded["transport"]["unacked_restore_interval"] * loaded["transport"]["unacked_restore_throttle"] <= 5


def test_behind_pgbouncer_nothing_outlives_a_transaction():
    loaded = _show(DB_TRANSACTION_POOLER="true")
    assert loaded["prepare_threshold"] is None  # no psycopg-prepared statements
    assert loaded["cursor"] == "Cursor"  # client-side binding, not ServerBindingCursor
    assert loaded["server_side_cursors_off"] is True


def test_private_files_go_to_an_encrypted_private_bucket_when_one_is_set():
    assert _show()["private"] == "accounts.storage.PrivateFileSystemStorage"
    loaded = _show(PRIVATE_S3_BUCKET="speedtrade-private")
    assert loaded["private"] == "accounts.s3_storage.PrivateS3Storage"
    assert loaded["sse"] == {"ServerSideEncryption": "AES256"} and loaded["acl"] == "private"
    kms = _show(PRIVATE_S3_BUCKET="speedtrade-private", PRIVATE_S3_KMS_KEY_ID="alias/speedtrade")
    assert kms["sse"] == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/speedtrade"}
