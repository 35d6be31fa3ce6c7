"""One crypto exchange through ccxt: the exchange built from settings, its market for a SpeedTrade
symbol, the reconnect backoff, and its unified orders and trades as plain data.

Used by marketdata's ccxt feed (tickers, OHLCV, the asset list) and by trading's ccxt venue
adapter and order stream, so both sides use the same keys, sandbox, urls and markets.

Settings read here: CCXT_API_KEY / CCXT_SECRET (required for a venue) / CCXT_PASSWORD,
CCXT_SANDBOX, CCXT_API_URLS (merged into the exchange's API urls: proxies, tests),
CCXT_STREAMING.

Symbols: SpeedTrade's crypto pairs are quoted in USD ("BTC/USD"). Many exchanges quote in
stablecoins instead; CCXT_USD_QUOTE_CURRENCIES lists, in order of preference, the exchange
quote currencies that stand in for USD. "BTC/USD" maps to the first of "BTC/USD",
"BTC/USDT", ... that is an active spot market after `load_markets`. Pairs in other quote
currencies map to themselves.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import ccxt
import ccxt.async_support
import ccxt.pro
from django.core.exceptions import ImproperlyConfigured

from venues import backoff
from venues.wire import decimal_from_wire, optional_decimal

USD = "USD"
CREDENTIAL_SETTINGS = ("CCXT_API_KEY", "CCXT_SECRET")  # CCXT_PASSWORD only where the exchange wants one
RECONNECT_CAP_SECONDS = 60.0


# --- the exchange ----------------------------------------------------------------------------
def missing_credentials(settings) -> list[str]:
    """The names of the credential settings a venue needs that are empty (never their values)."""
    return [name for name in CREDENTIAL_SETTINGS if not getattr(settings, name, "")]


def build_exchange(
    settings, exchange_id: str, *, streaming: bool | None = None, blocking: bool = False
) -> ccxt.async_support.Exchange | ccxt.Exchange:
    """An async ccxt exchange (ccxt.pro's when streaming), or with `blocking` the synchronous one
    (the trading venue adapter, called from Celery tasks), configured from settings."""
    streaming = settings.CCXT_STREAMING if streaming is None else streaming
    module = ccxt.pro if streaming and exchange_id in ccxt.pro.exchanges else ccxt.async_support
    module = ccxt if blocking else module
    if exchange_id not in ccxt.async_support.exchanges:
        raise ImproperlyConfigured(f"ccxt has no exchange {exchange_id!r} (see ccxt.exchanges for the ids).")
    credentials = {
        "apiKey": settings.CCXT_API_KEY,
        "secret": settings.CCXT_SECRET,
        "password": settings.CCXT_PASSWORD,
    }
    exchange = getattr(module, exchange_id)(
        {"enableRateLimit": True, **{name: value for name, value in credentials.items() if value}}
    )
    if settings.CCXT_SANDBOX:
        exchange.set_sandbox_mode(True)  # raises NotSupported for exchanges without a sandbox
    if settings.CCXT_API_URLS:
        # After the sandbox switch, which replaces urls["api"] wholesale.
        api = exchange.urls["api"]
        exchange.urls["api"] = {**api, **settings.CCXT_API_URLS} if isinstance(api, dict) else settings.CCXT_API_URLS
    return exchange


def reconnect_delay(failures: int) -> float:
    """Seconds before reconnecting after `failures` network failures in a row (full jitter, cap 60 s)."""
    return backoff.reconnect_delay(failures, cap=RECONNECT_CAP_SECONDS)


# --- symbols ---------------------------------------------------------------------------------
def _is_listed(market: Mapping | None) -> bool:
    if not market:
        return False
    return market.get("spot", False) and market.get("active") is not False


def exchange_symbol_for(symbol: str, markets: Mapping[str, Mapping], usd_quote_currencies: Iterable[str]) -> str | None:
    """The exchange's market for a SpeedTrade symbol, or None when it lists none."""
    base, _, quote = symbol.partition("/")
    candidates = [f"{base}/{currency}" for currency in usd_quote_currencies] if quote == USD else [symbol]
    return next((candidate for candidate in candidates if _is_listed(markets.get(candidate))), None)


@dataclass(frozen=True)
class SymbolMap:
    """SpeedTrade symbol <-> exchange market symbol, for the symbols the exchange lists."""

    to_exchange: dict[str, str]
    unlisted: list[str]

    @classmethod
    def build(cls, symbols: Iterable[str], markets: Mapping[str, Mapping], usd_quote_currencies: list[str]):
        to_exchange, unlisted = {}, []
        for symbol in symbols:
            market = exchange_symbol_for(symbol, markets, usd_quote_currencies)
            if market is None:
                unlisted.append(symbol)
            else:
                to_exchange[symbol] = market
        return cls(to_exchange, unlisted)

    @property
    def to_speedtrade(self) -> dict[str, str]:
        return {market: symbol for symbol, market in self.to_exchange.items()}


# --- orders and trades -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExchangeTrade:
    """One of ccxt's unified trades, in Decimal; the fee as the exchange charged it (cost, currency)."""

    id: str
    order_id: str
    amount: Decimal
    price: Decimal
    timestamp: datetime
    fee_cost: Decimal
    fee_currency: str | None


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """One of ccxt's unified orders, in Decimal. `status` is ccxt's (open|closed|canceled|expired|rejected);
    `trades` are those the order carries, each once: a pushed order may carry only some of its trades."""

    id: str
    client_order_id: str | None
    symbol: str | None
    status: str | None
    filled: Decimal
    average: Decimal | None
    trades: tuple[ExchangeTrade, ...]


def trade_from_unified(trade: Mapping) -> ExchangeTrade:
    fee = trade.get("fee") or {}
    return ExchangeTrade(
        id=str(trade["id"]),
        order_id=str(trade.get("order")),
        amount=decimal_from_wire(trade["amount"]),
        price=decimal_from_wire(trade["price"]),
        timestamp=datetime.fromtimestamp(trade["timestamp"] / 1000, tz=UTC),
        fee_cost=optional_decimal(fee.get("cost")) or Decimal(0),
        fee_currency=fee.get("currency"),
    )


def trades_of_order(order_id: str, trades: Iterable[Mapping]) -> tuple[ExchangeTrade, ...]:
    """The trades that belong to the order, each once (ccxt.pro's order cache can list a re-sent trade twice)."""
    own = {str(trade["id"]): trade for trade in trades if str(trade.get("order")) == str(order_id)}
    return tuple(trade_from_unified(trade) for trade in own.values())


def order_from_unified(order: Mapping) -> ExchangeOrder:
    return ExchangeOrder(
        id=str(order["id"]),
        client_order_id=order.get("clientOrderId"),
        symbol=order.get("symbol"),
        status=order.get("status"),
        filled=optional_decimal(order.get("filled")) or Decimal(0),
        average=optional_decimal(order.get("average")),
        trades=trades_of_order(order["id"], order.get("trades") or []),
    )
