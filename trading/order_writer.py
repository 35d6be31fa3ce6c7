"""The one writer of order placement: what protects money, with the account row locked, in one round trip.

`trading.services.order_place` runs the stateless and quote-based checks first (`risk.pre_trade_check`, shared
with Review), builds the order, its first event and its audit event, and hands them here as a `Placement`. The
writer then, in the caller's transaction:

1. locks the account row (every service's first lock);
2. finds the order already placed with the same client_order_id → `existing` (the caller compares the terms);
3. refuses an account that may no longer trade (a restriction or closure committed meanwhile);
4. refuses a wash trade against the account's opposite open orders (`risk.would_cross`);
5. reserves the buy's cash (a cash account: balance − reserved ≥ amount; a margin account's cash may go
   negative, its buying power is valued by the caller under the lock) or the sell's shares, the conditional
   UPDATE being the check;
6. inserts the order, its first `OrderEvent` and its `AuditEvent` → `created`.

A refusal writes nothing and says what it saw locked (`Outcome`); `refusal_raise` turns it into the same
`DomainError` Review gives. On PostgreSQL the steps are one call of the PL/pgSQL function `trading_order_place`
(migration `trading/0007_order_place_function`), prepared on each connection unless a transaction pooler sits
in front (`DB_TRANSACTION_POOLER`); on SQLite (the embedded default) the same steps run through the ORM
(`write_with_orm`), which `trading/tests/test_order_writer.py` proves equal to the function on PostgreSQL.

The order is the whole of a simple order and of a replacement (`replaces` on its row, audited as
`trading.order_replaced`). A bracket/OTO/OCO order's parent goes through here too; its legs are inserted by
`services.contingent.legs_create` afterwards in the same transaction: they reserve nothing when placed, so the
function does not grow for them.

`order_write` is the synchronous entry (Django's connection); `order_write_async` runs the same statement, with
the same parameters and result parsing, on a psycopg `AsyncConnection` for a lean async request path.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

import orjson
from django.db import connection
from django.db.models import Model

from accounts.models import AuditEvent
from portfolios import services as portfolio_services
from portfolios.models import Account, LedgerAccount
from portfolios.services.common import require_positive_cents, require_positive_qty
from speedtrade.db import prepared_cursor, statements_prepared
from speedtrade.errors import DomainError
from trading import risk
from trading.models import Order, OrderEvent
from trading.selectors import WASH_TRADE_STATUSES, opposite_open_orders

if TYPE_CHECKING:  # the async entry's caller brings the connection; SQLite-only installs have no psycopg
    import psycopg

CREATED = "created"
EXISTING = "existing"
ACCOUNT_NOT_TRADABLE = "account_not_tradable"
WASH_TRADE = "potential_wash_trade"
INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"
INSUFFICIENT_POSITION = "insufficient_position"

CALL = (
    "SELECT result, order_id, audit_event_id, resting_side, available"
    " FROM trading_order_place(%s::jsonb, %s::jsonb, %s::jsonb, %s::text[])"
)


@dataclass(frozen=True)
class Placement:
    """What the writer inserts, built (unsaved) by the caller: the order with every column set (its id, and the
    cash or shares it holds in `reserved_cash` / `reserved_qty`), its first event and its audit event
    (`accounts.audit.audit_event_build`)."""

    order: Order
    first_event: OrderEvent
    audit_event: AuditEvent
    check_wash_trades: bool = True


@dataclass(frozen=True)
class Outcome:
    result: str  # CREATED, EXISTING or a refusal's code
    order_id: UUID | None = None  # the new or existing order; a wash trade's resting order
    audit_event_id: int | None = None
    resting_side: str | None = None
    available: Decimal | None = None  # cash or shares available, seen locked, for a refusal's message

    @property
    def refused(self) -> bool:
        return self.result not in (CREATED, EXISTING)


# --- PostgreSQL: one call of trading_order_place ----------------------------------------------------


def placement_params(placement: Placement) -> tuple[str, str, str, list[str] | None]:
    """The function's arguments: the rows as JSON objects keyed by column, and the wash-trade statuses."""
    order = placement.order
    if order.side == Order.Side.BUY:
        require_positive_cents(order.reserved_cash)
    else:
        require_positive_qty(order.reserved_qty)
    return (
        _row_json(order),
        _row_json(placement.first_event),
        _row_json(placement.audit_event),
        WASH_TRADE_STATUSES if placement.check_wash_trades else None,
    )


def outcome_from_row(row: tuple | None) -> Outcome:
    if row is None:
        raise RuntimeError("trading_order_place returned no row")  # it returns one on every path
    result, order_id, audit_event_id, resting_side, available = row
    return Outcome(result, order_id, audit_event_id, resting_side, available)


def _row_json(instance: Model) -> str:
    """Every column of an unsaved row; numbers as decimal strings (exact), times with their microseconds."""
    row = {field.column: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
    return orjson.dumps(row, default=_as_text).decode()


def _as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):  # a subclass orjson leaves alone (freezegun's, in tests)
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value the order writer sends")


def write_with_function(placement: Placement) -> Outcome:
    """The PostgreSQL writer: one call of `trading_order_place` on Django's connection."""
    with prepared_cursor() as cursor:
        cursor.execute(CALL, placement_params(placement))
        outcome = outcome_from_row(cursor.fetchone())
    _mark_saved(placement, outcome)
    return outcome


async def order_write_async(conn: "psycopg.AsyncConnection", placement: Placement) -> Outcome:
    """`order_write` on a psycopg AsyncConnection, inside the caller's transaction. Marks the placement's rows
    saved when created. The caller then does what `order_place` does: an `existing` order is compared with the
    request (`_require_same_order`), a refusal raised (`refusal_raise`, through `sync_to_async`: an account
    blocked meanwhile reads its reason), and after its commit the audit event is announced, the `new` trade
    update sent and the submission queued."""
    async with conn.cursor() as cursor:
        await cursor.execute(CALL, placement_params(placement), prepare=statements_prepared())
        outcome = outcome_from_row(await cursor.fetchone())
    _mark_saved(placement, outcome)
    return outcome


# --- SQLite (the embedded default): the same steps through the ORM ----------------------------------


def write_with_orm(placement: Placement) -> Outcome:
    """The embedded default's writer (SQLite has no PL/pgSQL): the function's steps, in its order."""
    order = placement.order
    account = (
        Account.objects.select_for_update()
        .only("status", "trading_blocked", "account_blocked")
        .get(pk=order.account_id)
    )
    existing = (
        Order.objects.filter(account_id=order.account_id, client_order_id=order.client_order_id)
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        return Outcome(EXISTING, order_id=existing)
    if not account.can_trade:
        return Outcome(ACCOUNT_NOT_TRADABLE)
    if placement.check_wash_trades:
        for resting in opposite_open_orders(account_id=order.account_id, asset_id=order.asset_id, side=order.side):
            if risk.would_cross(order, resting):
                return Outcome(WASH_TRADE, order_id=resting.id, resting_side=resting.side)
    refusal = _reserve(account, order)
    if refusal is not None:
        return refusal
    order.save(force_insert=True)
    placement.first_event.save(force_insert=True)
    placement.audit_event.save(force_insert=True)
    return Outcome(CREATED, order_id=order.id, audit_event_id=placement.audit_event.pk)


def _reserve(account: Account, order: Order) -> Outcome | None:
    """The reservation's conditional UPDATE (portfolios' services); a refusal with what is available."""
    try:
        if order.side == Order.Side.BUY:
            portfolio_services.cash_reserve(account=account, amount=order.reserved_cash, order_ref=str(order.id))
        else:
            portfolio_services.position_reserve(
                account=account, asset=order.asset, qty=order.reserved_qty, order_ref=str(order.id)
            )
    except DomainError:
        if order.side == Order.Side.BUY:
            cash = LedgerAccount.objects.filter(account=account, kind=LedgerAccount.Kind.CASH).first()
            available = Decimal(0) if cash is None else max(cash.balance - cash.reserved, Decimal(0))
            return Outcome(INSUFFICIENT_BUYING_POWER, available=available)
        return Outcome(INSUFFICIENT_POSITION, available=risk.sellable_qty(account, order.asset))
    return None


# --- Entry, and what the caller does with the outcome ------------------------------------------------


def order_write(placement: Placement) -> Outcome:
    """Write the placement in the caller's transaction (on Django's connection)."""
    if connection.vendor == "postgresql":
        return write_with_function(placement)
    return write_with_orm(placement)


def _mark_saved(placement: Placement, outcome: Outcome) -> None:
    """The function inserted the rows: the instances are saved ones now (the first event's id is not returned)."""
    if outcome.result != CREATED:
        return
    placement.audit_event.pk = outcome.audit_event_id
    for instance in (placement.order, placement.audit_event):
        instance._state.adding = False
        instance._state.db = "default"


def refusal_raise(outcome: Outcome, placement: Placement) -> NoReturn:
    """The refusal as the `DomainError` Review gives for it, with the amounts the writer saw locked."""
    order = placement.order
    if outcome.result == WASH_TRADE:
        risk.refuse_wash_trade(resting_side=outcome.resting_side or "", resting_id=outcome.order_id)
    if outcome.result == INSUFFICIENT_BUYING_POWER:
        risk.require_buying_power(order.reserved_cash, outcome.available or Decimal(0))
    elif outcome.result == INSUFFICIENT_POSITION:
        risk.require_sellable(order.asset, order.reserved_qty, outcome.available or Decimal(0))
    elif outcome.result == ACCOUNT_NOT_TRADABLE:
        risk.check_account(Account.objects.get(pk=order.account_id))  # the reason, as committed meanwhile
    raise risk.OrderRejected(f"The order was refused ({outcome.result}).", code=outcome.result)


def placed_order(*, account_id, client_order_id: str) -> Order | None:
    """The order already placed with this client_order_id, the account locked first (so a placement of it that
    is still running has committed): for a retry that the checks before the writer refused."""
    if not client_order_id:
        return None
    Account.objects.select_for_update().only("pk").get(pk=account_id)
    return Order.objects.filter(account_id=account_id, client_order_id=client_order_id).first()
