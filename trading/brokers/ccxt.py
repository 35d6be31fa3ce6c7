"""One crypto exchange through ccxt as a venue (`ccxt:<exchange id>`), in the omnibus model.

* The exchange is ccxt's synchronous client (called from Celery tasks), built by
  `venues.ccxt.build_exchange` like the feed's: `enableRateLimit`, sandbox when CCXT_SANDBOX
  (ccxt raises NotSupported for exchanges without one), keys from CCXT_API_KEY/SECRET/PASSWORD.
* Symbols: SpeedTrade's `BTC/USD` is the exchange market chosen by `venues.ccxt`'s
  `exchange_symbol_for` after `load_markets` (CCXT_USD_QUOTE_CURRENCIES in order).
* Before anything is sent, the order is checked against the market: quantity and prices
  on the exchange's precision, quantity and cost at or above its minimums. A miss is a
  rejection with a `venue_precision:` / `venue_minimum:` reason and no request.
* Our order id is ccxt's unified `clientOrderId` param (binance sends it as
  `newClientOrderId`, and looks orders up by `origClientOrderId`).
* Types: market (a notional buy is sent as ccxt's `cost`), limit, stop and stop_limit
  (ccxt's `triggerPrice`); trailing stops are refused (not portable across exchanges).
* Errors: InsufficientFunds / InvalidOrder → rejected with the exchange's message;
  DuplicateOrderId → the order is already there, looked up; NetworkError (RequestTimeout,
  RateLimitExceeded, ExchangeNotAvailable, DDoSProtection) and authentication failures →
  `VenueUnavailable` (unknown outcome: looked up before any retry).
* Fills: the unified order's cumulative `filled`/`average` and its trades, read into
  `venues.ccxt`'s ExchangeOrder/ExchangeTrade (each trade booked at its own price, in order):
  those the order carries when they are complete, else, where the exchange has
  `fetchMyTrades`, the exchange's list. Both are booked as cumulative
  differences, so pushed orders (`trading/streams.py`), polling and reconciliation never
  double-book.
"""

import logging
from decimal import Decimal
from typing import cast

import ccxt
from django.conf import settings

from speedtrade import money
from trading.brokers.base import SubmitOutcome, VenueFill, VenueOrderState, VenueUnavailable
from trading.models import Order
from trading.models import OrderStatus as S
from venues.ccxt import (
    ExchangeOrder,
    ExchangeTrade,
    build_exchange,
    exchange_symbol_for,
    order_from_unified,
    trades_of_order,
)
from venues.wire import optional_decimal

logger = logging.getLogger(__name__)

UNKNOWN_OUTCOME = (ccxt.NetworkError, ccxt.AuthenticationError, ccxt.ExchangeNotAvailable)
TYPES: dict[str, str] = {
    Order.Type.MARKET: "market",
    Order.Type.LIMIT: "limit",
    Order.Type.STOP: "market",
    Order.Type.STOP_LIMIT: "limit",
}


def _is_duplicate(error: ccxt.BaseError) -> bool:
    """The exchange already has an order with this client order id (binance: -2010 "Duplicate order sent.",
    which ccxt maps to plain InvalidOrder)."""
    return isinstance(error, ccxt.DuplicateOrderId) or "duplicate order" in str(error).lower()


class CcxtBroker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.exchange_id = name.partition(":")[2]
        self.exchange = build_exchange(settings, self.exchange_id, streaming=False, blocking=True)
        # Reconciliation lists every open order at once, on purpose (binance warns about the request weight).
        self.exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False

    def __repr__(self) -> str:
        return f"CcxtBroker({self.name!r})"  # never the keys

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except UNKNOWN_OUTCOME as error:
            raise VenueUnavailable(f"{self.name}: {type(error).__name__}") from error

    def market_for(self, symbol: str) -> dict | None:
        markets = self._call(self.exchange.load_markets)
        market_symbol = exchange_symbol_for(symbol, markets, settings.CCXT_USD_QUOTE_CURRENCIES)
        return markets[market_symbol] if market_symbol else None

    # --- submission --------------------------------------------------------------------
    def _precision_refusal(self, order: Order, market: dict) -> str | None:
        """Why the exchange would refuse the order's numbers, checked before sending it."""
        checks = [("qty", order.qty, self.exchange.amount_to_precision)]
        checks += [
            (name, getattr(order, name), self.exchange.price_to_precision)
            for name in ("limit_price", "stop_price")
            if getattr(order, name) is not None
        ]
        for field, value, to_precision in checks:
            if value is None:
                continue
            try:
                allowed = Decimal(to_precision(market["symbol"], str(value)))
            except ccxt.InvalidOrder as refused:  # below the precision's first step
                return f"venue_minimum: {field} {value.normalize()}: {refused}"
            if allowed != value:
                return f"venue_precision: {field} {value.normalize()} is not on {market['symbol']}'s step"
        limits = market.get("limits") or {}
        min_amount = optional_decimal((limits.get("amount") or {}).get("min"))
        if order.qty is not None and min_amount and order.qty < min_amount:
            return f"venue_minimum: qty {order.qty.normalize()} is below {market['symbol']}'s minimum {min_amount}"
        min_cost = optional_decimal((limits.get("cost") or {}).get("min"))
        price = order.limit_price or order.stop_price
        qty = cast(Decimal, order.qty)  # read only without a notional: then the order has a qty
        cost = order.notional if order.notional is not None else (qty * price if price else None)
        if min_cost and cost is not None and cost < min_cost:
            return f"venue_minimum: order value {cost.normalize()} is below {market['symbol']}'s minimum {min_cost}"
        return None

    def submit(self, order: Order) -> SubmitOutcome:
        if order.type not in TYPES:
            return SubmitOutcome(accepted=False, reject_reason=f"{self.name} does not take {order.type} orders.")
        market = self.market_for(order.symbol)
        if market is None:
            return SubmitOutcome(accepted=False, reject_reason=f"{self.name} lists no market for {order.symbol}.")
        refusal = self._precision_refusal(order, market)
        if refusal:
            return SubmitOutcome(accepted=False, reject_reason=refusal)
        params = {"clientOrderId": str(order.id)}
        if TYPES[order.type] == "limit":  # exchanges refuse a time in force on market orders (binance -1106)
            params["timeInForce"] = order.time_in_force.upper()
        if order.stop_price is not None:
            params["triggerPrice"] = str(order.stop_price)
        if order.notional is not None:
            params["cost"] = str(order.notional)
        amount = str(order.qty) if order.qty is not None else None
        price = str(order.limit_price) if order.limit_price is not None else None
        try:
            placed = self._call(
                self.exchange.create_order, market["symbol"], TYPES[order.type], order.side, amount, price, params
            )
        except (ccxt.InsufficientFunds, ccxt.InvalidOrder) as refused:
            if not _is_duplicate(refused):
                return SubmitOutcome(accepted=False, reject_reason=f"{self.name}: {refused}"[:255])
            known = self.get_by_client_order_id(str(order.id))
            if known is None:
                raise VenueUnavailable(f"{self.name}: duplicate client order id but no such order") from None
            return SubmitOutcome(accepted=True, broker_order_id=known.broker_order_id)
        return SubmitOutcome(accepted=True, broker_order_id=str(placed["id"]))

    def cancel(self, order: Order) -> bool:
        market = self.market_for(order.symbol)
        if market is None:
            return True
        try:
            self._call(
                self.exchange.cancel_order,
                order.broker_order_id or None,
                market["symbol"],
                {"clientOrderId": str(order.id)},
            )
        except ccxt.OrderNotFound:
            # Already ended at the exchange (filled, or never placed): its state is read, not assumed.
            known = self.get_by_client_order_id(str(order.id))
            return known is None or known.status == S.CANCELED
        return True

    def replace(self, order: Order, replacement: Order) -> SubmitOutcome:
        """Cancel, then submit the replacement (exchanges' native edits differ too much to rely on)."""
        if not self.cancel(order):
            return SubmitOutcome(accepted=False, reject_reason=f"{self.name} did not cancel the original order.")
        return self.submit(replacement)

    # --- questions -----------------------------------------------------------------------
    def get_by_client_order_id(self, client_order_id: str) -> VenueOrderState | None:
        order = Order.objects.filter(pk=client_order_id).only("symbol").first()
        market = self.market_for(order.symbol) if order is not None else None
        if market is None:
            return None
        try:
            found = self._call(self.exchange.fetch_order, None, market["symbol"], {"clientOrderId": client_order_id})
        except ccxt.OrderNotFound:
            return None
        return self.venue_state(found, market)

    def venue_state(self, found: dict, market: dict) -> VenueOrderState:
        """One unified order (fetched or pushed) as our venue state."""
        return self._venue_state(order_from_unified(found), market)

    def _venue_state(self, found: ExchangeOrder, market: dict) -> VenueOrderState:
        return VenueOrderState(
            broker_order_id=found.id,
            status=self.status(found),
            fills=self._fills(found, market) if found.filled > 0 else [],
            filled_qty=found.filled,
            filled_avg_price=found.average,
        )

    @staticmethod
    def status(found: ExchangeOrder) -> str:
        """ccxt's unified status (open|closed|canceled|expired|rejected) in our state machine."""
        if found.status == "open":
            return S.PARTIALLY_FILLED if found.filled > 0 else S.ACCEPTED
        by_status: dict[str | None, str] = {
            "closed": S.FILLED,
            "canceled": S.CANCELED,
            "expired": S.EXPIRED,
            "rejected": S.REJECTED,
        }
        return by_status.get(found.status, S.ACCEPTED)

    def _fills(self, found: ExchangeOrder, market: dict) -> list[VenueFill]:
        """The order's trades.

        The trades the order carries are used when they add up to its filled quantity; a pushed
        order (ccxt.pro) carries only the trades its socket saw, so after a reconnect or an
        out-of-order report they may not. Otherwise the exchange's trade list is read: each
        trade is booked at its running total, which is only right for the complete list.
        """
        if sum((trade.amount for trade in found.trades), Decimal(0)) == found.filled:
            return [self._fill(trade, market) for trade in found.trades]
        if not self.exchange.has.get("fetchMyTrades"):
            return []
        try:
            fetched = self._call(self.exchange.fetch_my_trades, market["symbol"], None, None, {"orderId": found.id})
        except ccxt.ExchangeError as error:  # the cumulative total still books the fills
            logger.info("%s trades of order %s unavailable: %s", self.name, found.id, error)
            return []
        return [self._fill(trade, market) for trade in trades_of_order(found.id, fetched)]

    def _fill(self, trade: ExchangeTrade, market: dict) -> VenueFill:
        # Execution fees are money: a fee charged in the base currency is worth cost × price.
        fee_cash = (
            trade.fee_cost
            if trade.fee_currency == market["quote"]
            else trade.fee_cost * trade.price
            if trade.fee_currency == market["base"]
            else Decimal(0)
        )
        return VenueFill(
            broker_exec_id=f"{self.name}:trade:{trade.id}",
            qty=trade.amount,
            price=trade.price,
            executed_at=trade.timestamp,
            fee=money.cents_up(fee_cash),  # a fee the customer pays: never less than charged
        )

    def open_orders(self) -> dict[str, VenueOrderState]:
        orders = [order_from_unified(found) for found in self._call(self.exchange.fetch_open_orders)]
        return {
            str(found.client_order_id or found.id): self._venue_state(found, self.exchange.markets[found.symbol])
            for found in orders
        }
