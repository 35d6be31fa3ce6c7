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


def decimal_from_wire(value: float | int | str) -> Decimal:
    """A provider's JSON/msgpack number as the Decimal it was written as.

    Providers send prices as JSON or msgpack floats; `str()` of a float is its
    shortest round-tripping form ("187.12", not 187.1199999...), so this recovers the
    decimal the provider wrote instead of the binary float's expansion.
    """
    return Decimal(str(value))
