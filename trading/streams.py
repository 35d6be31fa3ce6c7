"""Venue streams (`manage.py run_broker_streams`): what venues push, or what polling finds, into the services.

* Alpaca: alpaca-py's `TradingStream` (url_override ALPACA_STREAM_URL) on `trade_updates`,
  each update read into `venues.alpaca`'s TradeUpdateReport.
  alpaca-py reconnects a dropped socket itself (exponential backoff with jitter) and
  listens again; what happened during the gap reaches us through the next updates'
  cumulative totals and through reconciliation. `fill`/`partial_fill` become executions
  from the order's cumulative `filled_qty` (`execution_apply_cumulative`, id
  `alpaca:<alpaca id>:<total>`): a replayed, repeated or out-of-order update books nothing
  twice. `new`/`accepted` confirm a `pending_new` order; `canceled`, `expired`,
  `rejected`, `done_for_day` become status changes through `order_venue_update`.
* ccxt, pushed: when the exchange's ccxt.pro class has `watchOrders`, `CcxtOrderUpdates`
  loops on `watch_orders()` (binance/binanceus: the WebSocket API's user data stream, its
  `executionReport` events). Each pushed unified order is applied exactly as a polled one
  (`CcxtBroker.venue_state`, then `reconciliation.venue_state_apply`: cumulative totals,
  ids `ccxt:<exchange>:<venue order id>:<total>`), so a repeated, late or out-of-order
  report books nothing twice. An exchange that pushes only trades (`watchMyTrades`) has the
  trade's order polled. Orders that are not ours are logged and left to reconciliation. A
  network or exchange error reconnects with backoff (`venues.ccxt.reconnect_delay`, cap 60 s).
* ccxt, the safety net: alongside the socket our open orders are still polled, every
  BROKER_STREAMS_SAFETY_POLL_SECONDS (60 s: one REST request per open order, cheap next
  to the exchange's request budget) and at once after every reconnect, for what the socket
  missed while it was down; from a socket error until the next push (an exchange that
  refuses the subscription, say) as often as exchanges that push nothing, every
  BROKER_STREAMS_POLL_SECONDS. Reconciliation (every 30 s) compares everything anyway.
"""

import asyncio
import contextlib
import copy
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

import ccxt
from alpaca.trading.models import TradeUpdate
from channels.db import database_sync_to_async
from django.conf import settings

from speedtrade.cancellation import cancel_and_wait
from speedtrade.heartbeats import Heartbeat
from trading import reconciliation, services
from trading.brokers.alpaca import STATUSES
from trading.brokers.base import VenueUnavailable, broker_by_name
from trading.models import OPEN_STATUSES, Order
from trading.models import OrderStatus as S
from trading.states import IllegalTransition

if TYPE_CHECKING:
    from trading.brokers.ccxt import CcxtBroker
from venues import alpaca
from venues.ccxt import RECONNECT_CAP_SECONDS, build_exchange, reconnect_delay

logger = logging.getLogger(__name__)

FILL_EVENTS = {"fill", "partial_fill"}
STATUS_EVENTS = {"canceled": S.CANCELED, "expired": S.EXPIRED, "rejected": S.REJECTED, "done_for_day": S.DONE_FOR_DAY}
ACCEPT_EVENTS = {"new", "accepted", "pending_new"}


def _order_id_or_none(client_order_id) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(client_order_id))
    except ValueError:
        return None  # not one of ours: placed at the venue by hand


def trade_update_apply(update: alpaca.TradeUpdateReport, *, venue: str = "alpaca") -> None:
    """One Alpaca trade update into our books. Updates for orders that are not ours are left to reconciliation."""
    event = update.event
    order_id = _order_id_or_none(update.order.client_order_id)
    if order_id is None:
        logger.warning("%s trade update %s for an order that is not ours: %s", venue, event, update.order.id)
        return
    order = Order.objects.filter(pk=order_id, broker=venue).first()
    if order is None:
        logger.warning("%s trade update %s for unknown order %s", venue, event, order_id)
        return
    broker_order_id = update.order.id
    try:
        if event in ACCEPT_EVENTS and order.status == S.PENDING_NEW:
            services.order_venue_update(
                order_id=order.id, to_status=S.ACCEPTED, broker_order_id=broker_order_id, detail={"found_by": "stream"}
            )
        elif event in FILL_EVENTS:
            services.execution_apply_cumulative(
                order_id=order.id,
                broker_exec_prefix=f"{venue}:{broker_order_id}",
                filled_qty=update.order.filled_qty,
                filled_avg_price=update.order.filled_avg_price,
                fill_qty=update.qty,
                fill_price=update.price,
                executed_at=update.timestamp,
                final=STATUSES.get(update.order.status) == S.FILLED,
            )
        elif event in STATUS_EVENTS:
            services.order_venue_update(order_id=order.id, to_status=STATUS_EVENTS[event], detail={"source": "stream"})
    except IllegalTransition as refused:
        logger.warning("%s trade update %s for order %s not applied: %s", venue, event, order.id, refused)


class AlpacaTradeUpdates:
    """alpaca-py's TradingStream feeding `trade_update_apply`."""

    def __init__(self, venue: str = "alpaca") -> None:
        self.venue = venue
        self.stream = alpaca.trade_updates_stream(settings)
        self.stream.subscribe_trade_updates(self._on_update)

    async def _on_update(self, update: TradeUpdate) -> None:
        await database_sync_to_async(trade_update_apply)(alpaca.trade_update_report(update), venue=self.venue)

    async def run(self) -> None:
        # `_run_forever` is alpaca-py's reconnecting loop; its public `run()` starts an event loop of its own.
        try:
            await self.stream._run_forever()
        finally:
            await self.stream.close()


def _sent_orders(venue: str):
    """Our orders that went to the venue (a `new` order has not been sent yet)."""
    return Order.objects.filter(broker=venue).exclude(status=S.NEW).select_related("asset", "account")


def order_poll(venue: str, order: Order) -> int:
    """Ask the venue about one of our orders and apply what changed. Returns the fills booked."""
    known = broker_by_name(venue).get_by_client_order_id(str(order.id))
    return 0 if known is None else reconciliation.venue_state_apply(venue, order, known, found_by="poll")


def venue_poll(venue: str) -> int:
    """Read every open order of a polled venue and apply what changed. Returns the fills booked."""
    return sum(order_poll(venue, order) for order in _sent_orders(venue).filter(status__in=OPEN_STATUSES))


def pushed_order_apply(venue: str, pushed: dict) -> int:
    """One unified order a ccxt exchange pushed, applied as a polled one. Returns the fills booked."""
    order_id = _order_id_or_none(pushed.get("clientOrderId"))
    order = _sent_orders(venue).filter(pk=order_id).first() if order_id else None
    if order is None:
        logger.warning(
            "%s pushed order %s (client order id %r) is not ours; left to reconciliation",
            venue,
            pushed.get("id"),
            pushed.get("clientOrderId"),
        )
        return 0
    # Only ccxt venues push orders (see the docstring), so this is a CcxtBroker, not the generic Broker.
    broker = cast("CcxtBroker", broker_by_name(venue))
    # The order was sent to this venue, so its symbol has a market there (market_for is None only without one).
    state = broker.venue_state(pushed, cast(dict, broker.market_for(order.symbol)))
    return reconciliation.venue_state_apply(venue, order, state, found_by="stream")


def pushed_trade_apply(venue: str, trade: dict) -> int:
    """A trade a ccxt exchange pushed without its order: the order is polled (its cumulative total counts)."""
    order = _sent_orders(venue).filter(broker_order_id=str(trade.get("order"))).first()
    if order is None:
        logger.warning("%s pushed a trade of order %s, not ours; left to reconciliation", venue, trade.get("order"))
        return 0
    return order_poll(venue, order)


async def poll_forever(venue: str, *, every: Callable[[], float], wake: asyncio.Event | None = None) -> None:
    """Poll the venue every `every()` seconds, and at once whenever `wake` is set."""
    wake = wake or asyncio.Event()
    failures = 0
    while True:
        wake.clear()
        try:
            await database_sync_to_async(venue_poll)(venue)
            failures = 0
            delay = every()
        except VenueUnavailable as down:
            failures += 1
            delay = reconnect_delay(failures)
            logger.warning("polling %s failed (%s); retrying in %.1fs", venue, down, delay)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()


class CcxtOrderUpdates:
    """One ccxt exchange's order updates: pushed (ccxt.pro) under a slow safety poll, or only polled."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        # ccxt.pro's class where ccxt has one; same keys, sandbox and urls as the venue adapter's client.
        self.exchange = build_exchange(settings, venue.partition(":")[2], streaming=True)
        self.poll_now = asyncio.Event()
        self.socket_failing = False  # from a socket error until the next push: polled as if it pushed nothing

    @property
    def pushes(self) -> str | None:
        """What the exchange can push about our account: "orders", "trades" or nothing."""
        has = self.exchange.has
        return "orders" if has.get("watchOrders") else "trades" if has.get("watchMyTrades") else None

    async def run(self) -> None:
        try:
            if self.pushes is None:
                await poll_forever(self.venue, every=lambda: settings.BROKER_STREAMS_POLL_SECONDS)
                return
            safety_poll = asyncio.create_task(poll_forever(self.venue, every=self._poll_every, wake=self.poll_now))
            try:
                await self._watch()
            finally:
                await cancel_and_wait([safety_poll])
        finally:
            await self.exchange.close()

    def _poll_every(self) -> float:
        if self.socket_failing:
            return settings.BROKER_STREAMS_POLL_SECONDS
        return settings.BROKER_STREAMS_SAFETY_POLL_SECONDS

    async def _watch(self) -> None:
        updates: asyncio.Queue[list[dict]] = asyncio.Queue()
        applier = asyncio.create_task(self._apply_forever(updates))
        try:
            await self._receive_forever(updates)
        finally:
            await cancel_and_wait([applier])

    async def _receive_forever(self, updates: asyncio.Queue) -> None:
        watch = self.exchange.watch_orders if self.pushes == "orders" else self.exchange.watch_my_trades
        loop = asyncio.get_running_loop()
        failures, connected_at = 0, loop.time()
        while True:
            try:
                # Straight back to watching, the applying is done elsewhere: ccxt.pro hands an update
                # only to a watch that is waiting (one arriving in between waits for the next report).
                # Copied at once: ccxt.pro's cache keeps changing the dicts it returned.
                updates.put_nowait(copy.deepcopy(await watch()))
                self.socket_failing = False
            except (ccxt.NetworkError, ccxt.ExchangeError) as error:
                self.socket_failing = True
                # A connection that lasted a while failing is a first failure, not one more of a series.
                failures = 1 if loop.time() - connected_at > RECONNECT_CAP_SECONDS else failures + 1
                delay = reconnect_delay(failures)
                logger.warning(
                    "%s order stream failed (%s); reconnecting in %.1fs", self.venue, type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                connected_at = loop.time()
                self.poll_now.set()  # the safety poll catches up on what the socket missed

    async def _apply_forever(self, updates: asyncio.Queue) -> None:
        apply = pushed_order_apply if self.pushes == "orders" else pushed_trade_apply
        while True:
            for pushed in await updates.get():
                try:
                    await database_sync_to_async(apply)(self.venue, pushed)
                except VenueUnavailable as down:  # asking for the order's trades failed: the poll asks again
                    logger.warning("%s pushed update not applied (%s); polling instead", self.venue, down)
                    self.poll_now.set()


HEARTBEAT_SECONDS = 5.0  # `manage.py healthcheck broker-streams` reads it


def stream_jobs(venues: set[str]) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The coroutine factory per venue that needs one (paper needs none: it matches in process)."""
    jobs: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
    for venue in sorted(venues):
        if venue == "alpaca":
            jobs[venue] = lambda: AlpacaTradeUpdates().run()
        elif venue.startswith("ccxt:"):
            # The default argument binds this loop's venue; mypy cannot type a lambda's defaulted parameter.
            jobs[venue] = lambda venue=venue: CcxtOrderUpdates(venue).run()  # type: ignore[misc]
    return jobs


async def run_streams(venues: set[str], stop: asyncio.Event) -> None:
    """Run every venue's stream until `stop` is set (SIGTERM), then end them for sure."""
    tasks = {venue: asyncio.create_task(job(), name=f"stream:{venue}") for venue, job in stream_jobs(venues).items()}
    if not tasks:
        logger.info("no venue needs a stream (paper only)")
    heartbeat = Heartbeat("broker-streams", every=HEARTBEAT_SECONDS)
    while not stop.is_set():
        # Every stream reconnects or polls on its own for as long as it runs: one that ended has failed.
        ended = sorted(venue for venue, task in tasks.items() if task.done())
        heartbeat.beat(venues=sorted(tasks), failing=f"stream of {', '.join(ended)} ended" if ended else None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HEARTBEAT_SECONDS):
                await stop.wait()
    await cancel_and_wait(list(tasks.values()))
