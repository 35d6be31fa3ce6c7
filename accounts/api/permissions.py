"""What an API key may reach: trading and market data, never the owner's money out, identity or keys.

A view opts in with `api_key_access = True` (orders, positions, account, activities, watchlists,
assets, clock, calendar, market data; Alpaca's /v2 views inherit it). Everything else — transfers,
KYC and its documents, the profile, key management — needs the user's own session or access token,
so a leaked key cannot move money out or read identity documents. Views that do not say are closed
to keys (fail closed).
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiKey


def api_key_of(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class ApiKeyScopePermission(BasePermission):
    """A key reaches only views that accept keys; a read-only key reads, only a trading key changes anything."""

    def has_permission(self, request, view):
        key = api_key_of(request)
        if key is None:
            return True
        if not getattr(view, "api_key_access", False):
            self.message = (
                "API keys reach trading and market data only: transfers, KYC, the profile and API keys "
                "need your own login (session or access token)."
            )
            return False
        self.message = (
            "This API key is read-only: use a key with the trading scope to place, change or cancel anything."
        )
        return key.can_trade or request.method in SAFE_METHODS


class NotApiKeyAuthenticated(BasePermission):
    """Keys are managed by their owner in person: a leaked key cannot mint itself successors."""

    message = "API keys are managed after logging in (session or access token), not with an API key."

    def has_permission(self, request, view):
        return api_key_of(request) is None
