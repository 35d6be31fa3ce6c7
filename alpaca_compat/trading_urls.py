"""Alpaca Trading API v2 routes, mounted at `/v2/` (alpaca-py: `TradingClient(url_override=<site>)`).

Market-data routes under `/v2/stocks/` are in `marketdata_urls.py` (included before these).
"""

from django.urls import path, re_path

from alpaca_compat import trading_views as views
from alpaca_compat.marketdata_views import NotOfferedView

urlpatterns = [
    path("account", views.AccountView.as_view(), name="alpaca-account"),
    path("account/configurations", views.AccountConfigurationsView.as_view(), name="alpaca-account-configurations"),
    path("account/portfolio/history", views.PortfolioHistoryView.as_view(), name="alpaca-portfolio-history"),
    path("account/activities", views.ActivitiesView.as_view(), name="alpaca-account-activities"),
    path("orders", views.OrdersView.as_view(), name="alpaca-orders"),
    path("orders:by_client_order_id", views.OrderByClientOrderIdView.as_view(), name="alpaca-order-by-client-id"),
    path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="alpaca-order"),
    path("positions", views.PositionsView.as_view(), name="alpaca-positions"),
    re_path(r"^positions/[^/]+/exercise$", NotOfferedView.as_view(product="Options exercise")),
    path("positions/<path:symbol_or_asset_id>", views.PositionView.as_view(), name="alpaca-position"),
    path("assets", views.AssetListView.as_view(), name="alpaca-assets"),
    path("assets/<path:symbol_or_id>", views.AssetDetailView.as_view(), name="alpaca-asset"),
    path("clock", views.ClockView.as_view(), name="alpaca-clock"),
    path("calendar", views.CalendarView.as_view(), name="alpaca-calendar"),
    path("watchlists", views.WatchlistListView.as_view(), name="alpaca-watchlists"),
    path("watchlists:by_name", views.WatchlistByNameView.as_view(), name="alpaca-watchlist-by-name"),
    path("watchlists/<uuid:watchlist_id>", views.WatchlistDetailView.as_view(), name="alpaca-watchlist"),
    path("watchlists/<uuid:watchlist_id>/<path:symbol>", views.WatchlistSymbolView.as_view()),
    # Products SpeedTrade does not offer.
    re_path(r"^options/", NotOfferedView.as_view(product="Options trading")),
    re_path(r"^corporate_actions/", NotOfferedView.as_view(product="Corporate actions")),
    re_path(r"^", views.unknown_route),
]
