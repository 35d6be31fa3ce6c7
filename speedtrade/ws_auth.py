"""WebSocket authentication and origin checks.

Browsers authenticate with their session cookie (channels' AuthMiddlewareStack);
the mobile client sends its allauth JWT in the handshake's `Authorization: Bearer`
header. Browsers always send `Origin`, so a handshake without one comes from a
non-browser client and cannot be a cross-site hijack; one with an Origin must match
ALLOWED_HOSTS.
"""

from allauth.headless.tokens.strategies.jwt.internal import validate_access_token
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser


def _access_token_user_and_session(token: str):
    result = validate_access_token(token)
    if result is None or not result.user.is_active:
        return AnonymousUser(), None
    return result.user, result.session.session_key if result.session is not None else None


@database_sync_to_async
def user_from_access_token(token: str):
    return _access_token_user_and_session(token)[0]


@database_sync_to_async
def user_and_session_from_access_token(token: str):
    """The token's user and the session it belongs to (its logout closes the socket), or AnonymousUser."""
    return _access_token_user_and_session(token)


def bearer_token(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class BearerTokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        token = bearer_token(scope)
        if token is not None:
            user, session_key = await user_and_session_from_access_token(token)
            scope = dict(scope, user=user, auth_session_key=session_key)
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def websocket_auth_stack(inner):
    allowed = settings.ALLOWED_HOSTS
    return BrowserOriginValidator(AuthMiddlewareStack(BearerTokenAuthMiddleware(inner)), allowed)
