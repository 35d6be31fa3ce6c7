"""The trade page (chart, quote panel, ticket) and order pages: the ticket's review/place steps, order history,
detail with timeline, cancel and replace.

Thin: parsing is the API's serializers (through trading.forms), rules and writes are trading.services.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.selectors import kyc_status
from accounts.services import user_chart_indicators_set
from marketdata.indicators import INDICATOR_NAMES, INDICATORS, indicators_compute
from marketdata.models import Asset, AssetIcon, Timeframe
from marketdata.selectors import asset_get, bars_list
from portfolios.selectors import position_get, primary_account
from speedtrade.errors import DomainError
from speedtrade.forms import add_domain_error
from trading import selectors, services
from trading.forms import OrderReplaceForm, OrderTicketForm
from trading.models import Order

CHART_BARS = 500
OHLC = ("open", "high", "low", "close")


def trade_context(request, asset: Asset) -> dict:
    """Everything the trade page shows besides the ticket's own state (the ticket view reuses it)."""
    timeframe = request.GET.get("timeframe", Timeframe.MINUTE)
    if timeframe not in Timeframe.values:
        timeframe = Timeframe.MINUTE
    bars = bars_list(asset=asset, timeframe=timeframe, start=None, end=timezone.now(), limit=CHART_BARS)
    account = primary_account(user=request.user)
    return {
        "asset": asset,
        "asset_icon_url": reverse("asset_icon", args=[asset.symbol])
        if AssetIcon.objects.filter(asset=asset).exists()
        else "",
        "timeframe": timeframe,
        "timeframes": Timeframe.values,
        "bars": [{"time": int(bar.timestamp.timestamp()), **{f: str(getattr(bar, f)) for f in OHLC}} for bar in bars],
        # Every indicator comes with the page, so a toggle shows or hides one at once; the user's choice is kept.
        "indicators": indicators_compute(bars, INDICATOR_NAMES),
        "indicator_choices": [(name, INDICATORS[name][0]) for name in INDICATOR_NAMES],
        "chart_indicators": request.user.chart_indicators,
        "position": account and position_get(account=account, symbol_or_asset_id=str(asset.id)),
        "form": OrderTicketForm(asset=asset),
        "kyc_approved": kyc_status(user=request.user).approved,
    }


@login_required
def trade_default(request):
    """The Trade link and the symbol search box (`?symbol=`)."""
    symbol = request.GET.get("symbol", "").strip() or _last_symbol(request) or settings.DASHBOARD_DEFAULT_SYMBOL
    return redirect("trade", symbol=symbol)


LAST_SYMBOL_SESSION_KEY = "trade_last_symbol"


def _last_symbol(request) -> str | None:
    """The symbol this user was last looking at (this session), else the one they last ordered."""
    if symbol := request.session.get(LAST_SYMBOL_SESSION_KEY):
        return symbol
    return (
        Order.objects.filter(account__user=request.user)
        .order_by("-created_at")
        .values_list("symbol", flat=True)
        .first()
    )


@login_required
def trade(request, symbol: str):
    try:
        asset = asset_get(symbol_or_id=symbol)
    except Asset.DoesNotExist:
        raise Http404(f"No symbol {symbol}.") from None
    if request.session.get(LAST_SYMBOL_SESSION_KEY) != asset.symbol:  # a session write only when it changes
        request.session[LAST_SYMBOL_SESSION_KEY] = asset.symbol
    return render(request, "trading/trade.html", trade_context(request, asset))


ORDER_FILTERS = ("open", "closed", "all")
ORDERS_PER_PAGE = 25


def own_account(request):
    account = primary_account(user=request.user)
    if account is None:
        raise Http404("No brokerage account yet.")
    return account


def _own_order(request, order_id) -> Order:
    order = selectors.order_get(account=own_account(request), order_id=order_id)
    if order is None:
        raise Http404
    return order


@login_required
@require_POST
def order_ticket(request):
    """Step 1 "Review order" checks the order and shows its estimate; step 2 "Place order" places it."""
    account = own_account(request)
    try:
        asset = asset_get(symbol_or_id=request.POST.get("symbol", ""))
    except Asset.DoesNotExist:
        raise Http404 from None
    form = OrderTicketForm(request.POST, asset=asset)
    context = {"form": form, "asset": asset, "kyc_approved": kyc_status(user=request.user).approved}
    order_request = form.order_request()
    if order_request is not None:
        try:
            step = request.POST.get("step")
            if step == "place":
                placed, created = services.order_place(account=account, request=order_request)
                # Re-read: in the embedded default the order may already have filled after commit.
                order = selectors.order_get(account=account, order_id=placed.pk)
                context.update(order=order, created=created, form=OrderTicketForm(asset=asset))
            elif step == "review":
                context["preview"] = selectors.order_preview(account=account, request=order_request)
            # "edit" goes back to the filled-in form.
        except DomainError as exc:
            form.add_rule_violation(exc)
    status = 200 if form.is_valid() else 422
    if request.htmx:
        context["position"] = position_get(account=account, symbol_or_asset_id=str(asset.id))
        return render(request, "trading/_order_ticket.html", context, status=status)
    # Without JavaScript the whole trade page comes back with the ticket in its new state.
    return render(request, "trading/trade.html", {**trade_context(request, asset), **context}, status=status)


@login_required
def order_list(request):
    account = own_account(request)
    status = request.GET.get("status", "all")
    if status not in ORDER_FILTERS:
        status = "all"
    orders = selectors.orders_by_status(account=account, status=status).order_by("-created_at")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    # A contingent order's legs are listed under it (one query for the page), not as orders of their own.
    page.object_list = list(page.object_list)
    legs = selectors.order_legs(page.object_list)
    for order in page.object_list:
        order.leg_list = legs[order.id] or []  # type: ignore[attr-defined]  # for the template only, not a model field
    return render(request, "trading/orders.html", {"page": page, "status": status, "filters": ORDER_FILTERS})


def _render_detail(request, order: Order, replace_form: OrderReplaceForm | None, status: int = 200):
    context = {
        "order": order,
        "timeline": selectors.order_timeline(order=order),
        "executions": list(order.executions.order_by("executed_at")),
        "replace_form": replace_form,
    }
    return render(request, "trading/order_detail.html", context, status=status)


@login_required
def order_detail(request, order_id):
    order = _own_order(request, order_id)
    return _render_detail(request, order, OrderReplaceForm(order=order) if order.is_open else None)


@login_required
@require_POST
def order_cancel(request, order_id):
    order = _own_order(request, order_id)
    try:
        order = services.order_cancel(account=order.account, order_id=order.pk)
        message, level = f"Cancel requested for your {order.side} {order.symbol} order.", messages.SUCCESS
    except DomainError as exc:
        message, level = exc.message, messages.ERROR
    if request.htmx:
        # The row re-renders in place with the new status and the message read out.
        return render(
            request,
            "trading/_order_row.html",
            {"order": order, "row_message": message, "compact": bool(request.POST.get("compact"))},
        )
    messages.add_message(request, level, message)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("order_detail", args=[order.pk])
    return redirect(next_url)


@login_required
@require_POST
def order_replace(request, order_id):
    order = _own_order(request, order_id)
    form = OrderReplaceForm(request.POST, order=order)
    changes = form.changes()
    if changes is not None:
        try:
            new = services.order_replace(account=order.account, order_id=order.pk, changes=changes)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Order replaced.")
            return redirect("order_detail", order_id=new.pk)
    return _render_detail(request, order, form, status=422)


@login_required
@require_POST
def chart_indicators(request):
    """The trade chart's indicator toggles, remembered for this user (sent by the toggles on each change)."""
    try:
        user_chart_indicators_set(user=request.user, names=request.POST.getlist("indicator"))
    except DomainError as exc:
        return HttpResponse(exc.message, status=422)
    return HttpResponse(status=204)
