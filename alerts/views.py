"""The alerts page: list, create, cancel. Writes go through alerts.services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts import selectors, services
from alerts.forms import AlertForm
from speedtrade.errors import DomainError, NotFound
from speedtrade.forms import add_domain_error


@login_required
@require_http_methods(["GET", "POST"])
def alerts_page(request):
    form = AlertForm(request.POST or None, initial={"symbol": request.GET.get("symbol", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.alert_create(
                user=request.user,
                symbol=data["symbol"],
                condition=data["condition"],
                value=data["value"],
                repeat=data["repeat"],
                cooldown_seconds=data["cooldown_minutes"] * 60,
            )
        except DomainError as refused:
            add_domain_error(form, refused)
        else:
            messages.success(request, "Alert created.")
            return redirect("alerts")
    alerts = selectors.alert_list(user=request.user).exclude(status="canceled")
    status = 422 if form.is_bound else 200
    return render(request, "alerts/alerts.html", {"form": form, "alerts": alerts}, status=status)


@login_required
@require_POST
def alert_cancel(request, alert_id):
    try:
        services.alert_cancel(user=request.user, alert_id=alert_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, "Alert canceled.")
    return redirect("alerts")
