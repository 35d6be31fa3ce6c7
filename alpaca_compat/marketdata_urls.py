"""Alpaca Market Data API routes (included at the site root by `speedtrade/urls.py`).

alpaca-py's data clients call `<url_override>/v2/stocks/...` and
`<url_override>/v1beta3/crypto/us/...`, so the data `url_override` is the site's base URL.
"""

from django.urls import path, re_path

from alpaca_compat import marketdata_views as views
from marketdata.models import Asset

CRYPTO = {"asset_class": Asset.AssetClass.CRYPTO}

urlpatterns = [
    path("v2/stocks/bars", views.BarsView.as_view(), name="alpaca-stock-bars"),
    path("v2/stocks/quotes", views.LatestQuoteHistoryView.as_view(key="quotes"), name="alpaca-stock-quotes"),
    path("v2/stocks/trades", views.LatestQuoteHistoryView.as_view(key="trades"), name="alpaca-stock-trades"),
    path("v2/stocks/bars/latest", views.LatestView.as_view(key="bars"), name="alpaca-stock-latest-bars"),
    path("v2/stocks/quotes/latest", views.LatestView.as_view(key="quotes"), name="alpaca-stock-latest-quotes"),
    path("v2/stocks/trades/latest", views.LatestView.as_view(key="trades"), name="alpaca-stock-latest-trades"),
    path("v2/stocks/snapshots", views.StockSnapshotsView.as_view(), name="alpaca-stock-snapshots"),
    path("v1beta3/crypto/us/bars", views.BarsView.as_view(**CRYPTO), name="alpaca-crypto-bars"),
    path(
        "v1beta3/crypto/us/quotes",
        views.LatestQuoteHistoryView.as_view(key="quotes", **CRYPTO),
        name="alpaca-crypto-quotes",
    ),
    path(
        "v1beta3/crypto/us/trades",
        views.LatestQuoteHistoryView.as_view(key="trades", **CRYPTO),
        name="alpaca-crypto-trades",
    ),
    path("v1beta3/crypto/us/latest/bars", views.LatestView.as_view(key="bars", **CRYPTO)),
    path("v1beta3/crypto/us/latest/quotes", views.LatestView.as_view(key="quotes", **CRYPTO)),
    path("v1beta3/crypto/us/latest/trades", views.LatestView.as_view(key="trades", **CRYPTO)),
    path("v1beta3/crypto/us/snapshots", views.CryptoSnapshotsView.as_view(), name="alpaca-crypto-snapshots"),
    # Market-data products SpeedTrade does not offer.
    re_path(r"^v1beta3/crypto/us/latest/orderbooks$", views.NotOfferedView.as_view(product="Crypto order book data")),
    re_path(r"^v1beta1/options/", views.NotOfferedView.as_view(product="Options market data")),
    re_path(r"^v1beta1/news", views.NotOfferedView.as_view(product="News")),
    re_path(r"^v1(beta1)?/corporate-actions", views.NotOfferedView.as_view(product="Corporate actions data")),
    re_path(r"^v1beta1/screener/", views.NotOfferedView.as_view(product="The screener")),
    re_path(r"^v1beta1/(forex|logos)", views.NotOfferedView.as_view(product="This market-data product")),
]
