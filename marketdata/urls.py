from django.urls import path

from marketdata import screener_views, views

urlpatterns = [
    path("screener/", screener_views.screener, name="screener"),
    path("trade/", views.trade_default, name="trade_default"),
    # <path:…> so crypto pairs read naturally: /trade/BTC/USD/ (BTCUSD works too).
    path("trade/<path:symbol>/", views.trade, name="trade"),
    # Icons we downloaded (CoinGecko); never hot-linked. <path:…> for "BTC/USD".
    path("assets/<path:symbol>/icon", views.asset_icon, name="asset_icon"),
]
