"""Alpaca's Market Data API (stocks `/v2/stocks/...`, crypto `/v1beta3/crypto/us/...`).

What alpaca-py's `StockHistoricalDataClient` and `CryptoHistoricalDataClient` call, with
the same query parameters and multi-symbol response shapes, served from SpeedTrade's
bar table and latest-quote store. Bars page with `next_page_token` (an opaque token for
"after this symbol and time"). SpeedTrade stores no quote or trade history: the
quotes/trades routes return the latest quote/trade of each symbol when it falls inside
the requested range (see `alpaca_compat/wire.py` for what a trade is here).
"""

import base64
import binascii
from datetime import UTC, datetime

from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.views import APIView

from alpaca_compat.errors import AlpacaErrorsMixin
from alpaca_compat.wire import bar_record, quote_record, to_json, trade_record
from marketdata.api.serializers import MarketTimeField, SymbolListField
from marketdata.models import Asset, Timeframe
from marketdata.quotes import latest_quotes
from marketdata.selectors import (
    assets_by_symbols,
    bars_page,
    daily_bars_today_and_previous,
    newest_minute_bars,
    today_start,
)

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
# Alpaca's spellings of the timeframes SpeedTrade stores ("1T" and "1Min" are the same).
TIMEFRAMES = {
    "1Min": Timeframe.MINUTE,
    "1T": Timeframe.MINUTE,
    "5Min": Timeframe.FIVE_MINUTES,
    "5T": Timeframe.FIVE_MINUTES,
    "1Hour": Timeframe.HOUR,
    "1H": Timeframe.HOUR,
    "1Day": Timeframe.DAY,
    "1D": Timeframe.DAY,
}
# The data feeds a bot may name; SpeedTrade has one feed, so every name reads the same data.
STOCK_FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")


def alpaca_json(data) -> HttpResponse:
    return HttpResponse(to_json(data), content_type="application/json")


def _encode_page_token(symbol: str, timestamp: datetime) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{timestamp.isoformat()}".encode()).decode()


def _decode_page_token(token: str) -> tuple[str, datetime]:
    try:
        symbol, _, moment = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return symbol, datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError({"page_token": ["Invalid page token."]}) from None


class SymbolsInput(serializers.Serializer):
    symbols = SymbolListField()


class LatestInput(SymbolsInput):
    feed = serializers.ChoiceField(choices=STOCK_FEEDS, required=False)
    currency = serializers.ChoiceField(choices=["USD"], required=False)


class RangeInput(LatestInput):
    start = MarketTimeField(required=False)
    end = MarketTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    sort = serializers.ChoiceField(choices=["asc", "desc"], default="asc")
    page_token = serializers.CharField(required=False)
    asof = serializers.CharField(required=False)  # symbol renames: SpeedTrade's symbols never change

    def validate(self, data):
        now = datetime.now(UTC)
        data.setdefault("start", today_start(now))  # Alpaca: "defaults to the beginning of the current day"
        data.setdefault("end", now)
        if data["start"] > data["end"]:
            raise ValidationError({"start": ["start must not be after end."]})
        if "page_token" in data:
            data["after"] = _decode_page_token(data["page_token"])
        return data


class BarsInput(RangeInput):
    timeframe = serializers.CharField()
    adjustment = serializers.ChoiceField(choices=["raw", "split", "dividend", "spin-off", "all"], required=False)

    def validate_timeframe(self, value):
        if value not in TIMEFRAMES:
            raise ValidationError(f"SpeedTrade serves the timeframes {', '.join(TIMEFRAMES)}; not {value!r}.")
        return TIMEFRAMES[value]


class MarketDataView(AlpacaErrorsMixin, APIView):
    """A market-data route for one asset class (`asset_class` set by the URLconf)."""

    api_key_access = True  # accounts/api/permissions.py

    asset_class: str = Asset.AssetClass.US_EQUITY
    input_serializer = LatestInput

    def params(self, request) -> dict:
        serializer = self.input_serializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def assets(self, params) -> list[Asset]:
        """The requested assets of this route's class, in symbol order; unknown symbols are a 404."""
        found, unknown = assets_by_symbols(params["symbols"])
        unknown += [symbol for symbol, asset in found.items() if asset.asset_class != self.asset_class]
        if unknown:
            kind = "crypto pairs" if self.asset_class == Asset.AssetClass.CRYPTO else "stocks"
            raise NotFound(f"Unknown {kind}: {', '.join(unknown)}.")
        return sorted({asset.pk: asset for asset in found.values()}.values(), key=lambda asset: asset.symbol)


class BarsView(MarketDataView):
    input_serializer = BarsInput

    def get(self, request, **kwargs):
        params = self.params(request)
        bars, more = bars_page(
            assets=self.assets(params),
            timeframe=params["timeframe"],
            start=params["start"],
            end=params["end"],
            limit=params["limit"],
            descending=params["sort"] == "desc",
            after=params.get("after"),
        )
        by_symbol: dict[str, list] = {}
        for bar in bars:
            by_symbol.setdefault(bar.asset.symbol, []).append(bar_record(bar))
        token = _encode_page_token(bars[-1].asset.symbol, bars[-1].timestamp) if more else None
        return alpaca_json({"bars": by_symbol, "next_page_token": token})


class LatestQuoteHistoryView(MarketDataView):
    """`quotes` / `trades` over a range: the newest one per symbol when it lies in the range."""

    input_serializer = RangeInput
    key: str = "quotes"  # or "trades"

    def get(self, request, **kwargs):
        params = self.params(request)
        assets = self.assets(params)
        quotes = latest_quotes(asset.symbol for asset in assets)
        record = quote_record if self.key == "quotes" else trade_record
        data = {
            asset.symbol: [record(asset, quotes[asset.symbol])]
            for asset in assets
            if asset.symbol in quotes and params["start"] <= quotes[asset.symbol].timestamp <= params["end"]
        }
        return alpaca_json({self.key: dict(list(data.items())[: params["limit"]]), "next_page_token": None})


class LatestView(MarketDataView):
    """`{bars,quotes,trades}/latest`: one record per symbol (symbols without data are left out)."""

    key: str = "bars"  # or "quotes", "trades"

    def get(self, request, **kwargs):
        assets = self.assets(self.params(request))
        if self.key == "bars":
            minute_bars = newest_minute_bars(assets)
            data = {asset.symbol: bar_record(minute_bars[asset.pk]) for asset in assets if asset.pk in minute_bars}
        else:
            quotes = latest_quotes(asset.symbol for asset in assets)
            record = quote_record if self.key == "quotes" else trade_record
            data = {asset.symbol: record(asset, quotes[asset.symbol]) for asset in assets if asset.symbol in quotes}
        return alpaca_json({self.key: data})


def snapshots(assets: list[Asset]) -> dict[str, dict]:
    now = datetime.now(UTC)
    quotes = latest_quotes(asset.symbol for asset in assets)
    minute_bars = newest_minute_bars(assets)
    daily = daily_bars_today_and_previous(assets, now=now)
    result = {}
    for asset in assets:
        quote = quotes.get(asset.symbol)
        today, previous = daily[asset.pk]
        minute = minute_bars.get(asset.pk)
        result[asset.symbol] = {
            "latestTrade": trade_record(asset, quote) if quote else None,
            "latestQuote": quote_record(asset, quote) if quote else None,
            "minuteBar": bar_record(minute) if minute else None,
            "dailyBar": bar_record(today) if today else None,
            "prevDailyBar": bar_record(previous) if previous else None,
        }
    return result


class StockSnapshotsView(MarketDataView):
    """Stocks answer with the snapshots keyed by symbol at the top level (Alpaca's shape)."""

    def get(self, request, **kwargs):
        return alpaca_json(snapshots(self.assets(self.params(request))))


class CryptoSnapshotsView(MarketDataView):
    """Crypto wraps them in `{"snapshots": ...}` (Alpaca's v1beta3 shape)."""

    asset_class = Asset.AssetClass.CRYPTO

    def get(self, request, **kwargs):
        return alpaca_json({"snapshots": snapshots(self.assets(self.params(request)))})


class NotOfferedView(AlpacaErrorsMixin, APIView):
    """Market-data products SpeedTrade does not offer: a clear Alpaca-shaped 404, for any method."""

    api_key_access = True  # accounts/api/permissions.py

    product: str = "This product"

    def get(self, request, *args, **kwargs):
        raise NotFound(f"{self.product} is not offered by SpeedTrade.")

    post = put = patch = delete = get
