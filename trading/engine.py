"""The order engine: the paper venue's acceptance and fills without a Celery hop, and the outbox of the others.

Its inbox and outbox are the `new` order rows themselves (partial index `order_new_by_venue`):
placing an order writes nothing more than the order, so the one writer of order entry stays one
round trip, and a `new` order committed is a `new` order found, whatever dies after the commit.

* Paper orders (`paper_batch_run`): one transaction per batch claims them (accounts first,
  skipping any another transaction holds), records each as submitted and accepted (two
  statements for the batch), and books what the venue decides at the latest quotes: the complete
  fills of plain orders together, set-based (`executions_book_at_once`: a few statements for the
  batch, in one savepoint; if that fails, one at a time), the rest — partial fills, IOC/FOK
  cancels, contingent orders — through `execution_book` each order in its own savepoint, so one
  that fails (say, the cash is no longer there at the fill's price) leaves the others' acceptance
  and fills, and moves no money of its own. Pushes go out together after the commit (in the engine, from a
  thread of its own, in the order the batches committed, while the next batch claims what has arrived).
* Other venues (`outbox_relay`): one transaction locks the oldest `new` orders no relay has
  handed on, sends each to `submit_order` and marks it; a send the broker refuses is not marked.
  A crash before the commit leaves them unmarked, so they are sent again: at least once, and
  `submit_order`'s claim (new → pending_new, a conditional UPDATE) submits each exactly once.
* `OrderEngine` runs both in a process of its own, `manage.py run_engine` (it shared the feed's
  GIL inside `run_feed` until issue 22: each of a booking's round trips then waited for the
  ticks' CPU-bound handlers; FEED_COMPANIONS can still put it there), under its own advisory
  lock (one engine per deployment; the others wait as hot standbys and take over within
  SINGLETON_POLL_SECONDS). It works, in a thread of its own, when placement wakes it
  (`queueing.engine_wake`, one Redis message after commit) and every TRADING_ENGINE_POLL_SECONDS
  when nothing does. Each batch claims whatever has committed (at most TRADING_ENGINE_BATCH_SIZE,
  skipping accounts another transaction holds), and the next begins as soon as it commits, with what
  arrived meanwhile: a batch's cost is mostly fixed, so the busier the inbox the larger the batch. A
  placement (which locks its account) waits for the batch in progress, not for all the inbox held.
* Where no engine runs (TRADING_ENGINE_INLINE: the embedded default, tests), the placing process
  submits each order after commit through `submit_order`, which runs `paper_batch_run` for that one
  order: the same code, so a placed market order is filled when its request returns.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import cast

import redis.asyncio
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from marketdata.quotes import latest_quotes
from speedtrade.heartbeats import Heartbeat
from speedtrade.locks import AdvisoryLock
from speedtrade.process_metrics import engine_batch_seconds, engine_orders
from speedtrade.realtime import sends_gathered
from speedtrade.singleton import singleton_active
from trading import paper_fills, queueing, services
from trading.brokers.base import SubmitOutcome, broker_by_name
from trading.brokers.paper import PaperVenue
from trading.models import Order
from trading.models import OrderStatus as S

logger = logging.getLogger(__name__)
# Each batch's stages (DEBUG): claimed, committed, pushes handed to the channel layer, in ms since the batch began
# at `began` (the orders' `submitted_at`). The bench's order → fill step reads them to take the latency apart.
stages = logging.getLogger(f"{__name__}.stages")

PAPER = "paper"


def paper_batch_run(
    *,
    order_ids: Collection | None = None,
    limit: int | None = None,
    pushes_handed_to: Callable[[Callable[[], None]], object] | None = None,
) -> int:
    """Accept and fill one batch of `new` paper orders (only `order_ids`, if given) in one transaction.
    Its pushes (and announcements) go out together once it has committed: before it returns, or later, by the
    call handed to `pushes_handed_to`. Returns how many orders it took."""
    venue = cast(PaperVenue, broker_by_name(PAPER))
    began = time.perf_counter()
    batch: dict = {}
    push = pushes_handed_to or _called

    with sends_gathered(lambda sending: push(partial(_pushes_sent, sending, batch, began))):
        taken = _paper_batch_book(venue, order_ids=order_ids, limit=limit, batch=batch)
        batch["committed"] = time.perf_counter()
    return taken


def _called(call: Callable[[], None]) -> None:
    call()


def _pushes_sent(sending: Callable[[], None], batch: dict, began: float) -> None:
    sending()
    if batch.get("orders") and stages.isEnabledFor(logging.DEBUG):
        ms = {name: round((batch[name] - began) * 1000, 2) for name in ("claimed", "committed")}
        stages.debug(
            "paper batch began=%s orders=%d claimed_ms=%s committed_ms=%s pushed_ms=%s",
            batch["now"].isoformat(),
            batch["orders"],
            ms["claimed"],
            ms["committed"],
            round((time.perf_counter() - began) * 1000, 2),
        )


def _paper_batch_book(venue: PaperVenue, *, order_ids: Collection | None, limit: int | None, batch: dict) -> int:
    with transaction.atomic():
        now = batch["now"] = timezone.now()
        orders = services.inbox_claim(
            venue=venue.name, order_ids=order_ids, limit=limit or settings.TRADING_ENGINE_BATCH_SIZE
        )
        batch["claimed"], batch["orders"] = time.perf_counter(), len(orders)
        if not orders:
            return 0
        answers = {order.pk: _venue_answer(venue, order) for order in orders}
        for order in orders:
            if not answers[order.pk].accepted:  # a replacement the venue refused: the old order stays live
                services.order_venue_update(
                    order_id=order.pk, to_status=S.REJECTED, event="rejected", reason=answers[order.pk].reject_reason
                )
        orders = [order for order in orders if answers[order.pk].accepted]
        accepted = {order.pk: answers[order.pk].broker_order_id for order in orders}
        services.orders_accepted_at_once(orders=orders, broker_order_ids=accepted, now=now)
        quotes = latest_quotes({order.symbol for order in orders})
        decisions = [(order, venue.accept_decision(order, quotes.get(order.symbol), now)) for order in orders]
        # The batch's plain complete fills together in one savepoint, the rest each in its own: one that fails is
        # rolled back alone (the order stays accepted, in the book); the batch's other orders are unaffected.
        paper_fills.accept_decisions_book(
            [(order, decision) for order, decision in decisions if decision is not None], now
        )
    return len(answers)


def _venue_answer(venue: PaperVenue, order: Order) -> SubmitOutcome:
    """As `submit_order` asks: a replacement of an order still pending_replace (a venue that acknowledges
    replacements later) goes as a replace of it, any other order as a submission."""
    replaced = order.replaces if order.replaces_id else None
    if replaced is not None and replaced.status == S.PENDING_REPLACE:
        return venue.replace(replaced, order)
    return venue.submit(order)


def outbox_relay(*, limit: int | None = None) -> int:
    """Hand committed `new` orders of external venues to `submit_order`, at least once. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        waiting = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=S.NEW, submit_queued_at__isnull=True)
            .exclude(broker=PAPER)
            .order_by("created_at")
            .values_list("pk", flat=True)[: limit or settings.TRADING_ENGINE_BATCH_SIZE]
        )
        # Marked only once the broker took the message; a refused one waits for the next pass.
        sent = [order_id for order_id in waiting if queueing.order_submit_queue(order_id)]
        Order.objects.filter(pk__in=sent).update(submit_queued_at=now)
    return len(sent)


class OrderEngine:
    """The engine's loop: a batch whenever placement wakes it, and a poll as the fallback."""

    def __init__(self) -> None:
        self.poll_seconds = settings.TRADING_ENGINE_POLL_SECONDS
        self.batch_size = settings.TRADING_ENGINE_BATCH_SIZE
        self.batches = 0
        # A thread (and so a database connection) of its own: in the shared thread-sensitive one, a batch
        # woken by a placement waited behind whatever the feed's tick handlers had queued there (matching,
        # alerts, bar writes for a thousand symbols), however long those took.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="order-engine")
        # The batches' pushes, sent in the order the batches committed by a thread of their own: the next batch
        # claims what has arrived while the last one's pushes are on their way.
        self.pusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="order-engine-pushes")
        self.pushes: Future | None = None  # the last batch's
        self.heartbeat = Heartbeat("engine")

    def _in_engine_thread(self, work: Callable[..., int]) -> Callable[..., Awaitable[int]]:
        return DatabaseSyncToAsync(work, thread_sensitive=False, executor=self.thread)

    async def run(self, stop: asyncio.Event) -> None:
        async with singleton_active(AdvisoryLock.ORDER_ENGINE, "", stop) as active:
            if not active:
                return
            client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
            wakes = client.pubsub(ignore_subscribe_messages=True)
            try:
                # Subscribed before the first pass looks at the inbox: an order committed after that look is woken
                # for, not left to the poll.
                await self._wakes_subscribed(wakes)
                while not stop.is_set():
                    failing = await self.work_off(stop)
                    # `manage.py healthcheck engine`: a pass ended (with the failure, when it failed).
                    self.heartbeat.beat(batches=self.batches, **({"failing": failing} if failing else {}))
                    await self._wake_or_poll(wakes)
            finally:
                await wakes.aclose()
                await client.aclose()
                self.thread.shutdown(wait=False)
                await asyncio.to_thread(self.pusher.shutdown)  # what was booked is pushed before the engine ends
            logger.info("Order engine stopped after %d batches.", self.batches)

    async def work_off(self, stop: asyncio.Event | None = None) -> str | None:
        """Paper batches until one finds the inbox empty (or until `stop`: a stopping engine ends after the batch in
        progress), then the outbox. Each batch claims whatever has committed (at most TRADING_ENGINE_BATCH_SIZE):
        what arrived while the last one booked goes in the next, at once, without waiting for its wake. While the
        inbox stays busy the outbox and the heartbeat still get their turn every TRADING_ENGINE_POLL_SECONDS.
        Returns why the pass failed, or None."""
        try:
            turn = time.monotonic()
            while await self._paper_batch() and not (stop is not None and stop.is_set()):
                if time.monotonic() - turn >= self.poll_seconds:
                    await self._in_engine_thread(outbox_relay)(limit=self.batch_size)
                    self.heartbeat.beat(batches=self.batches)
                    turn = time.monotonic()
            await self._in_engine_thread(outbox_relay)(limit=self.batch_size)
            if self.pushes is not None:
                await asyncio.wrap_future(self.pushes)  # a pass ends with its batches' pushes sent
        except Exception as failure:
            # The database went away (or a bug): the orders stay `new`; the next pass takes them.
            logger.exception("Order engine pass failed; retrying at the next wake or poll.")
            return f"pass failed ({failure.__class__.__name__})"
        return None

    async def _paper_batch(self) -> int:
        began = time.perf_counter()
        taken = await self._in_engine_thread(paper_batch_run)(
            limit=self.batch_size, pushes_handed_to=self._pushes_queue
        )
        if taken:
            self.batches += 1
            engine_orders.inc(taken)
            engine_batch_seconds.observe(time.perf_counter() - began)
        return taken

    def _pushes_queue(self, sending: Callable[[], None]) -> None:
        self.pushes = self.pusher.submit(_pushes_made, sending)

    async def _wakes_subscribed(self, wakes: redis.asyncio.client.PubSub) -> None:
        with contextlib.suppress(redis.RedisError, OSError):  # unreachable: `_wake_or_poll` says so, and polls
            await wakes.subscribe(queueing.ENGINE_WAKE_CHANNEL)

    async def _wake_or_poll(self, wakes: redis.asyncio.client.PubSub) -> None:
        try:
            if not wakes.subscribed:
                await wakes.subscribe(queueing.ENGINE_WAKE_CHANNEL)
            if await wakes.get_message(timeout=self.poll_seconds) is not None:
                # Every wake that arrived meanwhile is answered by the same pass.
                while await wakes.get_message(timeout=0) is not None:
                    pass
        except (redis.RedisError, OSError) as unreachable:
            logger.warning("Order engine: no wake messages (%s); polling.", unreachable)
            await wakes.reset()
            await asyncio.sleep(self.poll_seconds)


def _pushes_made(sending: Callable[[], None]) -> None:
    """A batch's pushes in the engine's pusher thread: a failure is logged (the batch is booked; its clients see
    the orders filled when they next read them) and does not hold up the batches after it."""
    try:
        sending()
    except Exception:
        logger.exception("Order engine: a batch's pushes failed.")
    finally:
        close_old_connections()  # a subscriber run eagerly (tests) read through Django in this thread
