"""Alpaca through alpaca-py: credentials, the clients, and Alpaca's reports as plain data.

Used by marketdata's feed (data streams, historical bars, the asset list) and by trading's
venue adapter and trade-updates stream, so both sides talk to the same account the same way.

Settings read here: ALPACA_API_KEY / ALPACA_SECRET_KEY (required), ALPACA_PAPER,
ALPACA_BASE_URL (Trading API), ALPACA_STREAM_URL (trade updates), ALPACA_TIMEOUT_SECONDS.

Backoff: alpaca-py reconnects a dropped stream itself (exponential backoff with jitter) and
resubscribes; the data streams built here log every reconnect as a gap in the data. The
trading client never resends on its own (it would resend a POST whose first attempt may
have been accepted): it takes a token from the caller's request budget before every
request and has a timeout.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol, overload

from alpaca.data.enums import CryptoFeed, DataFeed
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.live import CryptoDataStream, StockDataStream
from alpaca.data.live.websocket import DataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from django.core.exceptions import ImproperlyConfigured

from venues.wire import optional_decimal

logger = logging.getLogger(__name__)

CREDENTIAL_SETTINGS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
CRYPTO_STREAM_PATH = "/v1beta3/crypto/" + CryptoFeed.US.value


# --- credentials ---------------------------------------------------------------------------
def missing_credentials(settings) -> list[str]:
    """The names of the credential settings that are empty (never their values)."""
    return [name for name in CREDENTIAL_SETTINGS if not getattr(settings, name, "")]


def credentials(settings) -> tuple[str, str]:
    """(key id, secret) from settings; a clear error naming the missing setting."""
    missing = missing_credentials(settings)
    if missing:
        raise ImproperlyConfigured(f"Alpaca needs {' and '.join(missing)} (set it in the environment or .env).")
    return settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY


# --- trading clients -----------------------------------------------------------------------
class RequestBudget(Protocol):
    """What every trading request waits on first (trading's shared token bucket)."""

    def acquire(self) -> None: ...


class _BudgetedTradingClient(TradingClient):
    """alpaca-py's client with a request budget, a timeout, and no resending of its own."""

    def __init__(self, *args, budget: RequestBudget, timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._budget, self._timeout = budget, timeout

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> dict:
        self._budget.acquire()
        return super()._one_request(method, url, {**opts, "timeout": self._timeout}, 0)


def trading_client(settings, *, budget: RequestBudget) -> TradingClient:
    """The account's client for orders (ALPACA_PAPER, ALPACA_BASE_URL, ALPACA_TIMEOUT_SECONDS)."""
    api_key, secret_key = credentials(settings)
    return _BudgetedTradingClient(
        api_key,
        secret_key,
        paper=settings.ALPACA_PAPER,
        url_override=settings.ALPACA_BASE_URL or None,
        budget=budget,
        timeout=settings.ALPACA_TIMEOUT_SECONDS,
    )


def assets_client(settings) -> TradingClient:
    """A client for the asset list (ALPACA_BASE_URL, else Alpaca's paper API)."""
    api_key, secret_key = credentials(settings)
    return TradingClient(api_key, secret_key, paper=True, url_override=settings.ALPACA_BASE_URL or None)


def trade_updates_stream(settings) -> TradingStream:
    """alpaca-py's trading stream (ALPACA_PAPER, ALPACA_STREAM_URL); subscribe, then run `_run_forever`."""
    api_key, secret_key = credentials(settings)
    return TradingStream(
        api_key,
        secret_key,
        paper=settings.ALPACA_PAPER,
        # alpaca-py's default is None (its own annotation says str): None means its standard URL.
        url_override=settings.ALPACA_STREAM_URL or None,  # type: ignore[arg-type]
    )


# --- market data clients -------------------------------------------------------------------
class _GapLogging(DataStream):
    """Mixin for alpaca-py data streams: log each reconnect as a gap in the data. (It derives from their
    common base, which stays after the concrete stream in the MRO, so `super()` is typed and unchanged.)

    alpaca-py has no public "connected" callback, so this extends `_start_ws` (the
    step it runs for every (re)connection, after authenticating) of the pinned version.
    """

    last_message_at: datetime | None = None
    connections = 0

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self.connections += 1
        if self.connections > 1:
            logger.warning(
                "Alpaca %s stream reconnected: gap in data since %s.",
                self._name,
                self.last_message_at.isoformat() if self.last_message_at else "the first connection",
            )

    async def _dispatch(self, msg: dict) -> None:
        self.last_message_at = datetime.now(UTC)
        await super()._dispatch(msg)


class GapLoggingStockDataStream(_GapLogging, StockDataStream):
    pass


class GapLoggingCryptoDataStream(_GapLogging, CryptoDataStream):
    pass


def stock_data_stream(api_key: str, secret_key: str, *, feed: DataFeed, stream_url: str) -> StockDataStream:
    """The stock quotes/trades stream of `feed` (iex|sip) at `stream_url` + "/v2/<feed>"."""
    url = f"{stream_url}/v2/{feed.value}"
    return GapLoggingStockDataStream(api_key, secret_key, feed=feed, url_override=url)


def crypto_data_stream(api_key: str, secret_key: str, *, stream_url: str) -> CryptoDataStream:
    """The crypto quotes/trades stream at `stream_url` + "/v1beta3/crypto/us"."""
    return GapLoggingCryptoDataStream(api_key, secret_key, url_override=stream_url + CRYPTO_STREAM_PATH)


@overload
def historical_client(
    api_key: str, secret_key: str, *, crypto: Literal[True], data_url: str | None
) -> CryptoHistoricalDataClient: ...
@overload
def historical_client(
    api_key: str, secret_key: str, *, crypto: Literal[False], data_url: str | None
) -> StockHistoricalDataClient: ...
def historical_client(
    api_key: str, secret_key: str, *, crypto: bool, data_url: str | None
) -> StockHistoricalDataClient | CryptoHistoricalDataClient:
    """The historical data client for crypto or for stocks (`data_url` overrides Alpaca's data API)."""
    client_class = CryptoHistoricalDataClient if crypto else StockHistoricalDataClient
    return client_class(api_key, secret_key, url_override=data_url)


# --- reports ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderReport:
    """Alpaca's order object, in Decimal. `status` is Alpaca's own ("partially_filled", ...)."""

    id: str
    client_order_id: str
    status: str
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class TradeUpdateReport:
    """One `trade_updates` message: the event, the order after it and, for fills, this fill's qty and price."""

    event: str
    order: OrderReport
    qty: Decimal | None
    price: Decimal | None
    timestamp: datetime


def _value(enum_or_string) -> str:
    """alpaca-py gives its enums, or the raw string where its enum lacks a value Alpaca sent."""
    return str(getattr(enum_or_string, "value", enum_or_string))


def order_report(order: AlpacaOrder) -> OrderReport:
    return OrderReport(
        id=str(order.id),
        client_order_id=order.client_order_id,
        status=_value(order.status),
        filled_qty=optional_decimal(order.filled_qty) or Decimal(0),
        filled_avg_price=optional_decimal(order.filled_avg_price),
        submitted_at=order.submitted_at,
    )


def trade_update_report(update: TradeUpdate) -> TradeUpdateReport:
    return TradeUpdateReport(
        event=_value(update.event),
        order=order_report(update.order),
        qty=optional_decimal(update.qty),
        price=optional_decimal(update.price),
        timestamp=update.timestamp,
    )
