"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from django.urls import path, re_path

from alpaca_compat.streams import CryptoDataStreamConsumer, MarketDataStreamConsumer, TradingStreamConsumer
from marketdata.consumers import QuoteStreamConsumer
from portfolios.consumers import AccountStreamConsumer

websocket_urlpatterns = [
    path("ws/trades", AccountStreamConsumer.as_asgi()),
    path("ws/quotes", QuoteStreamConsumer.as_asgi()),
    # Alpaca-compatible streams (alpaca-py's url_override values: see docs/notes/alpaca-compat.md).
    path("stream", TradingStreamConsumer.as_asgi()),
    re_path(r"^v2/(iex|sip|delayed_sip|test)$", MarketDataStreamConsumer.as_asgi()),
    path("v1beta3/crypto/us", CryptoDataStreamConsumer.as_asgi()),
]
