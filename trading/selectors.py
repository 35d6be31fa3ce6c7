"""Reads of orders, always starting from the account so another user's order is simply not found."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from marketdata.models import Asset
from portfolios.models import Account
from portfolios.money import to_cents
from trading import ports, risk
from trading.models import OPEN_STATUSES, Order
from trading.risk import OrderRequest


def order_list(
    *,
    account: Account,
    status: str = "open",
    symbols: list[str] | None = None,
    after: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    direction: str = "desc",
) -> list[Order]:
    """Alpaca's `GET /orders`: open|closed|all, newest first by default; one query."""
    orders = orders_by_status(account=account, status=status)
    if symbols:
        orders = orders.filter(symbol__in=symbols)
    if after:
        orders = orders.filter(created_at__gt=after)
    if until:
        orders = orders.filter(created_at__lt=until)
    ordering = "created_at" if direction == "asc" else "-created_at"
    return list(orders.order_by(ordering)[:limit])


def orders_by_status(*, account: Account, status: str = "all") -> QuerySet[Order]:
    """The account's top-level orders that are open, closed (ended) or all, unordered and unevaluated."""
    orders = Order.objects.filter(account=account, parent__isnull=True)
    if status == "open":
        return orders.filter(status__in=OPEN_STATUSES)
    if status == "closed":
        return orders.exclude(status__in=OPEN_STATUSES)
    return orders


def order_get(*, account: Account, order_id) -> Order | None:
    return Order.objects.filter(account=account, pk=order_id).first()


def order_by_client_order_id(*, account: Account, client_order_id: str) -> Order | None:
    return Order.objects.filter(account=account, client_order_id=client_order_id).first()


@dataclass(frozen=True)
class OrderPreview:
    """What the ticket's confirmation step shows. Figures come from the same functions order entry uses."""

    asset: Asset
    request: OrderRequest
    reference_price: Decimal  # the price the order is expected to trade at
    estimated_value: Decimal  # cost of a buy / proceeds of a sell at that price
    reserved: Decimal  # buys: cash held until the order ends (market buys carry the collar)
    fee: Decimal
    buying_power: Decimal
    buying_power_after: Decimal

    @property
    def type_label(self) -> str:
        return Order.Type(self.request.type).label


def order_preview(*, account: Account, request: OrderRequest) -> OrderPreview:
    """Run order entry's checks without writing anything: the same refusal an order would get, before sending it.

    Raises `OrderRejected` (code, message, field) exactly like `trading.services.order_place`.
    The account is not locked, so a racing order can still change buying power before placement.
    """
    risk.check_account(account)
    asset = Asset.objects.filter(symbol__iexact=request.symbol).first()
    if asset is None:
        raise risk.OrderRejected(f"Unknown symbol {request.symbol!r}.", code="asset_not_found", field="symbol")
    risk.check_asset(asset)
    risk.check_shape(request, asset)
    risk.check_quantity(request, asset)
    risk.check_prices(request, asset)
    quote = ports.latest_quote(symbol=asset.symbol)
    risk.check_limit_band(request, quote)
    risk.check_max_notional(request, asset, quote)
    price = risk.reference_price(request, asset, quote)
    value = request.notional if request.notional is not None else to_cents(request.qty * price)
    buying_power = ports.buying_power(account=account)
    if request.side == Order.Side.BUY:
        reserved = risk.estimated_cost(request, asset, quote)
        risk.check_buying_power(account, reserved)
    else:
        reserved = Decimal(0)
        risk.check_sellable(account, asset, risk.sell_qty_needed(request, asset, quote))
    return OrderPreview(
        asset=asset,
        request=request,
        reference_price=price,
        estimated_value=value,
        reserved=reserved,
        fee=risk.estimated_fee(request, asset),
        buying_power=buying_power,
        buying_power_after=buying_power - reserved,
    )


def order_timeline(*, order: Order) -> list[dict]:
    """The order's events oldest first, each with the time since the previous one (how long each step took)."""
    timeline, previous = [], None
    for event in order.events.all():
        since = None if previous is None else event.created_at - previous.created_at
        timeline.append({"event": event, "since_previous": since})
        previous = event
    return timeline
