"""Alpaca as a venue (alpaca-py `TradingClient`), for stocks and crypto, in the omnibus model.

* Every SpeedTrade order goes to Alpaca as a *simple* order of its own type, time in
  force and `extended_hours`, with our order id as `client_order_id`; Alpaca's id becomes
  `broker_order_id`. Contingent orders (bracket/OCO/OTO) are held by the trading core and
  reach Alpaca only as the simple legs it releases, for stocks and crypto alike: one code
  path, and Alpaca cannot hold contingent crypto orders anyway.
* Outcomes: 403 (e.g. insufficient buying power) and 422 (invalid) are definite
  rejections carrying Alpaca's message. 429, 5xx, timeouts and connection errors are
  unknown outcomes: `VenueUnavailable`, and the submit task looks the order up by client
  order id before it tries again. A 422 "client_order_id must be unique" means Alpaca
  already has this order (an earlier attempt whose answer was lost): it is looked up.
* The client is `venues.alpaca`'s (the feed's credentials and settings): alpaca-py's own
  retry on 429/504 is off (it would resend a POST whose first attempt may have been
  accepted); every request first takes a token from a bucket shared by all processes
  (ALPACA_REQUESTS_PER_MINUTE, Alpaca allows 200 a minute per account) and has a timeout
  (ALPACA_TIMEOUT_SECONDS).
* Fills: Alpaca's order object carries cumulative `filled_qty`/`filled_avg_price`; they are
  booked as differences (`execution_apply_cumulative`, ids `alpaca:<alpaca id>:<total>`),
  the same ids the trade-updates stream (`trading/streams.py`) produces.
* Quantities and prices travel as JSON numbers (alpaca-py's models are floats); Python
  writes the shortest decimal that round-trips, so our ≤ 9-decimal values arrive as written.
  A replacement's quantity goes as a decimal string (alpaca-py's replace request would
  only take a whole number).
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)
from django.conf import settings
from pydantic import field_serializer

from trading.brokers.base import SubmitOutcome, VenueOrderState, VenueUnavailable
from trading.brokers.rate_limit import TokenBucket
from trading.models import Order
from trading.models import OrderStatus as S
from trading.serialization import decimal_string
from venues import alpaca

logger = logging.getLogger(__name__)

REQUESTS: dict[str, Callable[..., OrderRequest]] = {
    Order.Type.MARKET: MarketOrderRequest,
    Order.Type.LIMIT: LimitOrderRequest,
    Order.Type.STOP: StopOrderRequest,
    Order.Type.STOP_LIMIT: StopLimitOrderRequest,
    Order.Type.TRAILING_STOP: TrailingStopOrderRequest,
}
PRICE_FIELDS = ("limit_price", "stop_price", "trail_price", "trail_percent")
DEFINITE_REJECTIONS = {400, 403, 404, 422}  # the request was refused and changed nothing
DUPLICATE_CLIENT_ORDER_ID = "client_order_id must be unique"
OPEN_ORDERS_PAGE = 500  # Alpaca's largest page of orders

# Alpaca's order statuses in ours. Alpaca's "new"/"pending_new" mean Alpaca has the order: accepted.
STATUSES = {
    "new": S.ACCEPTED,
    "pending_new": S.ACCEPTED,
    "accepted": S.ACCEPTED,
    "accepted_for_bidding": S.ACCEPTED,
    "held": S.ACCEPTED,
    "stopped": S.ACCEPTED,
    "suspended": S.ACCEPTED,
    "calculated": S.PARTIALLY_FILLED,
    "partially_filled": S.PARTIALLY_FILLED,
    "filled": S.FILLED,
    "done_for_day": S.DONE_FOR_DAY,
    "pending_cancel": S.PENDING_CANCEL,
    "canceled": S.CANCELED,
    "expired": S.EXPIRED,
    "pending_replace": S.PENDING_REPLACE,
    "replaced": S.REPLACED,
    "rejected": S.REJECTED,
}


class DecimalQtyReplaceOrderRequest(ReplaceOrderRequest):
    """alpaca-py's replace request with the quantity sent as a decimal string.

    alpaca-py types `qty` as an int: a fractional replacement could not carry its quantity,
    and Alpaca would keep the old one while our replacement says otherwise.
    """

    qty: Decimal | None = None  # type: ignore[assignment]  # deliberately wider than alpaca-py's int (above)

    @field_serializer("qty")
    def _qty_on_the_wire(self, qty: Decimal | None) -> str | None:
        return decimal_string(qty)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def order_request(order: Order):
    """The alpaca-py request model for a simple order of any type."""
    fields = {
        "symbol": order.symbol,
        "side": OrderSide(order.side),
        "time_in_force": TimeInForce(order.time_in_force),
        "order_class": OrderClass.SIMPLE,
        "extended_hours": order.extended_hours or None,
        "client_order_id": str(order.id),
        "qty": _number(order.qty),
        "notional": _number(order.notional),
    }
    fields |= {name: _number(getattr(order, name)) for name in PRICE_FIELDS if getattr(order, name) is not None}
    return REQUESTS[order.type](**{name: value for name, value in fields.items() if value is not None})


def venue_state(report: alpaca.OrderReport) -> VenueOrderState:
    return VenueOrderState(
        broker_order_id=report.id,
        status=STATUSES.get(report.status, S.ACCEPTED),
        filled_qty=report.filled_qty,
        filled_avg_price=report.filled_avg_price,
    )


def _message(error: APIError) -> str:
    try:
        return error.message
    except (ValueError, KeyError, TypeError):
        return str(error)[:255]


class AlpacaBroker:
    def __init__(self, name: str = "alpaca") -> None:
        self.name = name
        api_key, _ = alpaca.credentials(settings)
        budget = TokenBucket(f"alpaca:{api_key}", per_minute=settings.ALPACA_REQUESTS_PER_MINUTE)
        self.client = alpaca.trading_client(settings, budget=budget)

    def __repr__(self) -> str:
        return f"AlpacaBroker({self.name!r})"  # never the keys

    def _call(self, method, *args):
        """Run one client call; an unknown outcome becomes VenueUnavailable, a definite refusal stays APIError."""
        try:
            return method(*args)
        except requests.RequestException as error:  # timeouts, refused connections
            raise VenueUnavailable(f"alpaca: {type(error).__name__}") from error
        except APIError as error:
            if error.status_code in DEFINITE_REJECTIONS:
                raise
            raise VenueUnavailable(f"alpaca: HTTP {error.status_code}") from error

    def submit(self, order: Order) -> SubmitOutcome:
        try:
            placed = self._call(self.client.submit_order, order_request(order))
        except APIError as refused:
            message = _message(refused)
            if DUPLICATE_CLIENT_ORDER_ID in message:
                known = self.get_by_client_order_id(str(order.id))
                if known is not None:
                    return SubmitOutcome(accepted=True, broker_order_id=known.broker_order_id)
            return SubmitOutcome(accepted=False, reject_reason=f"Alpaca: {message}")
        return SubmitOutcome(accepted=True, broker_order_id=str(placed.id))

    def cancel(self, order: Order) -> bool:
        """Ask Alpaca to cancel. Alpaca confirms asynchronously (a `canceled` trade update), so never True here."""
        broker_order_id = order.broker_order_id
        if not broker_order_id:
            known = self.get_by_client_order_id(str(order.id))
            if known is None:
                return True  # Alpaca never had it: nothing to cancel there
            broker_order_id = known.broker_order_id
        try:
            self._call(self.client.cancel_order_by_id, broker_order_id)
        except APIError as refused:  # 422: no longer cancelable (filled); the stream/reconciliation says what happened
            logger.info("alpaca refused to cancel order %s: %s", order.id, _message(refused))
        return False

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        changes = DecimalQtyReplaceOrderRequest(
            qty=replacement.qty,
            time_in_force=TimeInForce(replacement.time_in_force),
            limit_price=_number(replacement.limit_price),
            stop_price=_number(replacement.stop_price),
            trail=_number(
                replacement.trail_price if replacement.trail_price is not None else replacement.trail_percent
            ),
            client_order_id=str(replacement.id),
        )
        try:
            placed = self._call(self.client.replace_order_by_id, order.broker_order_id, changes)
        except APIError as refused:
            return SubmitOutcome(accepted=False, reject_reason=f"Alpaca: {_message(refused)}")
        return SubmitOutcome(accepted=True, broker_order_id=str(placed.id))

    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        try:
            found = self._call(self.client.get_order_by_client_id, client_order_id)
        except APIError as error:
            if error.status_code == 404:
                return None
            raise VenueUnavailable(f"alpaca: HTTP {error.status_code} looking up {client_order_id}") from error
        return venue_state(alpaca.order_report(found))

    def open_orders(self) -> dict[str, VenueOrderState]:
        """Every open order: `get_orders(status=open)` oldest first, a page of 500 at a time, each page
        after the last one's `submitted_at`, until a short page."""
        found: dict[str, alpaca.OrderReport] = {}
        after = None
        while True:
            request = GetOrdersRequest(
                status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_PAGE, direction=Sort.ASC, after=after
            )
            try:
                page = self._call(self.client.get_orders, request)
            except APIError as error:
                raise VenueUnavailable(f"alpaca: HTTP {error.status_code} listing open orders") from error
            reports = [alpaca.order_report(order) for order in page]
            new = {report.client_order_id: report for report in reports if report.client_order_id not in found}
            found |= new
            if len(page) < OPEN_ORDERS_PAGE or not new:
                return {client_order_id: venue_state(order) for client_order_id, order in found.items()}
            # `after` is exclusive: start just before the page's last order, so another order submitted
            # in the same instant is not skipped (the last one comes again and is kept once).
            after = reports[-1].submitted_at - timedelta(microseconds=1)
