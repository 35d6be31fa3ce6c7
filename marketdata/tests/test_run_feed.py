"""Running a feed: quotes stored, bars appended, ticks published, handlers called; lifespan and SIGTERM."""

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from marketdata.fanout import quotes_channel
from marketdata.feeds.runner import FeedRunner, build_runner
from marketdata.models import Bar
from marketdata.quotes import Quote, latest_quotes, quote_store
from marketdata.tests import tick_recorder
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory
from speedtrade.asgi import application
from speedtrade.loop_connections import loop_connections

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
D = Decimal


def quote(symbol, last):
    return Quote(
        symbol=symbol,
        bid=D(last),
        ask=D(last),
        bid_size=D(1),
        ask_size=D(1),
        last=D(last),
        last_size=D(3),
        timestamp=datetime.now(UTC),
    )


class ScriptedFeed:
    """A provider that replays batches; its first connection fails, as real networks do."""

    name = "scripted"

    def __init__(self, batches):
        self.batches = batches
        self.connections = 0

    async def stream(self, symbols):
        self.connections += 1
        if self.connections == 1:
            raise ConnectionError("upstream refused")
        for batch in self.batches:
            yield [q for q in batch if q.symbol in symbols]
        await asyncio.Event().wait()  # then stay connected and quiet


# Up to 30 s: a loaded CI machine can take seconds to schedule the feed's task; a passing check returns at once.
async def wait_until(condition, attempts=600):
    for _ in range(attempts):
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


@database_sync_to_async
def make_assets():
    AssetFactory(symbol="F", reference_price=D("10.52"))
    CryptoAssetFactory()


async def test_the_runner_stores_publishes_records_bars_and_calls_tick_handlers():
    await make_assets()
    tick_recorder.received.clear()
    listener = loop_connections().redis.pubsub()
    await listener.subscribe(quotes_channel())
    assert (await listener.get_message(timeout=None))["type"] == "subscribe"  # Redis took it: no batch is missed
    feed = ScriptedFeed([[quote("F", "10.50"), quote("BTC/USD", "65000")], [quote("BTC/USD", "65010")]])
    runner = FeedRunner(
        feed,
        ["F", "BTC/USD"],
        tick_handlers=[tick_recorder.record_ticks],
        bar_flush_seconds=60,
        reconnect_max_seconds=0.01,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))

    async def batch_published() -> list[tuple[str, str]]:
        message = await asyncio.wait_for(listener.get_message(timeout=None), 30)
        return [(q["symbol"], q["last"]) for q in orjson.loads(message["data"])]

    # One message per batch, holding every symbol's newest quote.
    assert await batch_published() == [("F", "10.50"), ("BTC/USD", "65000")]
    assert await batch_published() == [("BTC/USD", "65010")]
    await listener.aclose()
    assert await wait_until(lambda: asyncio.sleep(0, len(tick_recorder.received) == 2))
    stop.set()
    await running

    assert feed.connections == 2  # reconnected after the failure
    assert [[q.symbol for q in batch] for batch in tick_recorder.received] == [["F", "BTC/USD"], ["BTC/USD"]]
    stored = latest_quotes(["F", "BTC/USD"])
    assert (stored["F"].last, stored["BTC/USD"].last) == (D("10.50"), D("65010"))
    # Bars were written once, on stop: 1Min, 5Min, 1Hour and 1Day for both symbols.
    bars = await database_sync_to_async(lambda: sorted(Bar.objects.values_list("asset__symbol", "timeframe")))()
    assert bars == sorted((s, t) for s in ("BTC/USD", "F") for t in ("1Day", "1Hour", "1Min", "5Min"))


async def test_a_failing_tick_handler_does_not_stop_the_feed():
    await make_assets()

    def broken(quotes):
        raise RuntimeError("venue down")

    tick_recorder.received.clear()
    feed = ScriptedFeed([[quote("F", "10.50")], [quote("F", "10.51")]])
    runner = FeedRunner(feed, ["F"], tick_handlers=[broken, tick_recorder.record_ticks], reconnect_max_seconds=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    assert await wait_until(lambda: asyncio.sleep(0, len(tick_recorder.received) == 2))
    stop.set()
    await running
    assert latest_quotes(["F"])["F"].last == D("10.51")


class ClosedMarketFeed:
    """A provider on a weekend: connected, and no stock ticks."""

    name = "closed"

    async def stream(self, symbols):
        await asyncio.Event().wait()
        yield []


async def test_a_restarted_feed_answers_with_the_kept_quotes_before_any_tick():
    await make_assets()
    stop = asyncio.Event()
    first = asyncio.create_task(
        FeedRunner(ScriptedFeed([[quote("F", "9.90")]]), ["F"], reconnect_max_seconds=0.01).run(stop)
    )
    assert await wait_until(lambda: asyncio.sleep(0, "F" in latest_quotes(["F"])))
    stop.set()
    await first  # its ticks are recorded on stop, the latest quote with them

    quote_store().clear()  # the restart: an empty process-local store (or an emptied Redis)
    stop = asyncio.Event()
    second = asyncio.create_task(FeedRunner(ClosedMarketFeed(), ["F"]).run(stop))
    assert await wait_until(lambda: asyncio.sleep(0, "F" in latest_quotes(["F"])))
    stop.set()
    await second
    assert latest_quotes(["F"])["F"].last == D("9.90")


class CancellationSwallowingFeed:
    """Ticks, and swallows the first cancellation, as Python 3.11's asyncio.wait_for inside redis-py does."""

    name = "swallowing"

    def __init__(self):
        self.swallowed = asyncio.Event()

    async def stream(self, symbols):
        yield [quote("F", "10.50")]
        while True:
            # After the one tick the feed waits here, so the runner's cancellation lands
            # in this await and nowhere else: the swallow happens every run.
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if self.swallowed.is_set():
                    raise
                self.swallowed.set()


async def test_the_runner_stops_even_when_the_provider_swallows_a_cancellation():
    await make_assets()
    # No quote kept from an earlier test: the wait below must see this feed's own tick, so that the
    # feed is parked in its swallowing await when the stop comes.
    quote_store().clear()
    feed = CancellationSwallowingFeed()
    stop = asyncio.Event()
    running = asyncio.create_task(FeedRunner(feed, ["F"]).run(stop))
    assert await wait_until(lambda: asyncio.sleep(0, "F" in latest_quotes(["F"])))
    stop.set()
    async with asyncio.timeout(10):  # guards the suite against the old hang; stopping takes well under 1 s
        await running
    assert feed.swallowed.is_set()


async def test_the_simulated_provider_is_built_from_the_registry_with_the_configured_handlers(settings):
    await make_assets()
    settings.FEED_TICK_HANDLERS = ["marketdata.tests.tick_recorder.record_ticks"]
    runner = await database_sync_to_async(build_runner)("simulated")
    assert runner.feed.name == "simulated"
    assert sorted(runner.symbols) == ["BTC/USD", "F"]
    assert runner.tick_handlers == [tick_recorder.record_ticks]


async def test_the_lifespan_starts_and_stops_the_in_process_feed(settings):
    await make_assets()
    settings.FEED_IN_PROCESS = True
    settings.SIMULATED_FEED_TICKS_PER_SECOND = 200
    settings.SIMULATED_FEED_BATCH_SECONDS = 0.02
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.startup.complete"}

    # Crypto trades around the clock, so the simulated bitcoin ticks whatever the time.
    assert await wait_until(lambda: asyncio.sleep(0, "BTC/USD" in latest_quotes(["BTC/USD"])))

    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.shutdown.complete"}
    feed_tasks = [task for task in asyncio.all_tasks() if task.get_name() == "in-process-feed"]
    assert feed_tasks == []


async def test_the_lifespan_leaves_the_feed_to_its_own_process_in_services_mode(settings):
    settings.FEED_IN_PROCESS = False
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=5) == {"type": "lifespan.startup.complete"}
    assert [task for task in asyncio.all_tasks() if task.get_name() == "in-process-feed"] == []
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(timeout=5) == {"type": "lifespan.shutdown.complete"}


def test_run_feed_exits_cleanly_on_sigterm():
    CryptoAssetFactory()
    database = django_settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "SIMULATED_FEED_TICKS_PER_SECOND": "50",
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_feed", "--provider", "simulated"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in process.stdout:
            if "Feed simulated starting for 1 symbols" in line:
                break
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "Feed simulated stopped" in output
    assert "Feed stopped." in output


def test_run_feed_refuses_an_unknown_provider():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Unknown feed provider"):
        call_command("run_feed", "--provider", "bloomberg")
    with pytest.raises(CommandError, match="ccxt:<exchange id>"):
        call_command("run_feed", "--provider", "ccxt")
