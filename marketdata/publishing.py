"""Ticks to WebSocket clients.

Per batch the feed sends the newest quote of each symbol twice: once as ONE message to
`QUOTES_BROADCAST_GROUP`, which each web process's quote hub receives and fans out to its
own `/ws/quotes` connections (`marketdata.fanout`), and once per symbol to the group
`quotes.<symbol>` for consumers that follow a few symbols through the channel layer.
"""

from channels.layers import get_channel_layer

from marketdata.fanout import QUOTE_BATCH_EVENT_TYPE, QUOTES_BROADCAST_GROUP
from marketdata.quotes import Quote, quote_to_dict

QUOTE_EVENT_TYPE = "quote.update"


def quote_group(symbol: str) -> str:
    """Group names allow letters, digits, '-', '_' and '.': `BTC/USD` becomes `quotes.BTC_USD`."""
    return "quotes." + symbol.replace("/", "_")


def newest_per_symbol(quotes: list[Quote]) -> list[Quote]:
    newest: dict[str, Quote] = {}
    for quote in quotes:
        current = newest.get(quote.symbol)
        if current is None or quote.timestamp >= current.timestamp:
            newest[quote.symbol] = quote
    return list(newest.values())


async def publish_quotes(quotes: list[Quote]) -> None:
    layer = get_channel_layer()
    newest = [quote_to_dict(quote) for quote in newest_per_symbol(quotes)]
    if newest:
        await layer.group_send(QUOTES_BROADCAST_GROUP, {"type": QUOTE_BATCH_EVENT_TYPE, "quotes": newest})
    for quote in newest:
        await layer.group_send(quote_group(quote["symbol"]), {"type": QUOTE_EVENT_TYPE, "quote": quote})
