"""WebSocket routes of every app, gathered in one place for the ASGI router."""

from django.urls import path

from speedtrade.consumers import UserStreamConsumer

websocket_urlpatterns = [
    path("ws/trades", UserStreamConsumer.as_asgi()),
]
