"""Venue streams (`manage.py run_broker_streams`): what venues push, or what polling finds, into the services.

* Alpaca: alpaca-py's `TradingStream` (url_override ALPACA_STREAM_URL) on `trade_updates`.
  alpaca-py reconnects a dropped socket itself (exponential backoff with jitter) and
  listens again; what happened during the gap reaches us through the next updates'
  cumulative totals and through reconciliation. `fill`/`partial_fill` become executions
  from the order's cumulative `filled_qty` (`execution_apply_cumulative`, id
  `alpaca:<alpaca id>:<total>`): a replayed, repeated or out-of-order update books nothing
  twice. `new`/`accepted` confirm a `pending_new` order; `canceled`, `expired`,
  `rejected`, `done_for_day` become status changes through `order_venue_update`.
* ccxt: polled every BROKER_STREAMS_POLL_SECONDS: each open order of the venue is read
  by client order id and applied the same way reconciliation applies it. (ccxt.pro's
  `watch_orders` would need a recorded exchange websocket protocol to test offline; the
  poll works for every exchange ccxt supports.)
"""

import asyncio
import logging
import uuid
from decimal import Decimal

from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from channels.db import database_sync_to_async
from django.conf import settings

from marketdata.feeds.alpaca import alpaca_credentials
from marketdata.feeds.backoff import reconnect_delay
from marketdata.feeds.cancellation import cancel_and_wait
from trading import reconciliation, services
from trading.brokers.alpaca import STATUSES
from trading.brokers.base import VenueUnavailable, broker_by_name
from trading.models import OPEN_STATUSES, Order
from trading.models import OrderStatus as S
from trading.states import IllegalTransition

logger = logging.getLogger(__name__)

FILL_EVENTS = {"fill", "partial_fill"}
STATUS_EVENTS = {"canceled": S.CANCELED, "expired": S.EXPIRED, "rejected": S.REJECTED, "done_for_day": S.DONE_FOR_DAY}
ACCEPT_EVENTS = {"new", "accepted", "pending_new"}


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def trade_update_apply(update: TradeUpdate, *, venue: str = "alpaca") -> None:
    """One Alpaca trade update into our books. Updates for orders that are not ours are left to reconciliation."""
    event = str(getattr(update.event, "value", update.event))
    try:
        order_id = uuid.UUID(update.order.client_order_id)
    except (TypeError, ValueError):
        logger.warning("%s trade update %s for an order that is not ours: %s", venue, event, update.order.id)
        return
    order = Order.objects.filter(pk=order_id, broker=venue).first()
    if order is None:
        logger.warning("%s trade update %s for unknown order %s", venue, event, order_id)
        return
    broker_order_id = str(update.order.id)
    try:
        if event in ACCEPT_EVENTS and order.status == S.PENDING_NEW:
            services.order_venue_update(
                order_id=order.id, to_status=S.ACCEPTED, broker_order_id=broker_order_id, detail={"found_by": "stream"}
            )
        elif event in FILL_EVENTS:
            services.execution_apply_cumulative(
                order_id=order.id,
                broker_exec_prefix=f"{venue}:{broker_order_id}",
                filled_qty=_decimal(update.order.filled_qty) or Decimal(0),
                filled_avg_price=_decimal(update.order.filled_avg_price),
                fill_qty=_decimal(update.qty),
                fill_price=_decimal(update.price),
                executed_at=update.timestamp,
                final=STATUSES.get(str(getattr(update.order.status, "value", update.order.status))) == S.FILLED,
            )
        elif event in STATUS_EVENTS:
            services.order_venue_update(order_id=order.id, to_status=STATUS_EVENTS[event], detail={"source": "stream"})
    except IllegalTransition as refused:
        logger.warning("%s trade update %s for order %s not applied: %s", venue, event, order.id, refused)


class AlpacaTradeUpdates:
    """alpaca-py's TradingStream feeding `trade_update_apply`."""

    def __init__(self, venue: str = "alpaca") -> None:
        api_key, secret_key = alpaca_credentials(settings)
        self.venue = venue
        self.stream = TradingStream(
            api_key, secret_key, paper=settings.ALPACA_PAPER, url_override=settings.ALPACA_STREAM_URL or None
        )
        self.stream.subscribe_trade_updates(self._on_update)

    async def _on_update(self, update: TradeUpdate) -> None:
        await database_sync_to_async(trade_update_apply)(update, venue=self.venue)

    async def run(self) -> None:
        # `_run_forever` is alpaca-py's reconnecting loop; its public `run()` starts an event loop of its own.
        try:
            await self.stream._run_forever()
        finally:
            await self.stream.close()


def venue_poll(venue: str) -> int:
    """Read every open order of a polled venue and apply what changed. Returns the fills booked."""
    broker = broker_by_name(venue)
    booked = 0
    open_orders = Order.objects.filter(broker=venue, status__in=OPEN_STATUSES).exclude(status=S.NEW)
    for order in open_orders.select_related("asset", "account"):
        known = broker.get_by_client_order_id(str(order.id))
        if known is not None:
            booked += reconciliation.venue_state_apply(venue, order, known, found_by="poll")
    return booked


async def poll_forever(venue: str, *, every: float) -> None:
    failures = 0
    while True:
        try:
            await database_sync_to_async(venue_poll)(venue)
            failures = 0
            await asyncio.sleep(every)
        except VenueUnavailable as down:
            failures += 1
            delay = reconnect_delay(failures, cap=60.0)
            logger.warning("polling %s failed (%s); retrying in %.1fs", venue, down, delay)
            await asyncio.sleep(delay)


def stream_jobs(venues: set[str]) -> dict[str, object]:
    """The coroutine factory per venue that needs one (paper needs none: it matches in process)."""
    jobs = {}
    for venue in sorted(venues):
        if venue == "alpaca":
            jobs[venue] = lambda: AlpacaTradeUpdates().run()
        elif venue.startswith("ccxt:"):
            jobs[venue] = lambda venue=venue: poll_forever(venue, every=settings.BROKER_STREAMS_POLL_SECONDS)
    return jobs


async def run_streams(venues: set[str], stop: asyncio.Event) -> None:
    """Run every venue's stream until `stop` is set (SIGTERM), then end them for sure."""
    tasks = [asyncio.create_task(job(), name=f"stream:{venue}") for venue, job in stream_jobs(venues).items()]
    if not tasks:
        logger.info("no venue needs a stream (paper only)")
    await stop.wait()
    await cancel_and_wait(tasks)
