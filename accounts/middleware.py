import time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from rest_framework.views import APIView

from accounts.audit import audit_event_record
from accounts.models import User
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


class StaffIdleTimeoutMiddleware:
    """A staff session ends after `STAFF_IDLE_TIMEOUT_SECONDS` without a request.

    The time of the staff member's latest request is kept in the session (written at most
    once a minute, so the idle time is measured to the minute). The request that finds the
    session idle for longer logs it out (audited `auth.idle_logout`) and goes on as an
    anonymous one: the admin sends it to log in again (with TOTP), other pages as usual.
    Customers' sessions are not affected.
    """

    SESSION_KEY = "staff_last_request_at"
    WRITE_RESOLUTION_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff:
            now = int(time.time())
            last = request.session.get(self.SESSION_KEY)
            timeout = settings.STAFF_IDLE_TIMEOUT_SECONDS
            if last is not None and now - last > timeout:
                idle = {"idle_seconds": now - last}
                audit_event_record(action="auth.idle_logout", actor=user, target=user, after=idle, request=request)
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {timeout // 60} minutes without activity. Sign in again to continue.",
                )
            elif last is None or now - last >= self.WRITE_RESOLUTION_SECONDS:
                request.session[self.SESSION_KEY] = now
        return self.get_response(request)


class UserTimeZoneMiddleware:
    """Pages show times in the customer's zone (their profile setting; New York time before they sign in).

    Django's `date` filter and `times.when` convert aware datetimes to the zone activated here. API views
    (Django REST framework) are left in UTC: their timestamps are a contract, not a display.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        user = getattr(request, "user", None)
        zone = user.time_zone if user is not None and user.is_authenticated else User.DEFAULT_TIME_ZONE
        timezone.activate(ZoneInfo(zone))
        return None
