"""Alpaca's market-data wire records, built from SpeedTrade's quotes and bars.

One builder per record type, shared by the REST routes and the streams, so a quote
looks the same whether a bot polls for it or streams it. Field letters are the ones
alpaca-py's models map (`alpaca/data/mappings.py`). Prices and sizes stay `Decimal`
here; the REST layer writes them as JSON numbers (exact digits), the streams as
msgpack floats, as Alpaca does.

SpeedTrade keeps only the newest quote per symbol, with the last trade price and
size of the tick that wrote it. So a "trade" here is that last price: its size is the
tick's `last_size` (0 when the newest tick moved only bid and ask) and its time and
id come from the tick.
"""

from datetime import UTC, datetime
from decimal import Decimal

import msgpack
import orjson

from marketdata.models import Asset, Bar
from marketdata.quotes import Quote
from speedtrade.money import decimal_string

# Alpaca's tape by primary listing (A: NYSE, B: ARCA and other exchanges, C: NASDAQ).
_TAPE_BY_EXCHANGE = {"NYSE": "A", "NASDAQ": "C"}
# Alpaca's one-letter exchange codes for the venues SpeedTrade's assets list.
_EXCHANGE_CODE = {"NYSE": "N", "NASDAQ": "Q", "ARCA": "P", "AMEX": "A", "BATS": "Z"}
# SpeedTrade's quotes are consolidated by its feed; "V" (IEX) is what Alpaca's free feed reports.
DEFAULT_EXCHANGE_CODE = "V"
REGULAR_QUOTE_CONDITIONS = ["R"]
REGULAR_TRADE_CONDITIONS = ["@"]


def trade_id(quote: Quote) -> int:
    """A stable integer id for the trade a tick reports: its time in microseconds."""
    return int(quote.timestamp.timestamp() * 1_000_000)


def _equity_venue(asset: Asset) -> dict:
    return {
        "x": _EXCHANGE_CODE.get(asset.exchange.upper(), DEFAULT_EXCHANGE_CODE),
        "z": _TAPE_BY_EXCHANGE.get(asset.exchange.upper(), "B"),
    }


def quote_record(asset: Asset, quote: Quote) -> dict:
    record = {"t": quote.timestamp, "bp": quote.bid, "bs": quote.bid_size, "ap": quote.ask, "as": quote.ask_size}
    if not asset.is_crypto:
        venue = _equity_venue(asset)
        record.update(bx=venue["x"], ax=venue["x"], c=REGULAR_QUOTE_CONDITIONS, z=venue["z"])
    return record


def trade_record(asset: Asset, quote: Quote) -> dict:
    record = {"t": quote.timestamp, "p": quote.last, "s": quote.last_size, "i": trade_id(quote)}
    if asset.is_crypto:
        record["tks"] = "B" if quote.last >= quote.ask else "S"  # taker side, as Alpaca's crypto trades carry
    else:
        record.update(_equity_venue(asset), c=REGULAR_TRADE_CONDITIONS)
    return record


def bar_record(bar: Bar) -> dict:
    return {
        "t": bar.timestamp,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
        "n": bar.trade_count,
        "vw": bar.vwap if bar.vwap is not None else bar.close,
    }


def rfc3339(moment: datetime) -> str:
    """Alpaca's timestamps: UTC with a `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_value(value):
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_string(value))  # a JSON number with exactly the stored digits
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"Cannot write {type(value).__name__} as JSON.")


def to_json(data) -> bytes:
    """Alpaca's JSON: prices and sizes as numbers, times as RFC 3339."""
    return orjson.dumps(data, default=_json_value)


def _msgpack_value(value):
    if isinstance(value, Decimal):
        return float(value)  # msgpack has no decimal type; Alpaca's streams send floats
    if isinstance(value, datetime):
        return msgpack.Timestamp.from_datetime(value)  # alpaca-py calls `.to_datetime()` on "t"
    raise TypeError(f"Cannot write {type(value).__name__} as msgpack.")


def to_msgpack(data) -> bytes:
    return msgpack.packb(data, default=_msgpack_value, datetime=False)
