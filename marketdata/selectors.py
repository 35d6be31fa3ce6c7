"""Market-data reads: assets by symbol, latest prices, previous closes, bars.

`latest_prices` and `previous_closes` are what portfolio valuation calls; both
return a price for every asset they are given (falling back to the reference
price), quantized onto the asset's `price_increment` by `prices.to_increment`.
"""

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Replace, Upper
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketdata.bars import bucket_start
from marketdata.calendars import ET, EquitySession, last_closed_session, session_before
from marketdata.market_status import AFTER_HOURS, CLOSED, PRE_MARKET, MarketStatus, market_status
from marketdata.models import Asset, AssetIcon, Bar, Timeframe
from marketdata.quotes import Quote, latest_quotes
from speedtrade.money import to_increment

SNAPSHOT_DAILY_LOOKBACK = timedelta(days=14)  # covers weekends and holiday runs


def _with_compact_symbol(queryset):
    """`BTCUSD` for `BTC/USD`: crypto pairs may be named without their slash (as in URLs)."""
    return queryset.annotate(compact_symbol=Replace(Upper("symbol"), Value("/"), Value("")))


def asset_get(*, symbol_or_id: str) -> Asset:
    """The asset named by its UUID, its symbol (any case) or a crypto pair without the slash.

    Raises Asset.DoesNotExist.
    """
    try:
        return Asset.objects.get(pk=uuid.UUID(symbol_or_id))
    except ValueError:
        pass
    wanted = symbol_or_id.strip().upper()
    matches = list(
        _with_compact_symbol(Asset.objects.all()).filter(Q(symbol__iexact=wanted) | Q(compact_symbol=wanted))
    )
    exact = [asset for asset in matches if asset.symbol.upper() == wanted]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    raise Asset.DoesNotExist(f"No asset {symbol_or_id!r}.")


_ASSETS_BY_SYMBOL: dict[str, tuple[Asset, float]] = {}  # SYMBOL -> (asset, monotonic expiry)


def asset_by_symbol_cached(symbol: str) -> Asset | None:
    """The asset with this exact symbol (any case), from a per-process cache on the order-entry path.

    Saves a database round trip per order. An asset saved in this process is dropped from the
    cache at once; a change made by another process (admin, `sync_assets`) is seen within
    ASSET_CACHE_SECONDS. Unknown symbols are not cached, so a new asset is usable at once.
    """
    cached = asset_by_symbol_if_cached(symbol)
    if cached is not None:
        return cached
    asset = Asset.objects.filter(symbol__iexact=symbol).first()
    if asset is not None and settings.ASSET_CACHE_SECONDS > 0:
        _ASSETS_BY_SYMBOL[symbol.upper()] = (asset, time.monotonic() + settings.ASSET_CACHE_SECONDS)
    return asset


def asset_by_symbol_if_cached(symbol: str) -> Asset | None:
    """`asset_by_symbol_cached` without the database: None when this process has not cached it (or it expired)."""
    cached = _ASSETS_BY_SYMBOL.get(symbol.upper())
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    return None


def asset_cache_clear() -> None:
    _ASSETS_BY_SYMBOL.clear()


@receiver(post_save, sender=Asset)
@receiver(post_delete, sender=Asset)
def _asset_changed(sender, instance: Asset, **kwargs) -> None:
    _ASSETS_BY_SYMBOL.pop(instance.symbol.upper(), None)


def assets_by_symbols(symbols: Iterable[str]) -> tuple[dict[str, Asset], list[str]]:
    """Resolve requested symbols: ({requested: asset}, [unknown requested symbols])."""
    requested = [symbol.strip() for symbol in symbols]
    wanted = {symbol.upper() for symbol in requested}
    candidates = _with_compact_symbol(Asset.objects.all()).filter(Q(symbol__in=wanted) | Q(compact_symbol__in=wanted))
    by_symbol = {asset.symbol.upper(): asset for asset in candidates}
    by_compact = {asset.compact_symbol: asset for asset in candidates}
    found, unknown = {}, []
    for symbol in requested:
        asset = by_symbol.get(symbol.upper()) or by_compact.get(symbol.upper())
        if asset is None:
            unknown.append(symbol)
        else:
            found[symbol] = asset
    return found, unknown


def _price_from_quote(quote: Quote) -> Decimal | None:
    if quote.last > 0:
        return quote.last
    if quote.bid > 0 and quote.ask > 0:
        return quote.mid
    return None


def price_from_quote(quote: Quote, asset: Asset) -> Decimal | None:
    """The price one quote gives its asset, as `latest_prices` reads it: last trade, else mid, on the tick grid."""
    price = _price_from_quote(quote)
    return None if price is None else to_increment(price, asset.price_increment)


def newest_minute_bars(assets: Iterable[Asset]) -> dict[uuid.UUID, Bar]:
    """Each asset's newest 1-minute bar (assets without bars are left out)."""
    newest_timestamp = (
        Bar.objects.filter(asset=OuterRef("asset"), timeframe=Timeframe.MINUTE)
        .order_by("-timestamp")
        .values("timestamp")[:1]
    )
    bars = Bar.objects.filter(
        asset__in=[asset.pk for asset in assets], timeframe=Timeframe.MINUTE, timestamp=Subquery(newest_timestamp)
    )
    return {bar.asset_id: bar for bar in bars}


INTRADAY = (Timeframe.MINUTE, Timeframe.HOUR)  # the bars a price at a moment is read from


def _newest_intraday_close(*, before: datetime | None = None, since: datetime | None = None) -> Subquery:
    """The close of an asset's newest 1-minute or hourly bar in [since, before): per `Asset` row.

    Both timeframes: the simulated history ends in hourly bars, so a 1-minute bar can be days
    older than the newest price we have (a weekend showed Monday's minute bars as "Last").
    The newest bar start wins; a 1-minute bar inside an hour is newer than that hour's bar.
    """
    bars = Bar.objects.filter(asset=OuterRef("pk"), timeframe__in=INTRADAY)
    if before is not None:
        bars = bars.filter(timestamp__lt=before)
    if since is not None:
        bars = bars.filter(timestamp__gte=since)
    return Subquery(bars.order_by("-timestamp").values("close")[:1])


def latest_prices(assets: Iterable[Asset]) -> dict[uuid.UUID, Decimal]:
    """The price of each asset now: last trade, else mid, else the newest bar close, else the reference price.

    A stale quote still counts (it is the last price we know, e.g. overnight; the feed keeps it
    across restarts, `LatestQuote`); the bar close covers a market never quoted since its history.
    """
    assets = list(assets)
    quotes = latest_quotes(asset.symbol for asset in assets)
    prices: dict[uuid.UUID, Decimal] = {}
    for asset in assets:
        quote = quotes.get(asset.symbol)
        price = _price_from_quote(quote) if quote else None
        if price is not None:
            prices[asset.pk] = price
    missing = [asset.pk for asset in assets if asset.pk not in prices]
    closes = (
        dict(Asset.objects.filter(pk__in=missing).annotate(close=_newest_intraday_close()).values_list("pk", "close"))
        if missing
        else {}
    )
    for asset in assets:
        if asset.pk not in prices:
            prices[asset.pk] = closes.get(asset.pk) or asset.reference_price
    return {asset.pk: to_increment(prices[asset.pk], asset.price_increment) for asset in assets}


def prices_at(assets: Iterable[Asset], at: datetime) -> dict[uuid.UUID, Decimal]:
    """Each asset's price at a past moment: the close of its newest intraday bar before `at`,
    else its reference price (history replayed for the demo's equity curve)."""
    assets = list(assets)
    rows = Asset.objects.filter(pk__in=[asset.pk for asset in assets]).annotate(close=_newest_intraday_close(before=at))
    closes = dict(rows.values_list("pk", "close"))
    return {
        asset.pk: to_increment(closes.get(asset.pk) or asset.reference_price, asset.price_increment) for asset in assets
    }


def today_start(now: datetime | None = None) -> datetime:
    """Start of today's daily bar (midnight America/New_York)."""
    return bucket_start(Timeframe.DAY, now or datetime.now(UTC))


def _closes_read(
    assets: list[Asset], *, session: EquitySession, now: datetime | None
) -> dict[uuid.UUID, Decimal | None]:
    """Each asset's close at `session`'s regular close as the bars hold it (None: no bar; see `session_closes`)."""
    session_day_end = bucket_start(Timeframe.DAY, session.close) + timedelta(days=1)
    daily_before = Bar.objects.filter(asset=OuterRef("pk"), timeframe=Timeframe.DAY).order_by("-timestamp")
    rows = (
        Asset.objects.filter(pk__in=[asset.pk for asset in assets])
        .annotate(
            regular=_newest_intraday_close(before=session.close, since=session.open),
            daily=Subquery(daily_before.filter(timestamp__lt=session_day_end).values("close")[:1]),
            crypto_daily=Subquery(daily_before.filter(timestamp__lt=today_start(now)).values("close")[:1]),
        )
        .values_list("pk", "regular", "daily", "crypto_daily")  # the assets are loaded already: only their closes
    )
    found = {pk: (regular, daily, crypto_daily) for pk, regular, daily, crypto_daily in rows}
    closes: dict[uuid.UUID, Decimal | None] = {}
    for asset in assets:
        regular, daily, crypto_daily = found.get(asset.pk, (None, None, None))
        closes[asset.pk] = crypto_daily if asset.is_crypto else (regular or daily)
    return closes


def _close_or_reference(asset: Asset, close: Decimal | None) -> Decimal:
    return to_increment(close or asset.reference_price, asset.price_increment)


def session_closes(
    assets: Iterable[Asset], *, session: EquitySession, now: datetime | None = None
) -> dict[uuid.UUID, Decimal]:
    """Each asset's price at `session`'s regular close, else its reference price.

    Stocks: the newest intraday bar of the session's regular hours (after-hours trades are
    not the close), else the newest daily bar up to that session's date. Crypto trades around
    the clock and has no session: its close is the newest daily bar before today (midnight ET).
    """
    assets = list(assets)
    closes = _closes_read(assets, session=session, now=now)
    return {asset.pk: _close_or_reference(asset, closes[asset.pk]) for asset in assets}


# New York date -> {asset id: (its bars' previous close or None, monotonic expiry)}; one date at a time.
_PREVIOUS_CLOSES: dict[date, dict[uuid.UUID, tuple[Decimal | None, float]]] = {}


def previous_closes(assets: Iterable[Asset], *, now: datetime | None = None) -> dict[uuid.UUID, Decimal]:
    """What "today" is measured from: each stock's close of the newest session before today
    (New York date), each crypto pair's newest daily bar before today; else the reference price.

    Both are bars that ended before today began, so they are kept per process per New York date:
    the valuation of every account read reads them (issue 22). Bars written before today in this
    process drop the cache at once (`previous_closes_cache_clear`); another process's late or
    corrected bar of a past day is seen within PREVIOUS_CLOSE_CACHE_SECONDS. Only the bars' close
    is kept: the reference-price fallback and the increment are applied from the asset given.
    """
    now = now or datetime.now(UTC)
    day = now.astimezone(ET).date()
    assets = list(assets)
    cached = _PREVIOUS_CLOSES.get(day, {})
    moment = time.monotonic()
    missing = [asset for asset in assets if asset.pk not in cached or cached[asset.pk][1] <= moment]
    read = _closes_read(missing, session=session_before(day), now=now) if missing else {}
    if read and settings.PREVIOUS_CLOSE_CACHE_SECONDS > 0:
        if day not in _PREVIOUS_CLOSES:
            _PREVIOUS_CLOSES.clear()  # a new day: the old one's closes are no longer asked for
            _PREVIOUS_CLOSES[day] = cached
        expiry = moment + settings.PREVIOUS_CLOSE_CACHE_SECONDS
        cached.update((pk, (close, expiry)) for pk, close in read.items())
    return {
        asset.pk: _close_or_reference(asset, read[asset.pk] if asset.pk in read else cached[asset.pk][0])
        for asset in assets
    }


def previous_closes_cache_clear() -> None:
    _PREVIOUS_CLOSES.clear()


@receiver(post_save, sender=Bar)
@receiver(post_delete, sender=Bar)
def _bar_changed(sender, instance: Bar, **kwargs) -> None:
    previous_closes_cache_clear()


@dataclass(frozen=True)
class PriceChange:
    """An asset's latest price and its move since the previous session's close."""

    asset: Asset
    price: Decimal
    previous_close: Decimal

    @property
    def change(self) -> Decimal:
        return self.price - self.previous_close

    @property
    def change_ratio(self) -> Decimal:
        return self.change / self.previous_close  # previous_close > 0: falls back to the positive reference price


def price_changes(assets: Iterable[Asset]) -> list[PriceChange]:
    """Latest price and today's change per asset, in the order given: one quote read (MGET) for
    all of them, one query for the previous closes (and one for bar closes if quotes are missing)."""
    assets = list(assets)
    prices, closes = latest_prices(assets), previous_closes(assets)
    return [PriceChange(asset=asset, price=prices[asset.pk], previous_close=closes[asset.pk]) for asset in assets]


@dataclass(frozen=True)
class QuoteSummary:
    """The quote panel's truth about one asset at one moment.

    `change` is measured from `reference` (a session's regular close) and named by `change_label`:
    "Today" in regular hours (crypto: always), "Pre-market" before the open, and once the session
    has closed "At close" (that session's close against the one before), with the moves since in
    `after_hours_change` (from `session_close`).
    """

    asset: Asset
    quote: Quote | None
    status: MarketStatus
    last: Decimal
    last_at: datetime | None  # when the last price was quoted (None: no quote kept, a bar close)
    change_label: str
    reference: Decimal
    change: Decimal
    session_close: Decimal | None = None
    after_hours_change: Decimal | None = None

    @property
    def change_ratio(self) -> Decimal | None:
        return self.change / self.reference if self.reference else None

    @property
    def after_hours_ratio(self) -> Decimal | None:
        if self.after_hours_change is None or not self.session_close:
            return None
        return self.after_hours_change / self.session_close


def quote_summary(asset: Asset, *, now: datetime | None = None) -> QuoteSummary:
    now = now or datetime.now(UTC)
    status = market_status(asset.asset_class, now)
    quote = latest_quotes([asset.symbol]).get(asset.symbol)
    last = latest_prices([asset])[asset.pk]
    common: dict[str, Any] = {
        "asset": asset,
        "quote": quote,
        "status": status,
        "last": last,
        "last_at": quote and quote.timestamp,
    }
    if status.phase not in (AFTER_HOURS, CLOSED):
        reference = previous_closes([asset], now=now)[asset.pk]
        label = "Pre-market" if status.phase == PRE_MARKET else "Today"
        return QuoteSummary(**common, change_label=label, reference=reference, change=last - reference)
    closed = last_closed_session(now)
    session_close = session_closes([asset], session=closed, now=now)[asset.pk]
    reference = session_closes([asset], session=session_before(closed.date), now=now)[asset.pk]
    return QuoteSummary(
        **common,
        change_label="At close",
        reference=reference,
        change=session_close - reference,
        session_close=session_close,
        after_hours_change=last - session_close,
    )


SCREENER_SORT_KEYS = {
    "symbol": lambda row: row.asset.symbol,
    "name": lambda row: row.asset.name.lower(),
    "price": lambda row: row.price,
    "change": lambda row: row.change_ratio,
    # Market cap rank (CoinGecko): biggest first when ascending; unranked assets last.
    "rank": lambda row: (row.asset.market_cap_rank is None, row.asset.market_cap_rank or 0),
}


def screener(
    *,
    asset_class: str = "",
    search: str = "",
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    sort: str = "symbol",
    descending: bool = False,
) -> list[PriceChange]:
    """Active, tradable assets by class, symbol or name, and price range, sorted.

    Prices live in the quote store, not the database, so the price range and the price and
    change sorts apply to `price_changes`' rows (one MGET for the whole universe).
    """
    assets = Asset.objects.filter(status=Asset.Status.ACTIVE, tradable=True).annotate(
        has_icon=Exists(AssetIcon.objects.filter(asset=OuterRef("pk")))
    )
    if asset_class:
        assets = assets.filter(asset_class=asset_class)
    if search := search.strip():
        assets = assets.filter(Q(symbol__icontains=search) | Q(name__icontains=search))
    rows = [
        row
        for row in price_changes(assets)
        if (min_price is None or row.price >= min_price) and (max_price is None or row.price <= max_price)
    ]
    return sorted(rows, key=SCREENER_SORT_KEYS[sort], reverse=descending)


def daily_bars_today_and_previous(
    assets: Iterable[Asset], *, now: datetime | None = None
) -> dict[uuid.UUID, tuple[Bar | None, Bar | None]]:
    """(today's daily bar, the previous daily bar) per asset, either None when missing."""
    assets = list(assets)
    start = today_start(now)
    bars = Bar.objects.filter(
        asset__in=assets, timeframe=Timeframe.DAY, timestamp__gte=start - SNAPSHOT_DAILY_LOOKBACK
    ).order_by("asset_id", "timestamp")
    result: dict[uuid.UUID, tuple[Bar | None, Bar | None]] = {asset.pk: (None, None) for asset in assets}
    for bar in bars:
        today, previous = result[bar.asset_id]
        if bar.timestamp >= start:
            result[bar.asset_id] = (bar if bar.timestamp == start else today, previous)
        else:
            result[bar.asset_id] = (today, bar)  # ordered by time, so the last one before today wins
    return result


def bars_list(*, asset: Asset, timeframe: str, start: datetime | None, end: datetime, limit: int) -> list[Bar]:
    """Bars in [start, end) in time order; without `start`, the newest `limit` bars before `end`."""
    bars = Bar.objects.filter(asset=asset, timeframe=timeframe, timestamp__lt=end)
    if start is not None:
        return list(bars.filter(timestamp__gte=start).order_by("timestamp")[:limit])
    return list(reversed(bars.order_by("-timestamp")[:limit]))


def bars_page(
    *,
    assets: Iterable[Asset],
    timeframe: str,
    start: datetime,
    end: datetime,
    limit: int,
    descending: bool = False,
    after: tuple[str, datetime] | None = None,
) -> tuple[list[Bar], bool]:
    """Bars of several assets in [start, end], ordered by symbol then time, at most `limit` of them.

    `after` (symbol, timestamp) is the last bar of the previous page: the page continues
    right after it. Returns (bars with `asset` loaded, whether more bars follow).
    """
    bars = Bar.objects.filter(
        asset__in=[asset.pk for asset in assets], timeframe=timeframe, timestamp__gte=start, timestamp__lte=end
    ).select_related("asset")
    if after is not None:
        symbol, timestamp = after
        later = Q(timestamp__lt=timestamp) if descending else Q(timestamp__gt=timestamp)
        bars = bars.filter(Q(asset__symbol__gt=symbol) | (Q(asset__symbol=symbol) & later))
    rows = list(bars.order_by("asset__symbol", "-timestamp" if descending else "timestamp")[: limit + 1])
    return rows[:limit], len(rows) > limit
