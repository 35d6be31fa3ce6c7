"""Reads of orders, always starting from the account so another user's order is simply not found."""

from datetime import datetime

from portfolios.models import Account
from trading.models import OPEN_STATUSES, Order


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
    orders = Order.objects.filter(account=account, parent__isnull=True)
    if status == "open":
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif status == "closed":
        orders = orders.exclude(status__in=OPEN_STATUSES)
    if symbols:
        orders = orders.filter(symbol__in=symbols)
    if after:
        orders = orders.filter(created_at__gt=after)
    if until:
        orders = orders.filter(created_at__lt=until)
    ordering = "created_at" if direction == "asc" else "-created_at"
    return list(orders.order_by(ordering)[:limit])


def order_get(*, account: Account, order_id) -> Order | None:
    return Order.objects.filter(account=account, pk=order_id).first()


def order_by_client_order_id(*, account: Account, client_order_id: str) -> Order | None:
    return Order.objects.filter(account=account, client_order_id=client_order_id).first()


def order_legs(orders: list[Order]) -> dict:
    """Each contingent parent's legs (one query), for Alpaca's `legs`: parents map to a list, others to None."""
    parents = [order.id for order in orders if order.has_legs]
    legs: dict = {order_id: [] for order_id in parents}
    for leg in Order.objects.filter(parent_id__in=parents).order_by("created_at", "-leg_role") if parents else []:
        legs[leg.parent_id].append(leg)
    return {order.id: legs.get(order.id) for order in orders}
