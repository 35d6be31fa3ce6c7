"""Notification pages: the notification centre, the preferences page in Settings, one-click unsubscribe."""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from notifications import selectors, services
from notifications.catalogue import ALWAYS_EMAILED, Category
from notifications.email import unsubscribe_token_read


@login_required
def notification_centre(request):
    page = Paginator(selectors.notification_list(user=request.user), 25).get_page(request.GET.get("page"))
    template = "notifications/_list.html" if request.htmx else "notifications/centre.html"
    return render(request, template, {"page": page, "unread_count": selectors.unread_count(user_id=request.user.pk)})


@login_required
@require_POST
def notifications_mark_read(request):
    ids = request.POST.getlist("id") or None
    services.notification_mark_read(user=request.user, notification_ids=ids)
    return redirect("notification-centre")


@login_required
def unread_badge(request):
    """The nav's unread count (htmx partial, re-fetched when a notification arrives over /ws/trades)."""
    return render(
        request, "notifications/_unread_badge.html", {"unread_count": selectors.unread_count(user_id=request.user.pk)}
    )


def service_worker(request):
    """The service worker at the site's root, so its scope covers every page (a static URL's would not)."""
    from django.contrib.staticfiles import finders

    # The script ships with this app, so the finders always find it (None would be a broken install).
    with open(cast(str, finders.find("notifications/service-worker.js")), "rb") as script:
        response = HttpResponse(script.read(), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    if request.method == "POST":
        for category in Category.values:
            services.preference_update(
                user=request.user,
                category=category,
                in_app=f"{category}.in_app" in request.POST,
                email=category in ALWAYS_EMAILED or f"{category}.email" in request.POST,
                push=f"{category}.push" in request.POST,
            )
        messages.success(request, "Notification settings saved.")
        return redirect("notification-preferences-page")
    rows = [
        (p, Category(p.category).label, p.category in ALWAYS_EMAILED)
        for p in selectors.preference_list(user=request.user)
    ]
    return render(request, "notifications/preferences.html", {"rows": rows})


@csrf_exempt  # RFC 8058: mail providers POST without cookies or a CSRF token; the signed token is the credential
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST switches the email off."""
    found = unsubscribe_token_read(token)
    if found is None or found[1] in ALWAYS_EMAILED:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    user_id, category = found
    label = Category(category).label
    if request.method == "POST":
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return HttpResponse(status=404)
        services.preference_update(user=user, category=category, email=False)
        return render(request, "notifications/unsubscribe.html", {"done": True, "label": label})
    return render(request, "notifications/unsubscribe.html", {"label": label, "token": token})
