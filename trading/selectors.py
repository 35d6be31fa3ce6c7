"""Reads of orders, always starting from the account so another user's order is simply not found."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum

from portfolios.models import Account, LedgerAccount, Position
from trading.models import OPEN_STATUSES, Execution, Order


def order_list(
    *,
    account: Account,
    status: str = "open",
    symbols: list[str] | None = None,
    side: str | None = None,
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
    if side:
        orders = orders.filter(side=side)
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


def reservation_discrepancies() -> list[str]:
    """Where an account's reservation counters differ from what its open orders hold, as sentences.

    Portfolios keeps one counter per account (cash, `LedgerAccount.reserved`) and per position
    (shares, `Position.reserved_qty`) so that order entry is one UPDATE; the per-order amounts
    are on the order rows. The two must always agree; `manage.py verify_ledger` reports both ways.
    """
    open_orders = Order.objects.filter(status__in=OPEN_STATUSES)
    held_cash = dict(
        open_orders.filter(reserved_cash__gt=0)
        .values("account_id")
        .annotate(total=Sum("reserved_cash"))
        .values_list("account_id", "total")
    )
    counted_cash = dict(
        LedgerAccount.objects.filter(kind=LedgerAccount.Kind.CASH, account__isnull=False)
        .filter(Q(reserved__gt=0) | Q(account_id__in=list(held_cash)))
        .values_list("account_id", "reserved")
    )
    problems = [
        f"account {account_id}: reserved cash {counted_cash.get(account_id, 0)} ≠ open orders hold "
        f"{held_cash.get(account_id, 0)}"
        for account_id in sorted(set(held_cash) | set(counted_cash), key=str)
        if counted_cash.get(account_id, 0) != held_cash.get(account_id, 0)
    ]
    held_qty = {
        (row["account_id"], row["asset_id"]): row["total"]
        for row in open_orders.filter(reserved_qty__gt=0)
        .values("account_id", "asset_id")
        .annotate(total=Sum("reserved_qty"))
    }
    counted_qty = {
        (row["account_id"], row["asset_id"]): row["reserved_qty"]
        for row in Position.objects.filter(reserved_qty__gt=0).values("account_id", "asset_id", "reserved_qty")
    }
    problems += [
        f"account {key[0]}: reserved qty of asset {key[1]} {counted_qty.get(key, 0)} ≠ open orders hold "
        f"{held_qty.get(key, 0)}"
        for key in sorted(set(held_qty) | set(counted_qty), key=str)
        if counted_qty.get(key, 0) != held_qty.get(key, 0)
    ]
    return problems


def order_legs(orders: list[Order]) -> dict:
    """Each contingent parent's legs (one query), for Alpaca's `legs`: parents map to a list, others to None."""
    parents = [order.id for order in orders if order.has_legs]
    legs: dict = {order_id: [] for order_id in parents}
    for leg in Order.objects.filter(parent_id__in=parents).order_by("created_at", "-leg_role") if parents else []:
        legs[leg.parent_id].append(leg)
    return {order.id: legs.get(order.id) for order in orders}


def fill_progress(execution_ids) -> dict[str, dict]:
    """Where each execution left its order: Alpaca's `cum_qty`, `leaves_qty` and `order_status`
    on a fill activity (two queries, however many fills)."""
    order_ids = Execution.objects.filter(pk__in=list(execution_ids)).values("order_id")
    executions = Execution.objects.filter(order_id__in=order_ids).select_related("order")
    progress, filled = {}, {}
    for execution in executions.order_by("order_id", "executed_at", "created_at"):
        order = execution.order
        filled[order.pk] = done = filled.get(order.pk, Decimal(0)) + execution.qty
        # A notional order's quantity is known only as it fills: its total is what filled.
        leaves = max(Decimal(0), (order.qty if order.qty is not None else order.filled_qty) - done)
        progress[str(execution.pk)] = {
            "cum_qty": done,
            "leaves_qty": leaves,
            "order_status": "partially_filled" if leaves else "filled",
        }
    return progress
