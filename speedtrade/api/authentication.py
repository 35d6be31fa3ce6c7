"""DRF authentication classes of our own."""

from allauth.headless.adapter import get_adapter
from allauth.headless.contrib.rest_framework.authentication import JWTTokenAuthentication
from allauth.headless.tokens.strategies.jwt import internal
from rest_framework.exceptions import AuthenticationFailed

from speedtrade.middleware import session_activity_track


class ThrottledJWTTokenAuthentication(JWTTokenAuthentication):
    """allauth's JWT authentication (stateful: the token's session must still exist, so logging out revokes it),
    with the session's activity tracked at most once per interval instead of written on every API call."""

    def authenticate(self, request):
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        result = internal.validate_access_token(key)
        if result is None:
            raise AuthenticationFailed(get_adapter().error_messages["invalid_token"])
        session_activity_track(self._request, user=result.user, session=result.session)
        return result.user, result.payload
