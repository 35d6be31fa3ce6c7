"""`/ws/trades` with live account figures: an `account` message whenever they change.

The socket keeps its user's valuation inputs (cash, open positions, last close: one
`valuation_inputs` load) and subscribes to each symbol held at this process's quote hub
(`marketdata.fanout`, the one the `/ws/quotes` sockets use): no channel-layer group per
symbol, no Redis round trip to follow or drop one. A tick only updates a price in memory;
figures are computed by the one valuation (`selectors.valuation_priced`) and sent at most
once per ACCOUNT_STREAM_MIN_INTERVAL_SECONDS, so a busy symbol costs no query and no flood.
Trade and account updates (fills, transfers, adjustments) mark the inputs stale and push too;
they are reloaded once, right before that push, however many events arrived in the interval; so
does the age of the inputs (ACCOUNT_STREAM_REFRESH_SECONDS, e.g. for settlement at midnight).

Message: `{"type": "account", "id", "as_of", ...LIVE_FIGURES}` — the figures that move with
prices and trades, named and printed as `GET /api/v1/account` prints them (which has the rest).
Built as a plain dict: DRF's serializer costs milliseconds, per socket per second.
"""

import asyncio
from decimal import Decimal
from uuid import UUID

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from marketdata.fanout import FannedQuote, quote_hub
from portfolios import selectors
from portfolios.pricing import price_from_tick, prices_for
from speedtrade.consumers import UserStreamConsumer

# Trade updates that hold or release buying power. Fills need none of these: portfolios
# sends an account update for every fill, transfer and adjustment.
RESERVATION_TRADE_EVENTS = frozenset({"new", "canceled", "expired", "rejected", "replaced"})


LIVE_FIGURES = (
    "equity",
    "last_equity",
    "cash",
    "settled_cash",
    "unsettled_cash",
    "reserved_cash",
    "withdrawable_cash",
    "buying_power",
    "regt_buying_power",
    "intraday_buying_power",
    "non_marginable_buying_power",
    "long_market_value",
    "initial_margin",
    "maintenance_margin",
    "daily_pl",
    "daily_plpc",
    "total_pl",
    "realized_pl",
    "unrealized_pl",
)


def _figure(value: Decimal | None) -> str | None:
    return None if value is None else str(value)  # daily_plpc has no value without a base


def account_message(valuation: selectors.AccountValuation) -> dict:
    figures = {name: _figure(getattr(valuation, name)) for name in LIVE_FIGURES}
    return {"type": "account", "id": str(valuation.account.pk), "as_of": valuation.as_of.isoformat(), **figures}


def _load(user) -> tuple[selectors.ValuationInputs | None, dict[UUID, Decimal], dict[UUID, Decimal]]:
    account = selectors.primary_account(user=user)
    if account is None:
        return None, {}, {}
    inputs = selectors.valuation_inputs(account=account)
    prices, previous_closes = prices_for(position.asset for position in inputs.held)
    return inputs, prices, previous_closes


class AccountStreamConsumer(UserStreamConsumer):
    async def on_authenticated(self) -> None:
        self.inputs: selectors.ValuationInputs | None = None
        self.prices: dict[UUID, Decimal] = {}
        self.previous_closes: dict[UUID, Decimal] = {}
        self.held_by_symbol: dict = {}
        self.loaded_at = self.last_push_at = float("-inf")
        self.inputs_stale = False
        self.push_task: asyncio.Task | None = None
        await super().on_authenticated()
        await self.reload()
        self.schedule_push()

    async def disconnect(self, code):
        push_task = getattr(self, "push_task", None)  # unset when the socket closes before authenticating
        if push_task is not None:
            push_task.cancel()
        quote_hub().unsubscribe(self, getattr(self, "held_by_symbol", {}))
        await super().disconnect(code)

    async def reload(self) -> None:
        """Load the valuation inputs and follow the quotes of exactly the symbols now held."""
        self.inputs, self.prices, self.previous_closes = await database_sync_to_async(_load)(self.user)
        self.loaded_at = asyncio.get_running_loop().time()
        held = {position.asset.symbol: position.asset for position in (self.inputs.held if self.inputs else [])}
        newly_held = held.keys() - self.held_by_symbol.keys()
        hub = quote_hub()
        hub.unsubscribe(self, self.held_by_symbol.keys() - held.keys())
        self.held_by_symbol = held
        if newly_held:
            await hub.subscribe(self, newly_held)

    async def user_event(self, event) -> None:
        await super().user_event(event)
        if event["stream"] == "account_updates" or event["data"].get("event") in RESERVATION_TRADE_EVENTS:
            # Reloaded once, just before the next (throttled) push: a busy trader's stream of order and
            # fill events costs one valuation load per push interval, not one per event.
            self.inputs_stale = True
            self.schedule_push()

    def quote_received(self, tick: FannedQuote) -> None:
        """A tick of a held symbol from the quote hub: remember the price; the figures follow within the throttle."""
        asset = self.held_by_symbol.get(tick.quote.symbol)
        if asset is None:
            return  # a symbol this socket no longer holds
        price = price_from_tick(tick.quote, asset)
        if price is None or price == self.prices.get(asset.pk):
            return
        self.prices[asset.pk] = price
        self.schedule_push()

    def schedule_push(self) -> None:
        if self.push_task is None:
            self.push_task = asyncio.create_task(self._push_when_allowed())

    async def _push_when_allowed(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self.last_push_at + settings.ACCOUNT_STREAM_MIN_INTERVAL_SECONDS - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self.push_task = None
        if self.inputs_stale or loop.time() - self.loaded_at > settings.ACCOUNT_STREAM_REFRESH_SECONDS:
            self.inputs_stale = False
            await self.reload()
        if self.inputs is None:
            return
        valuation = selectors.valuation_priced(
            inputs=self.inputs, prices=self.prices, previous_closes=self.previous_closes, as_of=timezone.now()
        )
        self.last_push_at = loop.time()
        await self.send_json(account_message(valuation))
