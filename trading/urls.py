from django.urls import path

from trading import views

urlpatterns = [
    path("trade/", views.trade_default, name="trade_default"),
    path("chart/indicators/", views.chart_indicators, name="chart_indicators"),
    # <path:…> so crypto pairs read naturally: /trade/BTC/USD/ (BTCUSD works too).
    path("trade/<path:symbol>/", views.trade, name="trade"),
    path("orders/", views.order_list, name="orders"),
    path("orders/ticket/", views.order_ticket, name="order_ticket"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<uuid:order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<uuid:order_id>/replace/", views.order_replace, name="order_replace"),
]
