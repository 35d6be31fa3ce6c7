"""Ticks to WebSocket clients: one Channels group per symbol.

The feed sends at most one message per symbol per batch (the newest quote), and
each `/ws/quotes` connection conflates further (see `marketdata.consumers`).
"""

from channels.layers import get_channel_layer

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
    for quote in newest_per_symbol(quotes):
        await layer.group_send(quote_group(quote.symbol), {"type": QUOTE_EVENT_TYPE, "quote": quote_to_dict(quote)})
