"""Settings pages: profile, a security overview (allauth's password, MFA and session pages do
the work), and API keys. Writes go through accounts.services."""

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import forms, selectors, services
from accounts.models import ApiKey
from speedtrade.errors import DomainError
from speedtrade.forms import add_domain_error


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    form = forms.ProfileForm(
        request.POST if request.method == "POST" else None,
        initial={"first_name": user.first_name, "last_name": user.last_name, "time_zone": user.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(user=user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("settings:profile")
    status = 422 if form.is_bound else 200
    return render(request, "settings/profile.html", {"form": form}, status=status)


@login_required
def security(request):
    authenticators = selectors.user_authenticators(user=request.user)
    return render(
        request,
        "settings/security.html",
        {
            "totp": authenticators.get(Authenticator.Type.TOTP),
            "recovery_codes": authenticators.get(Authenticator.Type.RECOVERY_CODES),
            "session_count": len(UserSession.objects.purge_and_list(request.user)),
        },
    )


def _api_keys_page(request, *, form, created=None, secret=None, status=200):
    return render(
        request,
        "settings/api_keys.html",
        {"form": form, "keys": selectors.api_key_list(user=request.user), "created": created, "secret": secret},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    """List and create. A new key's secret is shown in this one response and never again."""
    if request.method == "GET":
        return _api_keys_page(request, form=forms.ApiKeyCreateForm())
    form = forms.ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            key, secret = services.api_key_create_confirmed(
                user=request.user,
                password_or_code=form.cleaned_data.pop("password"),
                request=request,
                **form.cleaned_data,
            )
        except DomainError as refusal:
            add_domain_error(form, refusal)
        else:
            response = _api_keys_page(request, form=forms.ApiKeyCreateForm(), created=key, secret=secret, status=201)
            response["Cache-Control"] = "no-store"  # the secret must not linger in a cache
            return response
    return _api_keys_page(request, form=form, status=422)


@login_required
@require_POST
def api_key_revoke(request, key_id: str):
    try:
        key = services.api_key_revoke(user=request.user, key_id=key_id, request=request)
    except ApiKey.DoesNotExist:
        raise Http404 from None  # another user's key looks like no key
    messages.success(request, f"Key {key.key_id} revoked: programs using it are refused from now on.")
    return redirect("settings:api_keys")
