from django.urls import path

from portfolios.api import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="api-account"),
    path("account/portfolio/history", views.PortfolioHistoryView.as_view(), name="api-portfolio-history"),
    path("account/activities", views.ActivitiesView.as_view(), name="api-account-activities"),
    path("account/lot-method", views.LotMethodView.as_view(), name="api-account-lot-method"),
    # Before trading's positions/<path:symbol> (included after this module), which would take "/lots" as a symbol.
    path("positions/<path:symbol_or_asset_id>/lots", views.PositionLotsView.as_view(), name="api-position-lots"),
    # positions and positions/<symbol>: routed in trading/api/urls.py (DELETE closes them with orders).
    path("transfers", views.TransferListView.as_view(), name="api-transfers"),
    path("transfers/<uuid:transfer_id>", views.TransferDetailView.as_view(), name="api-transfer"),
    path("watchlists", views.WatchlistListView.as_view(), name="api-watchlists"),
    path("watchlists/<uuid:watchlist_id>", views.WatchlistDetailView.as_view(), name="api-watchlist"),
    path(
        "watchlists/<uuid:watchlist_id>/<path:symbol>", views.WatchlistSymbolView.as_view(), name="api-watchlist-symbol"
    ),
]
