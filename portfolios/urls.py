from django.urls import path

from portfolios import bank_link_views, views, watchlist_views

urlpatterns = [
    path("", views.home, name="home"),
    path("home/live/", views.home_live, name="home_live"),
    path("tax-lots/", views.tax_lots, name="tax_lots"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/<uuid:transfer_id>/cancel/", views.transfer_cancel, name="transfer_cancel"),
    path("transfers/bank/link-token/", bank_link_views.link_token, name="bank_link_token"),
    path("transfers/bank/exchange/", bank_link_views.link_exchange, name="bank_link_exchange"),
    path("plaid/webhook/", bank_link_views.plaid_webhook, name="plaid_webhook"),
    path("watchlists/", watchlist_views.watchlists, name="watchlists"),
    path("watchlists/<uuid:watchlist_id>/rename/", watchlist_views.watchlist_rename, name="watchlist_rename"),
    path("watchlists/<uuid:watchlist_id>/delete/", watchlist_views.watchlist_delete, name="watchlist_delete"),
    path("watchlists/<uuid:watchlist_id>/symbols/", watchlist_views.watchlist_symbol_add, name="watchlist_symbol_add"),
    path(
        "watchlists/<uuid:watchlist_id>/symbols/remove/",
        watchlist_views.watchlist_symbol_remove,
        name="watchlist_symbol_remove",
    ),
]
