from datetime import UTC, datetime
from typing import cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from marketdata.api.filters import AssetFilter
from marketdata.api.serializers import (
    AssetOutputSerializer,
    BarOutputSerializer,
    BarsInputSerializer,
    BarsOutputSerializer,
    CalendarDayOutputSerializer,
    CalendarInputSerializer,
    ClockOutputSerializer,
    QuotesOutputSerializer,
    SnapshotsOutputSerializer,
    SymbolsInputSerializer,
)
from marketdata.calendars import ET, equity_sessions, market_clock
from marketdata.indicators import indicators_compute
from marketdata.models import Asset
from marketdata.quotes import latest_quotes, quote_message
from marketdata.selectors import (
    asset_get,
    assets_by_symbols,
    bars_list,
    daily_bars_today_and_previous,
    latest_prices,
    previous_closes,
)

SYMBOL_OR_ID = OpenApiParameter(
    "symbol_or_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Asset UUID, symbol (AAPL), or crypto pair URL-encoded (BTC%2FUSD) or without slash (BTCUSD).",
)
SYMBOL = OpenApiParameter("symbol", OpenApiTypes.STR, OpenApiParameter.PATH, description="AAPL, BTC%2FUSD or BTCUSD")


def _asset_or_404(symbol_or_id: str) -> Asset:
    try:
        return asset_get(symbol_or_id=symbol_or_id)
    except Asset.DoesNotExist:
        raise NotFound(f"No asset {symbol_or_id!r}.") from None


def _assets_or_404(request) -> list[Asset]:
    serializer = SymbolsInputSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    found, unknown = assets_by_symbols(serializer.validated_data["symbols"])
    if unknown:
        raise NotFound(f"Unknown symbols: {', '.join(unknown)}.")
    return list({asset.pk: asset for asset in found.values()}.values())


def _quote_or_none(quote, now):
    return None if quote is None else quote_message(quote, now=now)


class AssetListView(ListAPIView):
    """Assets, Alpaca-shaped; `max_price=100` is the "under $100" screener (against the latest price)."""

    api_key_access = True  # accounts/api/permissions.py

    queryset = Asset.objects.all()
    serializer_class = AssetOutputSerializer
    filterset_class = AssetFilter

    def list(self, request, *args, **kwargs):
        # Never None: the API's pagination (speedtrade.api.pagination) has a default limit, so it always pages.
        page = cast(list, self.paginate_queryset(self.filter_queryset(self.get_queryset())))
        context = {**self.get_serializer_context(), "prices": latest_prices(page)}
        return self.get_paginated_response(AssetOutputSerializer(page, many=True, context=context).data)


class AssetDetailView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(parameters=[SYMBOL_OR_ID], responses=AssetOutputSerializer, operation_id="asset_retrieve")
    def get(self, request, symbol_or_id):
        asset = _asset_or_404(symbol_or_id)
        return Response(AssetOutputSerializer(asset, context={"prices": latest_prices([asset])}).data)


class ClockView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(responses=ClockOutputSerializer, operation_id="clock_retrieve")
    def get(self, request):
        clock = market_clock(datetime.now(UTC))
        data = {
            "timestamp": clock.timestamp,
            "is_open": clock.is_open,
            "next_open": clock.next_open,
            "next_close": clock.next_close,
        }
        return Response(ClockOutputSerializer(data).data)


class CalendarView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(
        parameters=[CalendarInputSerializer],
        responses=CalendarDayOutputSerializer(many=True),
        operation_id="calendar_list",
    )
    def get(self, request):
        serializer = CalendarInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        days = [
            {
                "date": session.date,
                "open": f"{session.open.astimezone(ET):%H:%M}",
                "close": f"{session.close.astimezone(ET):%H:%M}",
                "session_open": f"{session.session_open.astimezone(ET):%H%M}",
                "session_close": f"{session.session_close.astimezone(ET):%H%M}",
            }
            for session in equity_sessions(serializer.validated_data["start"], serializer.validated_data["end"])
        ]
        return Response(CalendarDayOutputSerializer(days, many=True).data)


class QuotesView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(parameters=[SymbolsInputSerializer], responses=QuotesOutputSerializer, operation_id="quotes_latest")
    def get(self, request):
        assets = _assets_or_404(request)
        now = datetime.now(UTC)
        quotes = latest_quotes(asset.symbol for asset in assets)
        data = {asset.symbol: _quote_or_none(quotes.get(asset.symbol), now) for asset in assets}
        return Response(QuotesOutputSerializer({"quotes": data}).data)


class SnapshotsView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(
        parameters=[SymbolsInputSerializer], responses=SnapshotsOutputSerializer, operation_id="snapshots_list"
    )
    def get(self, request):
        assets = _assets_or_404(request)
        now = datetime.now(UTC)
        quotes = latest_quotes(asset.symbol for asset in assets)
        daily = daily_bars_today_and_previous(assets, now=now)
        closes = previous_closes(assets, now=now)
        data = {
            asset.symbol: {
                "latest_quote": _quote_or_none(quotes.get(asset.symbol), now),
                "daily_bar": daily[asset.pk][0],
                "prev_daily_bar": daily[asset.pk][1],
                "prev_close": closes[asset.pk],
            }
            for asset in assets
        }
        return Response(SnapshotsOutputSerializer({"snapshots": data}).data)


class BarsView(APIView):
    api_key_access = True  # accounts/api/permissions.py

    @extend_schema(parameters=[SYMBOL, BarsInputSerializer], responses=BarsOutputSerializer, operation_id="bars_list")
    def get(self, request, symbol):
        asset = _asset_or_404(symbol)
        serializer = BarsInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        bars = bars_list(
            asset=asset,
            timeframe=params["timeframe"],
            start=params.get("start"),
            end=params["end"],
            limit=params["limit"],
        )
        bars_data = BarOutputSerializer(bars, many=True).data
        body = {"symbol": asset.symbol, "timeframe": params["timeframe"], "bars": bars_data}
        if params.get("indicators"):
            body["indicators"] = indicators_compute(bars, params["indicators"])
        return Response(body)
