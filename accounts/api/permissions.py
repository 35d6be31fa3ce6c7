from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiKey


def api_key_of(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class ApiKeyScopePermission(BasePermission):
    """A read-only key reads; only a trading key changes anything."""

    message = "This API key is read-only: use a key with the trading scope to place, change or cancel anything."

    def has_permission(self, request, view):
        key = api_key_of(request)
        return key is None or key.can_trade or request.method in SAFE_METHODS


class NotApiKeyAuthenticated(BasePermission):
    """Keys are managed by their owner in person: a leaked key cannot mint itself successors."""

    message = "API keys are managed after logging in (session or access token), not with an API key."

    def has_permission(self, request, view):
        return api_key_of(request) is None
