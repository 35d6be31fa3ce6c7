"""Alpaca's Trading API v2 (`/v2/...`) as a thin layer over SpeedTrade's own API views.

Each view here IS the `/api/v1` view (same serializers, services and selectors, so the
same rules), with Alpaca's error shape and status codes (`AlpacaTradingErrorsMixin`)
and, where Alpaca's wire format differs, a small adaptation: assets unpaginated,
Alpaca's account status names, close-all refusals with numeric codes, watchlists by
name, account configurations. alpaca-py's `TradingClient(url_override=<site>)` calls
these paths (it appends `/v2`).
"""

import django_filters
from django.http import JsonResponse
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from alpaca_compat.errors import AlpacaTradingErrorsMixin, alpaca_code
from marketdata.api import views as marketdata_views
from marketdata.api.filters import AssetFilter
from marketdata.api.serializers import AssetOutputSerializer
from marketdata.selectors import latest_prices
from portfolios import selectors as portfolio_selectors
from portfolios.api import views as portfolio_views
from portfolios.models import Account
from speedtrade.api.errors import domain_error_status
from trading import selectors as trading_selectors
from trading.api import views as trading_views

# --- Account ---------------------------------------------------------------------------


class AccountView(AlpacaTradingErrorsMixin, portfolio_views.AccountView):
    def get(self, request):
        response = super().get(request)
        response.data = alpaca_account_body(response.data)
        return response


def alpaca_account_body(body: dict) -> dict:
    """`/api/v1/account`'s body as Alpaca's `GET /v2/account` says it (also the lean request path's)."""
    # Alpaca's AccountStatus has no CLOSED; the other SpeedTrade statuses have the same names.
    status = {"CLOSED": "ACCOUNT_CLOSED"}.get(body["status"], body["status"])
    # No pattern-day-trader flag or count since FINRA's 2026 intraday-margin rule (docs/notes/trading.md).
    return {**body, "status": status, "crypto_status": status, "pattern_day_trader": False, "daytrade_count": 0}


class AccountConfigurationSerializer(serializers.Serializer):
    """What Alpaca's account configurations say about a SpeedTrade account. Every value is a
    fact of how SpeedTrade works (long only, fractional shares, margin by account type)."""

    fractional_trading = serializers.BooleanField()
    max_margin_multiplier = serializers.CharField()
    no_shorting = serializers.BooleanField()
    suspend_trade = serializers.BooleanField()
    trade_confirm_email = serializers.CharField()
    ptp_no_exception_entry = serializers.BooleanField()


def account_configuration(account: Account) -> dict:
    return {
        "fractional_trading": True,
        "max_margin_multiplier": "2" if account.type == Account.Type.MARGIN else "1",
        "no_shorting": True,
        "suspend_trade": account.trading_blocked,
        "trade_confirm_email": "none",
        "ptp_no_exception_entry": False,
    }


class AccountConfigurationsView(AlpacaTradingErrorsMixin, portfolio_views.PortfolioView):
    api_key_access = True  # accounts/api/permissions.py

    def get(self, request):
        return Response(AccountConfigurationSerializer(account_configuration(self.account())).data)

    def patch(self, request):
        """Accepted when it changes nothing: SpeedTrade's settings are not configurable per account."""
        current = AccountConfigurationSerializer(account_configuration(self.account())).data
        if not isinstance(request.data, dict):
            raise ValidationError("Send the configurations as a JSON object.")
        errors = {}
        for name, value in request.data.items():
            if value is None:
                continue  # alpaca-py sends every field of its model; None means "not set"
            if name not in current:
                errors[name] = ["Unknown or unsupported setting."]
            elif value != current[name]:
                errors[name] = [f"SpeedTrade does not offer changing this (it is {current[name]!r})."]
        if errors:
            raise ValidationError(errors)
        return Response(current)


class PortfolioHistoryView(AlpacaTradingErrorsMixin, portfolio_views.PortfolioHistoryView):
    def get(self, request):
        response = super().get(request)
        response.data["cashflow"] = {}  # deposits and withdrawals show in the activities
        return response


class ActivitiesView(AlpacaTradingErrorsMixin, portfolio_views.ActivitiesView):
    def get(self, request):
        response = super().get(request)
        fills = [activity for activity in response.data if activity["activity_type"] == "FILL"]
        progress = trading_selectors.fill_progress(fill["execution_id"] for fill in fills)
        for fill in fills:
            # alpaca-py's TradeActivity requires where the fill left its order.
            fill.update({name: str(value) for name, value in progress[fill["execution_id"]].items()})
        for activity in response.data:
            if activity["activity_type"] == "TRANS":
                # Alpaca names a transfer by its direction: cash deposit or cash withdrawal.
                activity["activity_type"] = "CSW" if activity["net_amount"].startswith("-") else "CSD"
        return response


# --- Orders ----------------------------------------------------------------------------


class OrdersView(AlpacaTradingErrorsMixin, trading_views.OrdersView):
    pass


class OrderDetailView(AlpacaTradingErrorsMixin, trading_views.OrderDetailView):
    pass


class OrderByClientOrderIdView(AlpacaTradingErrorsMixin, trading_views.OrderByClientOrderIdView):
    pass


# --- Positions -------------------------------------------------------------------------


class PositionsView(AlpacaTradingErrorsMixin, trading_views.PositionsView):
    def refusal_body(self, refusal) -> dict:
        # alpaca-py parses a refusal as FailedClosePositionDetails: a numeric code.
        return {"code": alpaca_code(domain_error_status(refusal)), "message": refusal.message}


class PositionView(AlpacaTradingErrorsMixin, trading_views.PositionView):
    pass


# --- Assets, clock, calendar ---------------------------------------------------------


class AlpacaAssetFilter(AssetFilter):
    exchange = django_filters.CharFilter(field_name="exchange", lookup_expr="iexact")

    class Meta(AssetFilter.Meta):
        fields = [*AssetFilter.Meta.fields, "exchange"]


class AssetListView(AlpacaTradingErrorsMixin, marketdata_views.AssetListView):
    """Alpaca answers with every matching asset in one list (no pages)."""

    filterset_class = AlpacaAssetFilter
    pagination_class = None

    def list(self, request, *args, **kwargs):
        assets = list(self.filter_queryset(self.get_queryset()))
        return Response(AssetOutputSerializer(assets, many=True, context={"prices": latest_prices(assets)}).data)


class AssetDetailView(AlpacaTradingErrorsMixin, marketdata_views.AssetDetailView):
    pass


class ClockView(AlpacaTradingErrorsMixin, marketdata_views.ClockView):
    pass


class CalendarView(AlpacaTradingErrorsMixin, marketdata_views.CalendarView):
    pass


# --- Watchlists --------------------------------------------------------------------------


class WatchlistListView(AlpacaTradingErrorsMixin, portfolio_views.WatchlistListView):
    pass


class WatchlistDetailView(AlpacaTradingErrorsMixin, portfolio_views.WatchlistDetailView):
    pass


class WatchlistSymbolView(AlpacaTradingErrorsMixin, portfolio_views.WatchlistSymbolView):
    pass


class WatchlistByNameView(WatchlistDetailView):
    """`/v2/watchlists:by_name?name=…`: the same operations, the list named in the query."""

    def watchlist(self, watchlist_id):
        if watchlist_id is not None:  # re-reading after a change (which may have renamed it)
            return super().watchlist(watchlist_id)
        watchlist = portfolio_selectors.watchlist_get(
            account=self.account(), name=self.request.query_params.get("name", "")
        )
        if watchlist is None:
            raise NotFound("No watchlist by that name.")
        return watchlist

    def get(self, request):  # type: ignore[override]  # the by-name route has no id in its path
        return super().get(request, watchlist_id=None)

    def put(self, request):  # type: ignore[override]  # the by-name route has no id in its path
        return super().put(request, watchlist_id=None)

    def post(self, request):  # type: ignore[override]  # the by-name route has no id in its path
        return super().post(request, watchlist_id=None)

    def delete(self, request):  # type: ignore[override]  # the by-name route has no id in its path
        return super().delete(request, watchlist_id=None)


# --- Routes that are not there -----------------------------------------------------------


def unknown_route(request, *args, **kwargs):
    """Any other path under /v2/: Alpaca's 404 (no authentication needed to learn a route is absent)."""
    return JsonResponse({"code": alpaca_code(404), "message": "No such route in SpeedTrade's Alpaca API."}, status=404)
