"""DRF authentication classes of our own."""

import time

from allauth.headless.adapter import get_adapter
from allauth.headless.contrib.rest_framework.authentication import JWTTokenAuthentication
from allauth.headless.tokens.strategies.jwt import internal
from rest_framework.exceptions import AuthenticationFailed

from speedtrade.auth_cache import auth_cache, request_client
from speedtrade.middleware import session_activity_track


class ThrottledJWTTokenAuthentication(JWTTokenAuthentication):
    """allauth's JWT authentication (stateful: the token's session must still exist, so logging out revokes it),
    with the session's activity tracked at most once per interval instead of written on every API call.

    A token that passes is remembered by this process (`speedtrade.auth_cache`) for the lean request path."""

    def authenticate(self, request):
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        validated_at = time.monotonic()
        result = internal.validate_access_token(key)
        if result is None:
            raise AuthenticationFailed(get_adapter().error_messages["invalid_token"])
        session_activity_track(self._request, user=result.user, session=result.session)
        if result.session is not None and result.session.session_key:
            auth_cache.access_token_remember(
                payload=result.payload,
                session_key=result.session.session_key,
                user_id=result.user.pk,
                client=request_client(self._request.META),
                validated_at=validated_at,
            )
        return result.user, result.payload
