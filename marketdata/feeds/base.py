"""The one provider interface every market-data feed implements."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from marketdata.quotes import Quote


class QuoteFeed(Protocol):
    """A source of live quotes (simulated, Alpaca, ccxt).

    `stream` yields batches of quotes for the requested symbols until cancelled;
    reconnecting on transient failures is the implementation's job, so a consumer
    sees one endless stream. Historical backfill is a separate method where the
    provider offers it.
    """

    name: str

    def stream(self, symbols: list[str]) -> AsyncIterator[list[Quote]]: ...


class HistoricalBars(Protocol):
    """Backfill from a provider that keeps history (Alpaca, ccxt)."""

    async def bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None = None, limit: int | None = None
    ) -> list["BarRecord"]: ...


@dataclass(frozen=True, slots=True)
class BarRecord:
    """One historical OHLCV bar as a provider reports it (prices and volume in Decimal).

    `timestamp` is the aware UTC start of the interval; `vwap` and `trade_count` are
    None when the provider does not report them (ccxt's OHLCV carries neither).
    """

    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int | None = None
    vwap: Decimal | None = None
