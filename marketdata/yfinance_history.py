"""yfinance backfill: daily and hourly history for stocks and ETFs where no paid provider is
configured (`backfill_bars --provider yfinance`).

Best effort and unofficial: yfinance scrapes Yahoo Finance's public chart endpoint, which has
no contract, rate limits without notice and changes shape. It is used for history only —
never for live prices, the quote store or any order decision (it is not a feed in the
registry, so `FEED_PROVIDER` cannot select it).

Prices are Yahoo's split-adjusted OHLC (`auto_adjust=False`: not dividend-adjusted, as
Polygon's `adjusted=true`), rounded to 4 decimals (Yahoo serves float32-ish values such as
194.27000427246094). Daily bars start at New York midnight like ours. Hourly bars are built
from Yahoo's 15-minute bars grouped into our clock-hour buckets (Yahoo's own hourly bars start
at :30, which our 1Hour buckets do not; yfinance builds 30-minute bars from 15-minute ones
too). Yahoo keeps 15-minute bars for about 60 days.
"""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from marketdata.bars import bucket_start
from marketdata.feeds.base import BarRecord
from marketdata.models import Timeframe
from speedtrade.money import to_step

PRICE_PLACES = Decimal("0.0001")
YAHOO_INTERVALS: dict[str, str] = {Timeframe.DAY: "1d", Timeframe.HOUR: "15m"}


def _price(value) -> Decimal:
    return to_step(Decimal(str(float(value))), PRICE_PLACES)


class YFinanceHistory:
    """`HistoricalBars` over yfinance. `session` is yfinance's own transport hook (a
    curl_cffi or requests session); None lets yfinance choose (curl_cffi)."""

    name = "yfinance"

    def __init__(self, *, session=None) -> None:
        self.session = session

    async def bars(
        self, symbol: str, *, timeframe: str, start: datetime, end: datetime | None = None, limit: int | None = None
    ) -> list[BarRecord]:
        if timeframe not in YAHOO_INTERVALS:
            raise ValueError(f"yfinance backfill offers {', '.join(YAHOO_INTERVALS)}, not {timeframe}.")
        records = await asyncio.to_thread(self._bars, symbol, timeframe, start, end or datetime.now(UTC))
        return records[:limit] if limit else records

    def _bars(self, symbol: str, timeframe: str, start: datetime, end: datetime) -> list[BarRecord]:
        import yfinance

        frame = yfinance.Ticker(symbol, session=self.session).history(
            start=start, end=end, interval=YAHOO_INTERVALS[timeframe], auto_adjust=False, actions=False, repair=False
        )
        rows = [
            BarRecord(
                timestamp=bucket_start(timeframe, index.to_pydatetime().astimezone(UTC)),
                open=_price(row["Open"]),
                high=_price(row["High"]),
                low=_price(row["Low"]),
                close=_price(row["Close"]),
                volume=Decimal(int(row["Volume"])),
            )
            for index, row in frame.iterrows()
            if row["Close"] == row["Close"]  # NaN rows (halts, holidays) carry no price
        ]
        return rows if timeframe == Timeframe.DAY else _combined(rows)


def _combined(rows: list[BarRecord]) -> list[BarRecord]:
    """Bars sharing a bucket (the quarter hours of one hour) merged in time order."""
    buckets: dict[datetime, list[BarRecord]] = defaultdict(list)
    for row in rows:
        buckets[row.timestamp].append(row)
    return [
        BarRecord(
            timestamp=start,
            open=parts[0].open,
            high=max(part.high for part in parts),
            low=min(part.low for part in parts),
            close=parts[-1].close,
            volume=sum((part.volume for part in parts), Decimal(0)),
        )
        for start, parts in sorted(buckets.items())
    ]
