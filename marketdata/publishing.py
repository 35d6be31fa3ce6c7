"""Ticks and completed minute bars to WebSocket clients.

Per batch the feed sends the newest quote of each symbol as ONE message (`publish_quote_batch`: a Redis
PUBLISH), which each web process's quote hub receives and fans out to its own subscribers (`/ws/quotes`,
Alpaca's data streams, `/ws/trades` account figures: `marketdata.fanout`); there are no per-symbol quote groups.
When a minute has ended, the feed publishes each symbol's stored 1-minute bar for it once, to `bars.<symbol>`.
"""

from datetime import datetime

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from marketdata.fanout import publish_quote_batch
from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote, quote_to_dict

BAR_EVENT_TYPE = "bar.update"
BAR_DECIMALS = ("open", "high", "low", "close", "volume", "vwap")


def newest_per_symbol(quotes: list[Quote]) -> list[Quote]:
    newest: dict[str, Quote] = {}
    for quote in quotes:
        current = newest.get(quote.symbol)
        if current is None or quote.timestamp >= current.timestamp:
            newest[quote.symbol] = quote
    return list(newest.values())


async def publish_quotes(quotes: list[Quote]) -> None:
    newest = [quote_to_dict(quote) for quote in newest_per_symbol(quotes)]
    if newest:
        await publish_quote_batch(newest)


def bar_group(symbol: str) -> str:
    """Group names allow letters, digits, '-', '_' and '.': `BTC/USD` becomes `bars.BTC_USD`."""
    return "bars." + symbol.replace("/", "_")


def bar_to_dict(bar: Bar) -> dict:
    """A bar as a channel-layer message carries it: decimals as strings, the start time ISO 8601."""
    data = {name: None if getattr(bar, name) is None else str(getattr(bar, name)) for name in BAR_DECIMALS}
    return {**data, "symbol": bar.asset.symbol, "timestamp": bar.timestamp.isoformat(), "trade_count": bar.trade_count}


def _minute_bars(minute: datetime) -> list[Bar]:
    return list(Bar.objects.filter(timeframe=Timeframe.MINUTE, timestamp=minute).select_related("asset"))


async def publish_minute_bars(minute: datetime) -> None:
    """Each symbol's stored 1-minute bar that starts at `minute` (call once the minute has ended and is stored)."""
    layer = get_channel_layer()
    for bar in await database_sync_to_async(_minute_bars)(minute):
        await layer.group_send(bar_group(bar.asset.symbol), {"type": BAR_EVENT_TYPE, "bar": bar_to_dict(bar)})
