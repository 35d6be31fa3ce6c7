"""Shared WebSocket consumer behaviour: authentication, JSON frames, error replies."""

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer

from speedtrade.realtime import user_group

CLOSE_UNAUTHENTICATED = 4401


class AuthenticatedJsonConsumer(AsyncWebsocketConsumer):
    """Accepts only authenticated users and speaks JSON; a bad frame gets an error, not a crash."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        await self.accept()
        await self.on_authenticated()

    async def on_authenticated(self) -> None:
        """Hook for subclasses: join groups, send a greeting."""

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = orjson.loads(text_data if text_data is not None else bytes_data)
        except orjson.JSONDecodeError:
            await self.send_error("bad_frame", "Frames must be JSON objects.")
            return
        if not isinstance(message, dict) or not isinstance(message.get("action"), str):
            await self.send_error("bad_frame", 'Frames must be JSON objects with an "action".')
            return
        handler = getattr(self, f"action_{message['action']}", None)
        if handler is None:
            await self.send_error("unknown_action", f"Unknown action {message['action']!r}.")
            return
        await handler(message)

    async def send_json(self, content) -> None:
        await self.send(text_data=orjson.dumps(content).decode())

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def action_ping(self, message) -> None:
        await self.send_json({"type": "pong"})


class UserStreamConsumer(AuthenticatedJsonConsumer):
    """`/ws/trades`: the user's own trade and account updates, nothing of anyone else's."""

    async def on_authenticated(self) -> None:
        self.group = user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "subscribed", "streams": ["trade_updates", "account_updates", "notifications"]})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_event(self, event) -> None:
        await self.send_json({"type": event["stream"], **event["data"]})
