"""Reads of orders, always starting from the account so another user's order is simply not found."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, cast
from uuid import UUID

from django.db.models import FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from marketdata.models import Asset
from marketdata.selectors import asset_by_symbol_cached
from portfolios.models import Account, LedgerAccount, Position
from portfolios.selectors import LotValuation, lot_valuations, today_et
from speedtrade.money import to_cents
from trading import risk
from trading.models import OPEN_STATUSES, Execution, Order, OrderEvent
from trading.models import OrderStatus as S
from trading.risk import OrderRequest


class OrderRow(NamedTuple):
    """An order as `GET /orders` lists it: the columns `trading.serialization.order_as_alpaca` reads, as a tuple.

    Up to 500 orders a request: building model instances took more time than the query, a tuple per row
    takes almost none. The derived fields are Order's own properties, so they cannot drift apart."""

    id: UUID
    client_order_id: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    filled_at: datetime | None
    expired_at: datetime | None
    expires_at: datetime | None
    canceled_at: datetime | None
    failed_at: datetime | None
    replaced_at: datetime | None
    replaced_by_id: UUID | None
    replaces_id: UUID | None
    parent_id: UUID | None
    asset_id: UUID
    symbol: str
    asset_class: str
    notional: Decimal | None
    qty: Decimal | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    order_class: str
    type: str
    side: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    status: str
    extended_hours: bool
    trail_percent: Decimal | None
    trail_price: Decimal | None
    hwm: Decimal | None
    reject_reason: str

    OrderClass = Order.OrderClass  # type: ignore[misc]  # Order's own names, so a row serializes as an Order
    Type = Order.Type  # type: ignore[misc]  # Order's own names, so a row serializes as an Order
    has_legs = Order.has_legs  # type: ignore[misc]  # Order's own names, so a row serializes as an Order
    current_stop_price = Order.current_stop_price  # type: ignore[misc]  # Order's own names, so a row serializes as an Order


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
) -> list[OrderRow]:
    """Alpaca's `GET /orders`: open|closed|all, newest first by default; one query."""
    orders = orders_by_status(account=account, status=status)
    if symbols:
        orders = orders.filter(symbol__in=symbols)
    if side:
        orders = orders.filter(side=side)
    if after:
        orders = orders.filter(created_at__gt=after)
    if until:
        orders = orders.filter(created_at__lt=until)
    ordering = "created_at" if direction == "asc" else "-created_at"
    return [OrderRow._make(row) for row in orders.order_by(ordering).values_list(*OrderRow._fields)[:limit]]


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


# Open orders that can trade against a new order of the same account (wash trades): held legs are at no
# venue yet, so they cannot. The order writer passes this list to its PostgreSQL function too.
WASH_TRADE_STATUSES = sorted(str(status) for status in OPEN_STATUSES - {S.HELD})


def opposite_open_orders(*, account_id, asset_id, side: str) -> list[Order]:
    """The account's open orders on the other side of the asset, newest first (wash trades)."""
    opposite = Order.Side.SELL if side == Order.Side.BUY else Order.Side.BUY
    return list(
        Order.objects.filter(
            account_id=account_id, asset_id=asset_id, side=opposite, status__in=WASH_TRADE_STATUSES
        ).order_by("-created_at", "-id")
    )


def order_legs(orders: list[Order] | list[OrderRow]) -> dict:
    """Each contingent parent's legs (one query), for Alpaca's `legs`: parents map to a list, others to None."""
    parents = [order.id for order in orders if order.has_legs]
    legs: dict = {order_id: [] for order_id in parents}
    for leg in Order.objects.filter(parent_id__in=parents).order_by("created_at", "-leg_role") if parents else []:
        legs[leg.parent_id].append(leg)
    return {order.id: legs.get(order.id) for order in orders}


def _as_stored(value: Decimal, stored: float) -> Decimal | float:
    """The counter as the database holds it. Read as a Decimal it is rounded to the column's places,
    which hides a counter that drifted off whole cents (SQLite computes in binary floating point):
    then the stored float is shown, and differs from what the orders hold."""
    return value if float(value) == stored else stored


def reservation_discrepancies() -> list[str]:
    """Where an account's reservation counters differ from what its open orders hold, as sentences.

    Portfolios keeps one counter per account (cash, `LedgerAccount.reserved`) and per position
    (shares, `Position.reserved_qty`) so that order entry is one UPDATE; the per-order amounts
    are on the order rows. The two must always agree, exactly; `manage.py verify_ledger` reports
    both ways.
    """
    open_orders = Order.objects.filter(status__in=OPEN_STATUSES)
    held_cash = dict(
        open_orders.filter(reserved_cash__gt=0)
        .values("account_id")
        .annotate(total=Sum("reserved_cash"))
        .values_list("account_id", "total")
    )
    counted_cash = {
        account_id: _as_stored(reserved, stored)
        for account_id, reserved, stored in LedgerAccount.objects.filter(
            kind=LedgerAccount.Kind.CASH, account__isnull=False
        )
        .filter(Q(reserved__gt=0) | Q(account_id__in=list(held_cash)))
        .values_list("account_id", "reserved", Cast("reserved", FloatField()))
    }
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
        (account_id, asset_id): _as_stored(reserved, stored)
        for account_id, asset_id, reserved, stored in Position.objects.filter(reserved_qty__gt=0).values_list(
            "account_id", "asset_id", "reserved_qty", Cast("reserved_qty", FloatField())
        )
    }
    problems += [
        f"account {key[0]}: reserved qty of asset {key[1]} {counted_qty.get(key, 0)} ≠ open orders hold "
        f"{held_qty.get(key, 0)}"
        for key in sorted(set(held_qty) | set(counted_qty), key=str)
        if counted_qty.get(key, 0) != held_qty.get(key, 0)
    ]
    return problems


def fill_progress(execution_ids) -> dict[str, dict]:
    """Where each execution left its order: Alpaca's `cum_qty`, `leaves_qty` and `order_status`
    on a fill activity (two queries, however many fills)."""
    order_ids = Execution.objects.filter(pk__in=list(execution_ids)).values("order_id")
    executions = Execution.objects.filter(order_id__in=order_ids).select_related("order")
    progress: dict[str, dict] = {}
    filled: dict[UUID, Decimal] = {}
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
    # A sell of shares: the open tax lots the customer may choose from, valued at `reference_price`.
    lots: list[LotValuation] = field(default_factory=list)

    @property
    def type_label(self) -> str:
        return Order.Type(self.request.type).label


def order_preview(*, account: Account, request: OrderRequest, now: datetime | None = None) -> OrderPreview:
    """Run order entry's checks without writing anything: the same refusal an order would get, before sending it.

    Raises `OrderRejected` (code, message, field) exactly like `trading.services.order_place`: both run
    `risk.pre_trade_check`. The account is not locked, so a racing order can still change buying power
    before placement.
    """
    now = now or timezone.now()
    asset = asset_by_symbol_cached(request.symbol)
    opposite_open = (
        [] if asset is None else opposite_open_orders(account_id=account.pk, asset_id=asset.pk, side=request.side)
    )
    checked = risk.pre_trade_check(account, request, asset=asset, opposite_open=opposite_open, now=now)
    asset, quote = checked.asset, checked.quote
    price = risk.reference_price(checked.request, asset, quote)
    qty = cast(Decimal, request.qty)  # read only without a notional: then a qty (the serializer)
    value = request.notional if request.notional is not None else to_cents(qty * price)
    buying_power = risk.buying_power(account)
    reserved = checked.holding.cash
    choosing_lots = request.side == Order.Side.SELL and request.qty is not None
    return OrderPreview(
        asset=asset,
        request=request,
        reference_price=price,
        estimated_value=value,
        reserved=reserved,
        fee=risk.estimated_fee(request, asset),
        buying_power=buying_power,
        buying_power_after=buying_power - reserved,
        lots=lot_valuations(account=account, asset=asset, price=price, on=today_et(now)) if choosing_lots else [],
    )


def order_timeline(*, order: Order) -> list[dict]:
    """The order's events oldest first, each with the time since the previous one (how long each step took)."""
    timeline: list[dict] = []
    previous: OrderEvent | None = None
    for event in order.events.all():
        since = None if previous is None else event.created_at - previous.created_at
        timeline.append({"event": event, "since_previous": since})
        previous = event
    return timeline


def executions_between(
    *, since: datetime | None = None, until: datetime | None = None, order: Order | None = None
) -> QuerySet[Execution]:
    """Fills executed in [since, until) — of one order when given —, oldest first, with the order, its account,
    user and asset loaded: what trade confirmations are made of (`documents`)."""
    executions = Execution.objects.select_related("order__account__user", "order__asset")
    if since is not None:
        executions = executions.filter(executed_at__gte=since)
    if until is not None:
        executions = executions.filter(executed_at__lt=until)
    if order is not None:
        executions = executions.filter(order=order)
    return executions.order_by("executed_at", "created_at")
