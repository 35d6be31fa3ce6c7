"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from django.urls import path

from marketdata.consumers import QuoteStreamConsumer
from portfolios.consumers import AccountStreamConsumer

websocket_urlpatterns = [
    path("ws/trades", AccountStreamConsumer.as_asgi()),
    path("ws/quotes", QuoteStreamConsumer.as_asgi()),
]
