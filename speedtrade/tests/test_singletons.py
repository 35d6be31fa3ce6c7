"""Beat, the feed and the broker streams run once: a second instance waits as a hot standby and
takes over within seconds when the first is SIGKILLed. Real processes against the test database."""

import signal
import sys
from pathlib import Path

import pytest
from django.db import connection

from speedtrade.locks import AdvisoryLock
from speedtrade.tests.processes import ManagedProcess, app_environment

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

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


def _instance(command: list[str], log: Path) -> ManagedProcess:
    return ManagedProcess(command, log, app_environment(CELERY_BROKER_URL="memory://", SINGLETON_POLL_SECONDS="0.5"))


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
    first = _instance(command, tmp_path / "first.log")
    second = None
    try:
        first.wait_for(f"{name}: active", timeout=60)
        second = _instance(command, tmp_path / "second.log")
        second.wait_for(f"{name}: standby", timeout=60)
        assert len(_lock_holders(lock, instance)) == 1
        assert f"{name}: active" not in second.log.read_text()

        first.process.send_signal(signal.SIGKILL)
        took = second.wait_for(f"{name}: active", timeout=TAKEOVER_SECONDS)

        assert took < TAKEOVER_SECONDS
        assert len(_lock_holders(lock, instance)) == 1
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_lock_keys_are_distinct_per_kind_and_instance():
    keys = {lock.key(instance) for lock in AdvisoryLock for instance in ("", "simulated", "alpaca")}
    assert len(keys) == len(AdvisoryLock) * 3


def test_a_leader_that_loses_its_lock_session_stops_and_the_standby_leads(tmp_path):
    """PostgreSQL ended the leader's session (network cut, failover): the lock is gone, so it must stop leading."""
    lock, instance, command = SINGLETONS["feed"]
    first = _instance(command, tmp_path / "first.log")
    second = None
    try:
        first.wait_for("Singleton market_data_feed:simulated: active", timeout=60)
        second = _instance(command, tmp_path / "second.log")
        second.wait_for("Singleton market_data_feed:simulated: standby", timeout=60)
        [holder] = _lock_holders(lock, instance)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [holder])

        second.wait_for("Singleton market_data_feed:simulated: active", timeout=TAKEOVER_SECONDS)
        assert first.process.wait(timeout=TAKEOVER_SECONDS) == 0  # stopped itself cleanly (SIGTERM)
        assert "lock connection lost" in first.log.read_text()
    finally:
        first.kill()
        if second is not None:
            second.kill()
