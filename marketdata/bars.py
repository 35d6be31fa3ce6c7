"""Bar arithmetic, free of I/O: ticks into bars, bars into longer bars.

Every bar covers `[timestamp, timestamp + span)`. Intraday buckets are aligned on
UTC; a daily bar starts at midnight America/New_York of its trading date, for stocks
and crypto alike, so "today" and "the previous close" mean the same everywhere.

A tick contributes its `last` price to open/high/low/close; its `last_size` (the
size of the trade it reports, 0 for a quote-only tick) to volume, trade count and
VWAP. Ticks of one symbol arrive in time order, so merging a stored bar with a newer
partial bar keeps the stored open and takes the newer close.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from marketdata.calendars import ET
from marketdata.models import Timeframe
from marketdata.quotes import Quote
from speedtrade.money import to_stored

TIMEFRAME_SPANS: dict[str, timedelta] = {
    Timeframe.MINUTE: timedelta(minutes=1),
    Timeframe.FIVE_MINUTES: timedelta(minutes=5),
    Timeframe.HOUR: timedelta(hours=1),
    Timeframe.DAY: timedelta(days=1),
}
ROLL_UP_TIMEFRAMES = (Timeframe.FIVE_MINUTES, Timeframe.HOUR, Timeframe.DAY)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BarValue:
    symbol: str
    timeframe: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int
    notional: Decimal  # sum of price x size, so VWAPs of partial bars combine exactly

    @property
    def vwap(self) -> Decimal | None:
        return to_stored(self.notional / self.volume) if self.volume else None


def bucket_start(timeframe: str, at: datetime) -> datetime:
    """Start of the `timeframe` interval containing `at` (aware, UTC)."""
    if timeframe == Timeframe.DAY:
        trading_date = at.astimezone(ET).date()
        return datetime.combine(trading_date, time(0), tzinfo=ET).astimezone(UTC)
    span = TIMEFRAME_SPANS[timeframe]
    return at - ((at - _EPOCH) % span)


def merge_bars(earlier: BarValue, later: BarValue) -> BarValue:
    """One bar from two partial bars of the same interval, `earlier` covering the first part."""
    return replace(
        earlier,
        high=max(earlier.high, later.high),
        low=min(earlier.low, later.low),
        close=later.close,
        volume=earlier.volume + later.volume,
        trade_count=earlier.trade_count + later.trade_count,
        notional=earlier.notional + later.notional,
    )


def bars_from_ticks(quotes: Iterable[Quote], timeframe: str = Timeframe.MINUTE) -> list[BarValue]:
    """Partial bars of `timeframe` from ticks in time order; ticks without a last price are skipped."""
    bars: dict[tuple[str, datetime], BarValue] = {}
    for quote in quotes:
        if quote.last <= 0:
            continue
        key = (quote.symbol, bucket_start(timeframe, quote.timestamp))
        traded = quote.last_size > 0
        tick_bar = BarValue(
            symbol=quote.symbol,
            timeframe=timeframe,
            timestamp=key[1],
            open=quote.last,
            high=quote.last,
            low=quote.last,
            close=quote.last,
            volume=quote.last_size,
            trade_count=1 if traded else 0,
            notional=quote.last * quote.last_size,
        )
        bars[key] = merge_bars(bars[key], tick_bar) if key in bars else tick_bar
    return list(bars.values())


def roll_up(bars: Iterable[BarValue], timeframe: str) -> list[BarValue]:
    """Bars of a longer `timeframe` from shorter bars given in time order per symbol."""
    rolled: dict[tuple[str, datetime], BarValue] = {}
    for bar in bars:
        key = (bar.symbol, bucket_start(timeframe, bar.timestamp))
        as_longer = replace(bar, timeframe=timeframe, timestamp=key[1])
        rolled[key] = merge_bars(rolled[key], as_longer) if key in rolled else as_longer
    return list(rolled.values())
