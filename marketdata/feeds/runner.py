"""Running a feed: store latest quotes, append bars, publish ticks, call tick handlers.

`FeedRunner.run(stop)` reads the provider's stream until `stop` is set; a stream
that fails or ends is reopened with exponential backoff and jitter (capped at
FEED_RECONNECT_MAX_SECONDS, see `feeds.backoff`), and the time without ticks is logged as a gap. Bars
are written every FEED_BAR_FLUSH_SECONDS from the ticks gathered meanwhile, and once
more on stop. The first tick of a new minute also writes them and publishes the ended
minute's bars (Alpaca's streamed minute bars). `manage.py run_feed` and the ASGI lifespan (in-process feed) both use it.
"""

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from marketdata.bars import bucket_start
from marketdata.feeds.base import QuoteFeed
from marketdata.models import Timeframe
from marketdata.publishing import publish_minute_bars, publish_quotes
from marketdata.quotes import Quote, store_quotes
from speedtrade.cancellation import cancel_and_wait
from speedtrade.heartbeats import Heartbeat
from speedtrade.process_metrics import feed_batches, quote_age
from venues.backoff import reconnect_delay

logger = logging.getLogger(__name__)

TickHandler = Callable[[list[Quote]], object]


def configured_tick_handlers() -> list[TickHandler]:
    return [import_string(path) for path in settings.FEED_TICK_HANDLERS]


def feed_companions() -> list:
    """What `run_feed` runs beside the feed while it leads (FEED_COMPANIONS, dotted paths of classes whose
    instances have `async run(stop)`): nothing by default; the order engine when it is not given `run_engine`."""
    return [import_string(path)() for path in settings.FEED_COMPANIONS]


def feed_symbols(asset_classes: Sequence[str]) -> list[str]:
    from marketdata.models import Asset

    return list(
        Asset.objects.filter(status=Asset.Status.ACTIVE, asset_class__in=asset_classes).values_list("symbol", flat=True)
    )


class FeedRunner:
    def __init__(
        self,
        feed: QuoteFeed,
        symbols: list[str],
        *,
        tick_handlers: Sequence[TickHandler] = (),
        bar_flush_seconds: float | None = None,
        reconnect_max_seconds: float | None = None,
        gap_warning_seconds: float | None = None,
    ) -> None:
        self.feed = feed
        self.symbols = symbols
        self.tick_handlers = list(tick_handlers)
        self.bar_flush_seconds = bar_flush_seconds if bar_flush_seconds is not None else settings.FEED_BAR_FLUSH_SECONDS
        self.reconnect_max_seconds = reconnect_max_seconds or settings.FEED_RECONNECT_MAX_SECONDS
        self.gap_warning_seconds = gap_warning_seconds or settings.FEED_GAP_WARNING_SECONDS
        self._unrecorded: list[Quote] = []
        self._last_flush = time.monotonic()
        self._last_batch_at: float | None = None
        self._minute: datetime | None = None  # start of the newest minute the ticks have reached
        self.batches = 0
        self.heartbeat = Heartbeat("feed")  # `manage.py healthcheck feed`: quotes arrived recently

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("Feed %s starting for %d symbols.", self.feed.name, len(self.symbols))
        await self._restore_quotes()
        reading = asyncio.create_task(self._read_forever())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Not a single cancel(): the reader may swallow it (see speedtrade/cancellation.py) and stream on.
            await cancel_and_wait((reading, stopping))
            await self._record_bars()
            logger.info("Feed %s stopped after %d batches.", self.feed.name, self.batches)

    async def _restore_quotes(self) -> None:
        """Closed markets send no ticks: the last quotes kept before a restart answer until they do."""
        from marketdata.services import latest_quotes_restore

        restored = await database_sync_to_async(latest_quotes_restore)()
        logger.info("Feed %s restored %d kept quotes.", self.feed.name, restored)

    async def _read_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async for batch in self.feed.stream(self.symbols):
                    attempt = 0
                    await self.handle(batch)
                logger.warning("Feed %s stream ended.", self.feed.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Feed %s failed.", self.feed.name)
            attempt += 1
            delay = reconnect_delay(attempt, cap=self.reconnect_max_seconds)
            logger.info("Feed %s reconnecting in %.1fs (attempt %d).", self.feed.name, delay, attempt)
            await asyncio.sleep(delay)

    async def handle(self, batch: list[Quote]) -> None:
        now = time.monotonic()
        if self._last_batch_at is not None and now - self._last_batch_at > self.gap_warning_seconds:
            logger.warning("Feed %s gap: no ticks for %.1fs.", self.feed.name, now - self._last_batch_at)
        self._last_batch_at = now
        self.batches += 1
        feed_batches.inc()
        if batch:
            quote_age.set(max(time.time() - max(quote.timestamp for quote in batch).timestamp(), 0.0))
        await sync_to_async(store_quotes, thread_sensitive=False)(batch)
        await publish_quotes(batch)
        self.heartbeat.beat(provider=self.feed.name, symbols=len(batch))
        ended = self._minute_ended(batch)
        if ended is not None:
            await self._record_bars()  # the ticks before this batch complete the ended minute
            await publish_minute_bars(ended)
        self._unrecorded.extend(batch)
        if now - self._last_flush >= self.bar_flush_seconds:
            await self._record_bars()
        for handler in self.tick_handlers:
            await self._call_handler(handler, batch)

    def _minute_ended(self, batch: list[Quote]):
        """The start of the minute this batch has moved past, if it has (None for the first batch)."""
        if not batch:
            return None
        minute = bucket_start(Timeframe.MINUTE, max(quote.timestamp for quote in batch))
        ended = self._minute if self._minute is not None and minute > self._minute else None
        self._minute = minute if self._minute is None else max(self._minute, minute)
        return ended

    async def _call_handler(self, handler: TickHandler, batch: list[Quote]) -> None:
        try:
            if inspect.iscoroutinefunction(handler):
                await handler(batch)
            else:
                await database_sync_to_async(handler)(batch)
        except Exception:
            # One broken consumer of ticks must not stop quotes for everyone else.
            logger.exception("Tick handler %r failed.", handler)

    async def _record_bars(self) -> None:
        from marketdata.services import ticks_record

        quotes, self._unrecorded = self._unrecorded, []
        self._last_flush = time.monotonic()
        if quotes:
            try:
                await database_sync_to_async(ticks_record)(quotes=quotes)
            except Exception:
                logger.exception("Feed %s could not record bars for %d ticks.", self.feed.name, len(quotes))


def build_runner(provider: str) -> FeedRunner:
    from marketdata.feeds.registry import build_feed

    feed, asset_classes = build_feed(provider)
    return FeedRunner(feed, feed_symbols(asset_classes), tick_handlers=configured_tick_handlers())


class InProcessFeed:
    """The feed as a task of the web server's event loop (embedded default)."""

    def __init__(self, runner: FeedRunner) -> None:
        self.runner = runner
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(runner.run(self._stop), name="in-process-feed")

    @classmethod
    async def start(cls, provider: str | None = None) -> "InProcessFeed":
        runner = await database_sync_to_async(build_runner)(provider or settings.FEED_PROVIDER)
        return cls(runner)

    async def stop(self) -> None:
        self._stop.set()
        await self.task
