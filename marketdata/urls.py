from django.urls import path

from marketdata import views

urlpatterns = [
    path("trade/", views.trade_default, name="trade_default"),
    # <path:…> so crypto pairs read naturally: /trade/BTC/USD/ (BTCUSD works too).
    path("trade/<path:symbol>/", views.trade, name="trade"),
]
