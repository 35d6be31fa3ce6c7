"""Latest quotes: the value type every part of SpeedTrade passes around, and its store.

The store keeps only the newest quote per symbol. With `settings.REDIS_URL` it is
Redis (one key per symbol, written with a pipeline and read with one MGET), so every
web process sees what the feed process wrote; in the embedded default it is a
process-local dict, which the in-process feed and the web server share.

A quote older than `settings.QUOTE_STALE_AFTER_SECONDS` is stale: it is still the
best price we have (valuations use it), but clients are told with `stale: true`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

import orjson
import redis
from django.conf import settings

REDIS_KEY_PREFIX = "marketdata:quote:"


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    timestamp: datetime  # aware, UTC: when the venue/feed produced it
    # Size of the trade at `last` that this tick reports; 0 when it only moves bid/ask.
    last_size: Decimal = Decimal("0")

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


_DECIMAL_FIELDS = ("bid", "ask", "bid_size", "ask_size", "last", "last_size")


def quote_to_dict(quote: Quote) -> dict:
    """JSON-ready fields: decimals as strings, the timestamp as ISO 8601 UTC."""
    data = {"symbol": quote.symbol}
    data.update({name: str(getattr(quote, name)) for name in _DECIMAL_FIELDS})
    data["timestamp"] = quote.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return data


def quote_from_dict(data: dict) -> Quote:
    return Quote(
        symbol=data["symbol"],
        timestamp=datetime.fromisoformat(data["timestamp"]),
        **{name: Decimal(data[name]) for name in _DECIMAL_FIELDS},
    )


def quote_from_redis(raw: bytes | str | None) -> Quote | None:
    """A stored quote as Redis returns it (also to a reader with its own client: the lean path's async one)."""
    return None if raw is None else quote_from_dict(orjson.loads(raw))


def is_stale(quote: Quote, *, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return now - quote.timestamp > timedelta(seconds=settings.QUOTE_STALE_AFTER_SECONDS)


def quote_message(quote: Quote, *, now: datetime | None = None, message_type: str = "quote") -> dict:
    """The wire shape of a quote (WebSocket and API): `{"type", "symbol", ..., "stale"}`."""
    return {"type": message_type, **quote_to_dict(quote), "stale": is_stale(quote, now=now)}


class LocalQuoteStore:
    """Process-local latest quotes (embedded default)."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}

    def store(self, quotes: Iterable[Quote]) -> None:
        for quote in quotes:
            self._quotes[quote.symbol] = quote

    def latest(self, symbols: Iterable[str]) -> dict[str, Quote]:
        return {symbol: self._quotes[symbol] for symbol in symbols if symbol in self._quotes}

    def clear(self) -> None:
        self._quotes.clear()


class RedisQuoteStore:
    """Latest quotes in Redis, shared by the feed and every web process."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url)

    def store(self, quotes: Iterable[Quote]) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        for quote in quotes:
            pipeline.set(REDIS_KEY_PREFIX + quote.symbol, orjson.dumps(quote_to_dict(quote)))
        pipeline.execute()

    def latest(self, symbols: Iterable[str]) -> dict[str, Quote]:
        symbols = list(symbols)
        if not symbols:
            return {}
        values = self._redis.mget([REDIS_KEY_PREFIX + symbol for symbol in symbols])
        found = {symbol: quote_from_redis(raw) for symbol, raw in zip(symbols, values, strict=True)}
        return {symbol: quote for symbol, quote in found.items() if quote is not None}

    def clear(self) -> None:
        keys = list(self._redis.scan_iter(match=REDIS_KEY_PREFIX + "*", count=1000))
        if keys:
            self._redis.delete(*keys)


_local_store = LocalQuoteStore()


@cache
def _redis_store(url: str) -> RedisQuoteStore:
    return RedisQuoteStore(url)


def quote_store() -> LocalQuoteStore | RedisQuoteStore:
    return _redis_store(settings.REDIS_URL) if settings.REDIS_URL else _local_store


def store_quotes(quotes: Iterable[Quote]) -> None:
    quote_store().store(quotes)


def latest_quotes(symbols: Iterable[str]) -> dict[str, Quote]:
    """The newest quote of each symbol that has one (symbols without a quote are left out)."""
    return quote_store().latest(symbols)
