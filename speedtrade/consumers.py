"""Shared WebSocket consumer behaviour: authentication, limits, revocation, JSON frames, error replies.

Every socket (ours and Alpaca's streams) is a `GuardedSocket`:

* frames above `WS_MAX_FRAME_BYTES` close the socket (1009); uvicorn refuses them earlier (`serve`);
* more than `WS_MAX_MESSAGES_PER_SECOND` client frames in one second close it (1008);
* once authenticated, a user holds at most `WS_MAX_SOCKETS_PER_USER` sockets per web process (4429);
* it joins its user's `sockets.<uuid>` group and closes (4401) when what authenticated it ends:
  a logout of its session (cookie or access token), the revocation of its API key, or — for every
  socket of the user — a password change or reset or an MFA change (`accounts.services`).
"""

import asyncio
import uuid
import weakref
from collections import defaultdict

import orjson
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from speedtrade.realtime import UserEventsReceiver, sockets_group, user_group

CLOSE_UNAUTHENTICATED = 4401  # never authenticated, or its session, token or key was revoked
CLOSE_TOO_MANY_SOCKETS = 4429
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_POLICY_VIOLATION = 1008  # faster than WS_MAX_MESSAGES_PER_SECOND

# The scope key under which `DirectFrames` hands consumers the server's own `send`.
SERVER_SEND = "speedtrade.server_send"

# This process's authenticated sockets per user (the cap is per web process; see the module docstring).
_SOCKETS_BY_USER: "defaultdict[uuid.UUID, weakref.WeakSet[GuardedSocket]]" = defaultdict(weakref.WeakSet)


def session_key_of(scope) -> str | None:
    """The session behind a handshake: the access token's (ws_auth) or the session cookie's."""
    if scope.get("auth_session_key"):
        return scope["auth_session_key"]
    session = scope.get("session")
    return getattr(session, "session_key", None) if session is not None else None


class DirectFrames:
    """ASGI wrapper for the WebSocket router: hands consumers the server's own `send` (scope[SERVER_SEND]).

    The middleware between the server and a consumer wraps `send` for the handshake's sake (Channels' session
    middleware reads the session on every message, for a cookie it can only set on accept): ~40 % of a quote
    frame's cost in the fan-out bench. High-rate data frames (`GuardedSocket.send_frame`) skip that chain;
    accept, close and replies still go through it.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        return await self.app({**scope, SERVER_SEND: send}, receive, send)


class GuardedSocket(AsyncWebsocketConsumer):
    socket_user_id: uuid.UUID | None = None
    session_key: str | None = None
    api_key_id: str | None = None
    closing = False

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However it ended (an exception skips the groups' discards): its groups drop it once they expire.
            forget = getattr(self.channel_layer, "channel_forget", None)  # the Redis layer's (channel_layer.py)
            if forget is not None and getattr(self, "channel_name", None):
                forget(self.channel_name)

    async def dispatch(self, message):
        """channels' dispatch without its `aclose_old_connections()` before every message: that is a hop to the
        process's one thread-sensitive sync thread, so every frame of every socket (each fill, each quote batch)
        waited there behind whatever requests ran in that thread — seconds, while placements waited on row locks.
        Our consumers reach the database only through `database_sync_to_async`, which closes old connections
        before and after each call itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_receive(self, message):
        if self.closing:
            return
        frame = message.get("text") if message.get("text") is not None else message.get("bytes")
        if frame is not None and len(frame) > settings.WS_MAX_FRAME_BYTES:
            await self.close_for(CLOSE_MESSAGE_TOO_BIG)
            return
        if not self._within_message_rate():
            await self.close_for(CLOSE_POLICY_VIOLATION)
            return
        await super().websocket_receive(message)

    def _within_message_rate(self) -> bool:
        now = asyncio.get_running_loop().time()
        window_start, count = getattr(self, "_rate_window", (now, 0))
        if now - window_start >= 1:
            window_start, count = now, 0
        self._rate_window = (window_start, count + 1)
        return count + 1 <= settings.WS_MAX_MESSAGES_PER_SECOND

    async def send_frame(self, text: str) -> None:
        """A data frame straight to the server (see `DirectFrames`); never the handshake's accept or close."""
        await self.scope[SERVER_SEND]({"type": "websocket.send", "text": text})

    async def close_for(self, code: int) -> None:
        self.closing = True
        await self.close(code=code)

    async def socket_authenticated(
        self, user, *, api_key_id: str | None = None, session_key: str | None = None
    ) -> bool:
        """Register the socket under its user and what authenticated it (an API key, else a session: the one
        given, else the handshake's); False (and closed) when the user already holds too many sockets."""
        if self.socket_user_id is not None:
            await self.socket_forget()
        open_sockets = _SOCKETS_BY_USER[user.pk]
        if len(open_sockets) >= settings.WS_MAX_SOCKETS_PER_USER:
            await self.close_for(CLOSE_TOO_MANY_SOCKETS)
            return False
        open_sockets.add(self)
        self.socket_user_id, self.api_key_id = user.pk, api_key_id
        self.session_key = None if api_key_id else session_key or session_key_of(self.scope)
        await self.channel_layer.group_add(sockets_group(user.pk), self.channel_name)
        return True

    async def socket_forget(self) -> None:
        if self.socket_user_id is None:
            return
        open_sockets = _SOCKETS_BY_USER[self.socket_user_id]
        open_sockets.discard(self)
        if not open_sockets:
            del _SOCKETS_BY_USER[self.socket_user_id]
        await self.channel_layer.group_discard(sockets_group(self.socket_user_id), self.channel_name)
        self.socket_user_id = None

    async def websocket_disconnect(self, message):
        await self.socket_forget()
        await super().websocket_disconnect(message)

    async def credentials_revoked(self, event) -> None:
        """What authenticated some of the user's sockets ended (accounts.services.sockets_close)."""
        if (
            event.get("everything")
            or (event.get("session_key") and event["session_key"] == self.session_key)
            or (event.get("api_key_id") and event["api_key_id"] == self.api_key_id)
        ):
            await self.close_for(CLOSE_UNAUTHENTICATED)


class AuthenticatedJsonConsumer(GuardedSocket):
    """Accepts only authenticated users and speaks JSON; a bad frame gets an error, not a crash."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        if not await self.socket_authenticated(user):
            return
        self.user = user
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


class UserStreamConsumer(UserEventsReceiver, AuthenticatedJsonConsumer):
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
