"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from django.urls import path

from marketdata.consumers import QuoteStreamConsumer
from speedtrade.consumers import UserStreamConsumer

websocket_urlpatterns = [
    path("ws/trades", UserStreamConsumer.as_asgi()),
    path("ws/quotes", QuoteStreamConsumer.as_asgi()),
]
