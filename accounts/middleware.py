from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from accounts.selectors import user_has_mfa


def session_passed_mfa(request) -> bool:
    """Whether this session's login included a second factor (allauth records each step)."""
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


class StaffAdminMFAMiddleware:
    """The admin is reachable only by active staff whose session passed TOTP.

    - not logged in → the allauth login (which asks for the TOTP code), never the admin's
      password-only login form;
    - logged in but not staff → 403;
    - staff without a TOTP authenticator (superusers included) → TOTP setup;
    - staff whose session did not pass MFA (logged in before enabling it) → logged out
      and sent to log in again.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        admin_prefix = reverse("admin:index")
        if request.path.startswith(admin_prefix):
            refusal = self._refusal(request, admin_prefix)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request, admin_prefix):
        user = request.user
        next_path = admin_prefix if request.path.startswith(f"{admin_prefix}login") else request.get_full_path()
        login_url = f"{reverse('account_login')}?{urlencode({'next': next_path})}"
        if not user.is_authenticated:
            return redirect(login_url)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The admin is for SpeedTrade staff.")
        if not user_has_mfa(user=user):
            return redirect(f"{reverse('mfa_activate_totp')}?{urlencode({'next': next_path})}")
        if not session_passed_mfa(request):
            logout(request)
            return redirect(login_url)
        return None
