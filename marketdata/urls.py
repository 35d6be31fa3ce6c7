from django.urls import path

from marketdata import screener_views, views

urlpatterns = [
    path("screener/", screener_views.screener, name="screener"),
    # Icons we downloaded (CoinGecko); never hot-linked. <path:…> for "BTC/USD".
    path("assets/<path:symbol>/icon", views.asset_icon, name="asset_icon"),
]
