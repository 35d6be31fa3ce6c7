"""`manage.py healthcheck feed|beat|broker-streams`: each singleton's container healthcheck.

The processes write heartbeats to Redis; the command fails when a heartbeat is missing, too old or
reports a failure, so a hung feed, a stopped scheduler or a dead venue stream turns its container unhealthy.
"""

import asyncio
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.management import CommandError, call_command

from marketdata.feeds.runner import FeedRunner
from marketdata.quotes import Quote
from speedtrade.beat import HeartbeatScheduler
from speedtrade.celery import app as celery_app
from speedtrade.heartbeats import KEY_PREFIX, Heartbeat
from trading import streams


def healthcheck(process: str, *args: str) -> str:
    out = StringIO()
    call_command("healthcheck", process, *args, stdout=out)
    return out.getvalue()


def write_heartbeat(name: str, **state) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(KEY_PREFIX + name, json.dumps(state))
    client.close()


@pytest.mark.parametrize("process", ["feed", "beat", "broker-streams"])
def test_a_process_that_never_beat_is_unhealthy(process):
    with pytest.raises(CommandError, match=f"{process}: no heartbeat yet"):
        healthcheck(process)


def test_a_fresh_heartbeat_is_healthy():
    assert Heartbeat("beat").beat()
    assert healthcheck("beat") == "beat: ok\n"


def test_a_heartbeat_older_than_max_age_is_unhealthy():
    write_heartbeat("feed", at=time.time() - 90)
    with pytest.raises(CommandError, match=r"feed: last heartbeat 9\ds ago \(more than 60s\)"):
        healthcheck("feed")
    assert healthcheck("feed", "--max-age", "120") == "feed: ok\n"


def test_a_heartbeat_reporting_a_failure_is_unhealthy():
    write_heartbeat("broker-streams", at=time.time(), failing="stream of alpaca ended")
    with pytest.raises(CommandError, match="broker-streams: stream of alpaca ended"):
        healthcheck("broker-streams")


def test_redis_down_is_unhealthy_not_a_traceback(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with pytest.raises(CommandError, match="feed: cannot read its heartbeat"):
        healthcheck("feed")


def test_heartbeats_are_written_at_most_every_few_seconds():
    heartbeat = Heartbeat("feed", every=60)
    assert heartbeat.beat()
    assert not heartbeat.beat()


def test_a_heartbeat_that_cannot_be_written_does_not_harm_the_process(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert not Heartbeat("feed").beat()


class OneBatchFeed:
    name = "scripted"


async def test_the_feed_beats_when_quotes_arrive():
    runner = FeedRunner(OneBatchFeed(), ["F"], bar_flush_seconds=3600)
    with pytest.raises(CommandError, match="no heartbeat yet"):
        healthcheck("feed")
    now = datetime.now(UTC)
    price = Decimal("10.00")
    tick = Quote(symbol="F", bid=price, ask=price, bid_size=Decimal(1), ask_size=Decimal(1), last=price, timestamp=now)
    await runner.handle([tick])
    assert healthcheck("feed") == "feed: ok\n"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beat_beats_on_every_tick():
    scheduler = HeartbeatScheduler(app=celery_app, lazy=True)
    scheduler.setup_schedule()
    scheduler.tick()
    assert healthcheck("beat") == "beat: ok\n"


async def test_broker_streams_beat_while_every_stream_runs(monkeypatch):
    async def runs_until_cancelled():
        await asyncio.Event().wait()

    monkeypatch.setattr(streams, "stream_jobs", lambda venues: {"alpaca": runs_until_cancelled})
    stop = asyncio.Event()
    running = asyncio.create_task(streams.run_streams({"alpaca"}, stop))
    await asyncio.sleep(0.1)
    assert healthcheck("broker-streams") == "broker-streams: ok\n"
    stop.set()
    await asyncio.wait_for(running, timeout=5)


async def test_broker_streams_report_a_stream_that_ended(monkeypatch):
    async def ends_at_once():
        return None

    monkeypatch.setattr(streams, "stream_jobs", lambda venues: {"alpaca": ends_at_once})
    monkeypatch.setattr(streams, "HEARTBEAT_SECONDS", 0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(streams.run_streams({"alpaca"}, stop))
    await asyncio.sleep(0.3)  # a few heartbeats: the first may come before the stream ended
    with pytest.raises(CommandError, match="broker-streams: stream of alpaca ended"):
        healthcheck("broker-streams")
    stop.set()
    await asyncio.wait_for(running, timeout=5)
