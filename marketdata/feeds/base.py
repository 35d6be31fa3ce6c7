"""The one provider interface every market-data feed implements."""

from collections.abc import AsyncIterator
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
