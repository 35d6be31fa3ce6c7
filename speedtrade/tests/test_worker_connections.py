"""A deployed (prefork) worker runs task after task on the database session it has. Celery's Django fixup closed
every connection around each task, and with the psycopg pool the pool itself: two new PostgreSQL sessions per
task, each a backend forked and authenticated (issue 22: a fill's notification tasks cost more than the fill)."""

import time

import psycopg
import pytest
from django.db import connection

from speedtrade.tests.processes import app_environment, celery_worker, manage

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TASKS = 20
RUN_WITHIN_SECONDS = 60  # a ceiling against hanging, not a timing assertion
QUEUE_TASKS = (
    "from notifications.tasks import delivery_send\n"
    f"for _ in range({TASKS}): delivery_send.delay(0)\n"  # one UPDATE each, claiming nothing
)


def sessions_opened() -> int:
    """Sessions ever opened in the test database (PostgreSQL's own counter)."""
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as own:
        own.execute("SELECT pg_stat_force_next_flush()")
        return own.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def test_a_prefork_worker_keeps_its_database_session_from_task_to_task(tmp_path, settings):
    env = app_environment(CELERY_BROKER_URL=settings.REDIS_URL, CELERY_TASK_ALWAYS_EAGER="false")
    worker = celery_worker(tmp_path / "worker.log", env, pool="prefork")
    try:
        worker.wait_for("ready.", timeout=90)
        before = sessions_opened()
        manage("shell", "-c", QUEUE_TASKS, env=env)
        deadline = time.monotonic() + RUN_WITHIN_SECONDS
        while worker.output().count("succeeded in") < TASKS:
            assert worker.process.poll() is None and time.monotonic() < deadline, worker.output()[-4000:]
            time.sleep(0.1)
        opened = sessions_opened() - before
    finally:
        worker.kill()
    # The shell that queued them and this count's own connections, and the worker's first: not one per task.
    assert opened <= 4
