"""Market-data writes: the asset universe and bars."""

import csv
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Max, Q

from marketdata.bars import (
    ROLL_UP_TIMEFRAMES,
    TIMEFRAME_SPANS,
    BarValue,
    bars_from_ticks,
    bucket_start,
    merge_bars,
    roll_up,
)
from marketdata.calendars import US_EQUITY, equity_sessions
from marketdata.feeds.base import BarRecord
from marketdata.feeds.simulated import RandomWalk, SimulatedAsset
from marketdata.models import Asset, AssetIcon, Bar, LatestQuote, Timeframe
from marketdata.quotes import Quote, latest_quotes, store_quotes
from marketdata.selectors import previous_closes_cache_clear, today_start
from speedtrade.money import QTY_STEP, to_step, to_stored

logger = logging.getLogger(__name__)

REFERENCE_ASSETS_FILE = Path(__file__).resolve().parent / "data" / "assets.csv"
_BOOLEAN_FIELDS = ("fractionable", "shortable", "marginable", "easy_to_borrow", "tradable")
_DECIMAL_FIELDS = ("min_order_size", "min_trade_increment", "price_increment", "reference_price")
_BAR_UPDATE_FIELDS = ["open", "high", "low", "close", "volume", "trade_count", "vwap"]
BACKFILL_SUBSTEPS = 4  # price points inside each simulated bar (open, two extremes, close)


# --- Assets ------------------------------------------------------------------------


def reference_asset_rows(path: Path = REFERENCE_ASSETS_FILE) -> list[dict]:
    """The shipped universe (real symbols, realistic reference prices) as typed rows."""
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        for name in _BOOLEAN_FIELDS:
            if name in row:
                row[name] = row[name] == "true"
        for name in _DECIMAL_FIELDS:
            row[name] = Decimal(row[name])
    return rows


@transaction.atomic
def assets_load(*, rows: Iterable[dict]) -> tuple[int, int]:
    """Upsert assets by symbol (case-insensitive); returns (created, updated). Unlisted assets are left alone."""
    rows = list(rows)
    existing = {
        asset.symbol.upper(): asset
        for asset in Asset.objects.select_for_update().filter(symbol__in=[row["symbol"] for row in rows])
    }
    created = updated = 0
    for row in rows:
        asset = existing.get(row["symbol"].upper())
        if asset is None:
            asset = Asset()
            created += 1
        else:
            updated += 1
        for name, value in row.items():
            setattr(asset, name, value)
        asset.full_clean(validate_unique=False, validate_constraints=False)  # the database backs uniqueness
        asset.save()
    return created, updated


# --- Bars --------------------------------------------------------------------------


def _stored_bar_value(bar: Bar, symbol: str) -> BarValue:
    return BarValue(
        symbol=symbol,
        timeframe=bar.timeframe,
        timestamp=bar.timestamp,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        trade_count=bar.trade_count,
        notional=(bar.vwap or Decimal(0)) * bar.volume,
    )


def _past_bars_written(timestamps: Iterable[datetime]) -> None:
    """Bars of a day before today can move a previous close: drop this process's cached ones
    now (a read later in this transaction) and at commit (a read meanwhile kept the old ones)."""
    start = today_start()
    if any(timestamp < start for timestamp in timestamps):
        previous_closes_cache_clear()
        transaction.on_commit(previous_closes_cache_clear)


@transaction.atomic
def bars_record(*, bars: Iterable[BarValue]) -> int:
    """Merge partial bars into the stored ones (insert or extend); returns how many rows were written.

    Locks the stored rows being extended (per timeframe, in time range order) so two
    writers of the same symbol cannot lose each other's ticks. Bars for unknown
    symbols are dropped with a warning.
    """
    bars = list(bars)
    assets = {asset.symbol: asset.pk for asset in Asset.objects.filter(symbol__in={bar.symbol for bar in bars})}
    unknown = {bar.symbol for bar in bars} - assets.keys()
    if unknown:
        logger.warning("Dropping bars of unknown symbols: %s", ", ".join(sorted(unknown)))
    merged: dict[tuple[str, str, datetime], BarValue] = {}
    for bar in sorted((bar for bar in bars if bar.symbol in assets), key=lambda bar: bar.timestamp):
        key = (bar.symbol, bar.timeframe, bar.timestamp)
        merged[key] = merge_bars(merged[key], bar) if key in merged else bar
    by_timeframe = defaultdict(list)
    for bar in merged.values():
        by_timeframe[bar.timeframe].append(bar)
    symbols_by_id = {pk: symbol for symbol, pk in assets.items()}
    rows = []
    for timeframe, group in sorted(by_timeframe.items()):
        stored = Bar.objects.select_for_update().filter(
            timeframe=timeframe,
            asset_id__in={assets[bar.symbol] for bar in group},
            timestamp__gte=min(bar.timestamp for bar in group),
            timestamp__lte=max(bar.timestamp for bar in group),
        )
        stored_by_key = {(symbols_by_id[row.asset_id], row.timestamp): row for row in stored}
        for bar in group:
            existing = stored_by_key.get((bar.symbol, bar.timestamp))
            final = merge_bars(_stored_bar_value(existing, bar.symbol), bar) if existing else bar
            rows.append(
                Bar(
                    asset_id=assets[bar.symbol],
                    timeframe=timeframe,
                    timestamp=final.timestamp,
                    open=final.open,
                    high=final.high,
                    low=final.low,
                    close=final.close,
                    volume=to_stored(final.volume),
                    trade_count=final.trade_count,
                    vwap=final.vwap,
                )
            )
    Bar.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["asset", "timeframe", "timestamp"],
        update_fields=_BAR_UPDATE_FIELDS,
    )
    _past_bars_written(row.timestamp for row in rows)
    return len(rows)


def bars_from_quotes(quotes: Iterable[Quote]) -> list[BarValue]:
    """1-minute bars of the ticks plus their roll-ups to every longer timeframe."""
    minute_bars = bars_from_ticks(quotes, Timeframe.MINUTE)
    return minute_bars + [bar for timeframe in ROLL_UP_TIMEFRAMES for bar in roll_up(minute_bars, timeframe)]


def ticks_record(*, quotes: Iterable[Quote]) -> int:
    """Append ticks to the stored bars of every timeframe, and keep each symbol's newest quote."""
    quotes = list(quotes)
    latest_quotes_record(quotes=quotes)
    return bars_record(bars=bars_from_quotes(quotes))


# --- Latest quotes (the durable copy of the quote store) ----------------------------

_QUOTE_FIELDS = ("bid", "ask", "bid_size", "ask_size", "last", "last_size")


def latest_quotes_record(*, quotes: Iterable[Quote]) -> int:
    """Keep the newest of `quotes` per symbol in the database (one upsert); returns how many rows."""
    newest: dict[str, Quote] = {}
    for quote in quotes:
        if quote.symbol not in newest or quote.timestamp >= newest[quote.symbol].timestamp:
            newest[quote.symbol] = quote
    assets = dict(Asset.objects.filter(symbol__in=newest).values_list("symbol", "pk"))
    rows = [
        LatestQuote(
            asset_id=assets[symbol],
            timestamp=quote.timestamp,
            **{name: to_stored(getattr(quote, name)) for name in _QUOTE_FIELDS},
        )
        for symbol, quote in newest.items()
        if symbol in assets
    ]
    LatestQuote.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["asset"], update_fields=[*_QUOTE_FIELDS, "timestamp"]
    )
    return len(rows)


def latest_quotes_restore() -> int:
    """Load the kept quotes into the quote store for every symbol it has none of (after a restart,
    an emptied Redis, or on a weekend before the first tick); returns how many were loaded."""
    kept = {
        row.asset.symbol: Quote(
            symbol=row.asset.symbol, timestamp=row.timestamp, **{name: getattr(row, name) for name in _QUOTE_FIELDS}
        )
        for row in LatestQuote.objects.select_related("asset")
    }
    present = latest_quotes(kept)
    missing = [quote for symbol, quote in kept.items() if symbol not in present]
    store_quotes(missing)
    return len(missing)


# --- Simulated history -------------------------------------------------------------


def _trading_windows(asset_class: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When the asset trades between start and end: extended equity sessions, or all the time for crypto."""
    if asset_class != US_EQUITY:
        return [(start, end)]
    sessions = equity_sessions(start.date() - timedelta(days=1), end.date() + timedelta(days=1))
    windows = [(max(s.session_open, start), min(s.session_close, end)) for s in sessions]
    return [(opened, closed) for opened, closed in windows if opened < closed]


def simulated_bars(
    walk: RandomWalk, timeframe: str, start: datetime, end: datetime, *, volume_scale: Decimal
) -> list[BarValue]:
    """Bars of `timeframe` between start and end (aligned), generated by stepping `walk`."""
    span = TIMEFRAME_SPANS[timeframe]
    substep = span / BACKFILL_SUBSTEPS
    bars = []
    for opened, closed in _trading_windows(walk.asset.asset_class, start, end):
        at = bucket_start(timeframe, opened)
        at = at if at >= opened else at + span
        while at + span <= closed:
            prices = [walk.price] + [walk.step(substep) for _ in range(BACKFILL_SUBSTEPS)]
            volume = to_stored(volume_scale * Decimal(walk.rng.randint(20, 200)))
            bars.append(
                BarValue(
                    symbol=walk.asset.symbol,
                    timeframe=timeframe,
                    timestamp=at,
                    open=prices[0],
                    high=max(prices),
                    low=min(prices),
                    close=prices[-1],
                    volume=volume,
                    trade_count=walk.rng.randint(5, 120),
                    notional=volume * (prices[0] + prices[-1]) / 2,
                )
            )
            at += span
    return bars


def _history_segments(start: datetime, end: datetime, minute_start: datetime) -> list[tuple[str, datetime, datetime]]:
    """(timeframe, from, to): 1-minute bars up to the first full hour, hourly bars until
    `minute_start`, then 1-minute bars again until `end`; empty segments are left out."""
    hour = TIMEFRAME_SPANS[Timeframe.HOUR]
    hours_from = bucket_start(Timeframe.HOUR, start)
    hours_from = hours_from if hours_from == start else hours_from + hour
    hours_to = max(hours_from, bucket_start(Timeframe.HOUR, minute_start))
    segments = [
        (Timeframe.MINUTE, start, min(hours_from, end)),
        (Timeframe.HOUR, hours_from, min(hours_to, end)),
        (Timeframe.MINUTE, max(hours_to, start), end),
    ]
    return [(timeframe, opened, closed) for timeframe, opened, closed in segments if opened < closed]


def bars_backfill(
    *, assets: Iterable[Asset], days: int, minute_hours: int, seed: int, end: datetime | None = None
) -> int:
    """Simulated history so charts are never empty; deterministic for a seed and end time.

    History starts `days` ago, or just after an asset's newest 1-minute bar (from its
    close) when that is more recent, so repeated runs only fill the gap. The last
    `minute_hours` are 1-minute bars, older history hourly bars (fewer rows to write);
    both roll up into the longer timeframes. The current minute is left to the live feed.
    Each asset's last quote is kept as the history's final price (when newer than the one kept),
    so a demo started on a weekend shows Friday's last trade.
    """
    end = bucket_start(Timeframe.MINUTE, end or datetime.now(UTC))
    earliest = end - timedelta(days=days)
    minute_start = end - timedelta(hours=minute_hours)
    assets = list(assets)
    newest = dict(
        Bar.objects.filter(asset__in=assets, timeframe=Timeframe.MINUTE)
        .values_list("asset_id")
        .annotate(newest=Max("timestamp"))
    )
    closes = {}
    if newest:
        newest_bars = Q(*[Q(asset_id=pk, timestamp=ts) for pk, ts in newest.items()], _connector=Q.OR)
        closes = {bar.asset_id: bar.close for bar in Bar.objects.filter(newest_bars, timeframe=Timeframe.MINUTE)}
    written = 0
    kept = dict(LatestQuote.objects.filter(asset__in=assets).values_list("asset_id", "timestamp"))
    last_quotes = []
    for asset in assets:
        after_newest = newest[asset.pk] + TIMEFRAME_SPANS[Timeframe.MINUTE] if asset.pk in newest else earliest
        walk = RandomWalk(SimulatedAsset.from_asset(asset, closes.get(asset.pk)), seed)
        volume_scale = Decimal(1) if asset.asset_class == US_EQUITY else (Decimal(1000) / asset.reference_price)
        minute_bars: list[BarValue] = []
        hour_bars: list[BarValue] = []
        for timeframe, opened, closed in _history_segments(max(earliest, after_newest), end, minute_start):
            generated = simulated_bars(walk, timeframe, opened, closed, volume_scale=volume_scale)
            (minute_bars if timeframe == Timeframe.MINUTE else hour_bars).extend(generated)
        # Hourly bars only roll up into days: cutting them into 5-minute bars would invent data.
        rolled = [bar for timeframe in ROLL_UP_TIMEFRAMES for bar in roll_up(minute_bars, timeframe)]
        in_time_order = sorted(minute_bars + hour_bars, key=lambda bar: bar.timestamp)
        daily = roll_up(in_time_order, Timeframe.DAY)
        rolled = [bar for bar in rolled if bar.timeframe != Timeframe.DAY] + daily
        written += bars_record(bars=minute_bars + hour_bars + rolled)
        if in_time_order:
            # The walk stands at the newest bar's close: that is the last quote the history ends on.
            ended = in_time_order[-1].timestamp + TIMEFRAME_SPANS[in_time_order[-1].timeframe]
            if asset.pk not in kept or kept[asset.pk] < ended:
                last_quotes.append(walk.quote(ended))
    latest_quotes_record(quotes=last_quotes)
    return written


# --- Provider sync -----------------------------------------------------------------


@transaction.atomic
def assets_sync(*, rows: Iterable[dict]) -> tuple[int, int, list[str]]:
    """Refresh the universe from a provider's listing (`sync_assets`).

    Upserts by symbol through `assets_load`. Existing assets keep their reference
    price when the provider reports none; a new symbol without one cannot be stored
    (every asset needs a price to start from) and is returned as skipped.
    Returns (created, updated, skipped symbols).
    """
    rows = list(rows)
    known = {
        symbol.upper()
        for symbol in Asset.objects.filter(symbol__in=[row["symbol"] for row in rows]).values_list("symbol", flat=True)
    }
    storable = [row for row in rows if row.get("reference_price") or row["symbol"].upper() in known]
    skipped = [row["symbol"] for row in rows if not (row.get("reference_price") or row["symbol"].upper() in known)]
    created, updated = assets_load(rows=[{k: v for k, v in row.items() if v is not None} for row in storable])
    return created, updated, skipped


# --- Provider history (backfill_bars --provider polygon|yfinance|alpaca) -----------------


def _importable(record: BarRecord) -> bool:
    return 0 < record.low <= min(record.open, record.close) and max(record.open, record.close) <= record.high


@transaction.atomic
def bars_import(*, asset: Asset, timeframe: str, records: Iterable[BarRecord]) -> int:
    """Store a provider's history for one asset: bars we do not have yet are inserted, bars we
    already hold (from the live feed or an earlier import) are kept as they are, and bars that
    break OHLC sanity are dropped with a warning. Returns how many were inserted."""
    records = list(records)
    held = set(
        Bar.objects.filter(asset=asset, timeframe=timeframe, timestamp__in=[r.timestamp for r in records]).values_list(
            "timestamp", flat=True
        )
    )
    insane = [r.timestamp for r in records if not _importable(r)]
    if insane:
        logger.warning("Dropping %d %s %s bars outside OHLC sanity: %s", len(insane), asset, timeframe, insane[:5])
    new = {r.timestamp: r for r in records if r.timestamp not in held and _importable(r)}
    Bar.objects.bulk_create(
        [
            Bar(
                asset=asset,
                timeframe=timeframe,
                timestamp=r.timestamp,
                open=to_stored(r.open),
                high=to_stored(r.high),
                low=to_stored(r.low),
                close=to_stored(r.close),
                volume=to_step(r.volume, QTY_STEP),
                trade_count=r.trade_count or 0,
                vwap=to_stored(r.vwap) if r.vwap is not None else None,
            )
            for r in new.values()
        ],
        ignore_conflicts=True,  # a live bar written meanwhile wins
    )
    _past_bars_written(new)
    return len(new)


# --- Reference data (sync_assets --provider coingecko) ------------------------------------


@transaction.atomic
def asset_reference_update(
    *, asset: Asset, name: str, market_cap_rank: int | None, icon: tuple[str, bytes] | None = None, icon_url: str = ""
) -> Asset:
    """A provider's name and market cap rank for an asset, and its icon (content type, bytes)
    when a new one was downloaded."""
    asset.name, asset.market_cap_rank = name[:200], market_cap_rank
    asset.save(update_fields=["name", "market_cap_rank", "updated_at"])
    if icon is not None:
        content_type, data = icon
        AssetIcon.objects.update_or_create(
            asset=asset, defaults={"content_type": content_type, "data": data, "source_url": icon_url}
        )
    return asset
