"""Beat, the feed and the broker streams run once: a second instance waits as a hot standby and
takes over within seconds when the first is SIGKILLed. Real processes against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from speedtrade.locks import AdvisoryLock

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
TAKEOVER_SECONDS = 10  # standby poll 0.5 s; a killed holder's session ends at once

SINGLETONS = {
    "beat": (AdvisoryLock.CELERY_BEAT, "", [sys.executable, "-m", "celery", "-A", "speedtrade", "beat", "-l", "INFO"]),
    "feed": (
        AdvisoryLock.MARKET_DATA_FEED,
        "simulated",
        [sys.executable, "manage.py", "run_feed", "--provider", "simulated"],
    ),
    "broker-streams": (AdvisoryLock.BROKER_STREAMS, "", [sys.executable, "manage.py", "run_broker_streams"]),
}


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Instance:
    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": "memory://",
            "SINGLETON_POLL_SECONDS": "0.5",
            "SPEEDTRADE_ENV": "test",
            "LOG_FORMAT": "text",
        }
        env.pop("DATABASE_DIRECT_URL", None)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def wait_for(self, text: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if text in self.log.read_text():
                return time.monotonic() - started
            assert self.process.poll() is None, f"exited early:\n{self.log.read_text()}"
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _lock_holders(lock: AdvisoryLock, instance: str) -> list[int]:
    classid, objid = lock.key(instance)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::int8 = %s AND l.objid::int8 = %s",
            [classid % 2**32, objid % 2**32],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("kind", SINGLETONS)
def test_a_second_instance_waits_and_takes_over_when_the_first_is_killed(kind, tmp_path):
    lock, instance, command = SINGLETONS[kind]
    name = f"Singleton {lock.name.lower()}{':' + instance if instance else ''}"
    first = Instance(command, tmp_path / "first.log")
    second = None
    try:
        first.wait_for(f"{name}: active", timeout=60)
        second = Instance(command, tmp_path / "second.log")
        second.wait_for(f"{name}: standby", timeout=60)
        assert len(_lock_holders(lock, instance)) == 1
        assert f"{name}: active" not in second.log.read_text()

        first.process.send_signal(signal.SIGKILL)
        took = second.wait_for(f"{name}: active", timeout=TAKEOVER_SECONDS)

        assert took < TAKEOVER_SECONDS
        assert len(_lock_holders(lock, instance)) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_lock_keys_are_distinct_per_kind_and_instance():
    keys = {lock.key(instance) for lock in AdvisoryLock for instance in ("", "simulated", "alpaca")}
    assert len(keys) == len(AdvisoryLock) * 3


def test_a_leader_that_loses_its_lock_session_stops_and_the_standby_leads(tmp_path):
    """PostgreSQL ended the leader's session (network cut, failover): the lock is gone, so it must stop leading."""
    lock, instance, command = SINGLETONS["feed"]
    first = Instance(command, tmp_path / "first.log")
    second = None
    try:
        first.wait_for("Singleton market_data_feed:simulated: active", timeout=60)
        second = Instance(command, tmp_path / "second.log")
        second.wait_for("Singleton market_data_feed:simulated: standby", timeout=60)
        [holder] = _lock_holders(lock, instance)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [holder])

        second.wait_for("Singleton market_data_feed:simulated: active", timeout=TAKEOVER_SECONDS)
        assert first.process.wait(timeout=TAKEOVER_SECONDS) == 0  # stopped itself cleanly (SIGTERM)
        assert "lock connection lost" in first.log.read_text()
    finally:
        first.stop()
        if second is not None:
            second.stop()
