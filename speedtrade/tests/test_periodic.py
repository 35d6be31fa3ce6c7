"""The embedded default runs Celery beat's schedule in process (issue 18 item 4): equity snapshots,
order expiry, settlement, reconciliation and the rest, each when due, and never in services mode."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.testing import ApplicationCommunicator
from celery.schedules import crontab
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from freezegun import freeze_time

from accounts.tests.factories import approved_customer
from portfolios.models import EquitySnapshot
from portfolios.services import deposit_settled_post
from speedtrade.asgi import application
from speedtrade.celery import app
from speedtrade.periodic import InProcessBeat, jobs_from_schedule

SUNDAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def alice_account(alice):
    return approved_customer(alice)


SNAPSHOTS = {"task": "portfolios.tasks.take_equity_snapshots", "schedule": 300.0}
CLOSE_SNAPSHOTS = {
    "task": "portfolios.tasks.take_session_close_snapshots",
    "schedule": crontab(minute="*/5", hour="17-23", day_of_week="mon-fri"),
}


def test_every_job_celery_beat_runs_is_run_in_process():
    jobs = jobs_from_schedule(django_settings.CELERY_BEAT_SCHEDULE)
    names = {job.name for job in jobs}
    assert names == set(django_settings.CELERY_BEAT_SCHEDULE)
    assert {"portfolios-equity-snapshots", "trading-expire-orders", "trading-reconcile-orders"} <= names
    assert all(job.task in app.tasks for job in jobs)


def test_interval_jobs_are_due_at_start_and_crontabs_when_their_time_comes():
    with freeze_time(SUNDAY):
        snapshots, closes = jobs_from_schedule({"snapshots": SNAPSHOTS, "closes": CLOSE_SNAPSHOTS})
        assert snapshots.seconds_until_due() == 0
        assert closes.seconds_until_due() > 0  # no session closes on a Sunday
        snapshots.last_run_at = datetime.now(UTC)
        assert snapshots.seconds_until_due() == pytest.approx(300)
    with freeze_time(SUNDAY + timedelta(minutes=5, seconds=1)):
        assert snapshots.seconds_until_due() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_failing_job_does_not_stop_the_others(alice_account):
    await database_sync_to_async(deposit_settled_post)(account=alice_account, amount=Decimal("250.00"))
    beat = InProcessBeat(
        jobs_from_schedule({"broken": {"task": "no.such.task", "schedule": 60.0}, "snapshots": SNAPSHOTS})
    )

    assert await beat.run_due() == ["broken", "snapshots"]

    snapshot = await database_sync_to_async(EquitySnapshot.objects.get)(account=alice_account)
    assert (snapshot.kind, snapshot.equity) == ("intraday", Decimal("250.00"))
    assert await beat.run_due() == []  # not again before its interval


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_lifespan_runs_the_schedule_in_the_embedded_default(settings, alice_account):
    settings.FEED_IN_PROCESS = False
    settings.PERIODIC_TASKS_IN_PROCESS = True
    settings.CELERY_BEAT_SCHEDULE = {"portfolios-equity-snapshots": SNAPSHOTS}
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.startup.complete"}

    snapshotted = database_sync_to_async(EquitySnapshot.objects.filter(account=alice_account).exists)
    for _ in range(200):  # the snapshot job is due at start
        if await snapshotted():
            break
        await asyncio.sleep(0.05)
    assert await snapshotted()

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.shutdown.complete"}
    assert [task for task in asyncio.all_tasks() if task.get_name() == "in-process-beat"] == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_services_mode_leaves_the_schedule_to_celery_beat(settings):
    settings.FEED_IN_PROCESS = False
    settings.PERIODIC_TASKS_IN_PROCESS = False
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=5) == {"type": "lifespan.startup.complete"}
    assert [task for task in asyncio.all_tasks() if task.get_name() == "in-process-beat"] == []
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(timeout=5) == {"type": "lifespan.shutdown.complete"}
