"""Order pages: the ticket's review/place steps, order history, detail with timeline, cancel and replace.

Thin: parsing is the API's serializers (through trading.forms), rules and writes are trading.services.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from marketdata.models import Asset
from marketdata.selectors import asset_get
from marketdata.views import trade_context
from portfolios.selectors import position_get, primary_account
from speedtrade.errors import DomainError
from speedtrade.forms import add_domain_error
from trading import selectors, services
from trading.forms import OrderReplaceForm, OrderTicketForm
from trading.models import Order

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
    context = {"form": form, "asset": asset}
    order_request = form.order_request()
    if order_request is not None:
        try:
            step = request.POST.get("step")
            if step == "place":
                order, created = services.order_place(account=account, request=order_request)
                # Re-read: in the embedded default the order may already have filled after commit.
                order = selectors.order_get(account=account, order_id=order.pk)
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
    return render(request, "marketdata/trade.html", {**trade_context(request, asset), **context}, status=status)


@login_required
def order_list(request):
    account = own_account(request)
    status = request.GET.get("status", "all")
    if status not in ORDER_FILTERS:
        status = "all"
    orders = selectors.orders_by_status(account=account, status=status).order_by("-created_at")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
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
