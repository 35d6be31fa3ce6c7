"""API-key authentication: Alpaca's `APCA-API-KEY-ID` + `APCA-API-SECRET-KEY` headers."""

import time

from rest_framework import authentication, exceptions

from accounts import services
from accounts.api.rate_limit import rate_limit_enforce
from speedtrade.auth_cache import auth_cache

KEY_ID_HEADER = "APCA-API-KEY-ID"
SECRET_HEADER = "APCA-API-SECRET-KEY"


class AlpacaKeyAuthentication(authentication.BaseAuthentication):
    """`request.user` is the key's owner and `request.auth` the `ApiKey` (its scope decides writes).

    Requests without either header are left to the other authentication classes. Each
    authenticated request counts against the key's and its owner's per-minute budgets (429 beyond either).
    A key that passes is remembered by this process (`speedtrade.auth_cache`) for the lean request path.
    """

    def authenticate(self, request):
        key_id = request.headers.get(KEY_ID_HEADER, "")
        secret = request.headers.get(SECRET_HEADER, "")
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            raise exceptions.AuthenticationFailed(f"Send both {KEY_ID_HEADER} and {SECRET_HEADER}.")
        validated_at = time.monotonic()
        try:
            key = services.api_key_authenticate(key_id=key_id, secret=secret)
        except services.ApiKeyInvalid:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key, or wrong secret.") from None
        auth_cache.api_key_remember(key=key, secret=secret, validated_at=validated_at)
        rate_limit_enforce(request, key_id=key.key_id, user_id=key.user_id)
        return key.user, key

    def authenticate_header(self, request):
        return "APCA-API-KEY-ID"
