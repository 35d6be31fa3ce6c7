"""What every order service shares: the locks (in the one lock order), the audit record, trade updates,
holding and releasing what an order needs, and ending or canceling an order (with its held legs)."""

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Subquery

from accounts.audit import audit_event_build, audit_event_record
from accounts.models import AuditEvent
from portfolios import services as portfolio_services
from portfolios.models import Account
from speedtrade.errors import DomainError, NotFound
from speedtrade.realtime import publish_to_user
from trading import queueing, risk
from trading.models import Order
from trading.models import OrderStatus as S
from trading.risk import OrderRequest
from trading.serialization import decimal_string, order_as_alpaca
from trading.states import order_transition


class OrderNotFound(NotFound):
    pass


def lock_account(account_id) -> Account:
    # The user rides along in the same read (unlocked): order actions audit it as their actor.
    return Account.objects.select_for_update(of=("self",)).select_related("user").get(pk=account_id)


def lock_account_of_order(order_id) -> Account | None:
    """For a venue's report, which names only the order: its account locked first (the lock order of
    every service), found by a subquery in the same statement. None if there is no such order."""
    owner = Order.objects.filter(pk=order_id).values("account_id")
    return Account.objects.select_for_update(of=("self",)).select_related("user").filter(pk=Subquery(owner)).first()


def lock_order(*, account: Account, order_id) -> Order:
    try:
        # The order's row only: FOR UPDATE on the joined asset too held every order insert and bar of that
        # asset (their foreign-key checks take KEY SHARE on it) behind each fill and cancel, and deadlocked the
        # order engine with the feed's bar writer.
        order = Order.objects.select_for_update(of=("self",)).select_related("asset").get(pk=order_id, account=account)
    except (Order.DoesNotExist, ValueError):
        raise OrderNotFound("No such order.") from None
    order.account = account  # the row locked just before: saves a lazy read per trade update and release
    return order


def lock_orders(order_ids: Collection) -> dict:
    """Lock these orders with their accounts (for reports that name only orders: a batch of a venue's fills), in
    two statements: the accounts first, then the orders, each in key order — the lock order of every service, so
    two batches sharing accounts wait for each other rather than deadlock. By id; an unknown id is left out."""
    owners = Order.objects.filter(pk__in=list(order_ids)).values("account_id")
    accounts = {
        account.pk: account
        for account in Account.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk__in=Subquery(owners))
        .order_by("pk")
    }
    orders = Order.objects.select_for_update(of=("self",)).select_related("asset").filter(pk__in=list(order_ids))
    locked_orders = {}
    for order in orders.order_by("pk"):
        order.account = accounts[order.account_id]  # the row locked above, as `lock_order` does
        locked_orders[order.pk] = order
    return locked_orders


def locked(query) -> list[Order]:
    return list(query.select_for_update(of=("self",)).select_related("asset", "account").order_by("created_at"))


def order_audit_record(*, action: str, order: Order, account: Account, **extra) -> None:
    """The customer's order action in the audit trail. Services have no request, so no IP/user agent."""
    audit_event_record(action=action, actor=account.user, target=order, after=_order_summary(order, extra))


def order_audit_build(*, action: str, order: Order, account: Account, **extra) -> AuditEvent:
    """`order_audit_record`'s event, not saved: the order writer inserts it with the order."""
    return audit_event_build(action=action, actor=account.user, target=order, after=_order_summary(order, extra))


def _order_summary(order: Order, extra: dict) -> dict:
    return {
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "qty": decimal_string(order.qty),
        "notional": decimal_string(order.notional),
        "limit_price": decimal_string(order.limit_price),
        "stop_price": decimal_string(order.stop_price),
        "client_order_id": order.client_order_id,
        **extra,
    }


def trade_update_publish(
    *, order: Order, event: str, now: datetime, price=None, qty=None, position_qty=None, execution_id=None
) -> None:
    """Queue a `trade_updates` message (Alpaca's shape) for the order's owner, sent after commit."""
    publish_to_user(
        order.account.user_id,
        "trade_updates",
        trade_update_data(
            order=order,
            event=event,
            now=now,
            price=price,
            qty=qty,
            position_qty=position_qty,
            execution_id=execution_id,
        ),
    )


def trade_update_data(
    *, order: Order, event: str, now: datetime, price=None, qty=None, position_qty=None, execution_id=None
) -> dict:
    """A `trade_updates` message's data (also sent by the lean path's order past its commit)."""
    return {
        "event": event,
        "order": order_as_alpaca(order),
        "price": decimal_string(price),
        "qty": decimal_string(qty),
        "position_qty": decimal_string(position_qty),
        "execution_id": str(execution_id) if execution_id else None,
        "timestamp": now.isoformat(),
    }


REPLACEABLE_FIELDS = ("qty", "limit_price", "stop_price", "trail_price", "trail_percent", "time_in_force")


def remaining_request(order: Order, changes: dict) -> OrderRequest:
    """What is left of `order` as a request, with `changes` applied: a replacement, or the old order re-reserved."""
    values = {name: getattr(order, name) for name in REPLACEABLE_FIELDS}
    values["qty"] = order.remaining_qty
    values.update(changes)
    if "trail_percent" in changes:
        values["trail_price"] = None
    if "trail_price" in changes:
        values["trail_percent"] = None
    request = OrderRequest(
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        notional=order.remaining_notional if order.notional else None,
        extended_hours=order.extended_hours,
        **values,
    )
    return replace(request, qty=None) if request.notional is not None else request


def hold(*, order: Order, holding: risk.Holding) -> None:
    """Hold what the order needs (`risk.holding_check`): cash for a buy, shares for a sell. Caller saves the order."""
    order.reserved_cash, order.reserved_qty = holding.cash, holding.qty
    if order.side == Order.Side.BUY:
        cash_reserve_within_buying_power(account=order.account, amount=order.reserved_cash, order_ref=str(order.id))
    else:
        portfolio_services.position_reserve(
            account=order.account, asset=order.asset, qty=order.reserved_qty, order_ref=str(order.id)
        )


def cash_reserve_within_buying_power(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Hold cash for a buy, refusing it beyond buying power.

    Cash accounts: buying power is cash − reservations, exactly the condition of the
    reservation's own conditional UPDATE, so that UPDATE is the check (one round trip); only a
    refusal reads the numbers for its message. Margin accounts ask portfolios' valuation first.
    """
    if account.type == Account.Type.MARGIN:
        risk.check_buying_power(account, amount)
        portfolio_services.cash_reserve(account=account, amount=amount, order_ref=order_ref)
        return
    try:
        portfolio_services.cash_reserve(account=account, amount=amount, order_ref=order_ref)
    except DomainError:
        risk.check_buying_power(account, amount)  # raises insufficient_buying_power with the amounts
        raise


def release_reservation(order: Order, *, cash: Decimal | None = None, qty: Decimal | None = None) -> None:
    """Give back (part of) what the order holds; with no amounts, everything. Caller saves the order."""
    cash, qty = reservation_released(order, cash=cash, qty=qty)
    if cash > 0:
        portfolio_services.cash_release(account=order.account, amount=cash, order_ref=str(order.id))
        order.reserved_cash -= cash
    if qty > 0:
        portfolio_services.position_release(account=order.account, asset=order.asset, qty=qty, order_ref=str(order.id))
        order.reserved_qty -= qty


def reservation_released(
    order: Order, *, cash: Decimal | None = None, qty: Decimal | None = None
) -> tuple[Decimal, Decimal]:
    """The cash and shares a release of (part of) what the order holds gives back: at most what it holds; with no
    amounts, everything."""
    cash = order.reserved_cash if cash is None else min(cash, order.reserved_cash)
    qty = order.reserved_qty if qty is None else min(qty, order.reserved_qty)
    return cash, qty


def order_end(
    *, order: Order, to_status: str, event: str, now: datetime, reason: str = "", detail: dict | None = None
) -> None:
    """Move a locked order to a terminal status, releasing whatever it still holds."""
    release_reservation(order)
    fields = ["reserved_cash", "reserved_qty"]
    if reason:
        order.reject_reason = reason[:255]
        fields.append("reject_reason")
    order_transition(
        order=order, to_status=to_status, event=event, detail=detail, changed_fields=tuple(fields), now=now
    )
    trade_update_publish(order=order, event=event, now=now)
    held_legs_cancel(parent=order, now=now)


def held_legs_cancel(*, parent: Order, now: datetime) -> None:
    """An entry that ended: legs still held (it never filled) are canceled with it."""
    if parent.parent_id is not None or parent.order_class not in (Order.OrderClass.BRACKET, Order.OrderClass.OTO):
        return
    # They end the way the entry did: expired with an expired entry, canceled otherwise.
    to_status = S.EXPIRED if parent.status == S.EXPIRED else S.CANCELED
    for leg in locked(Order.objects.filter(parent=parent, status=S.HELD)):
        order_end(order=leg, to_status=to_status, event=to_status, now=now, reason="The entry order ended.")


def cancel_request(*, order: Order, now: datetime, detail: dict | None = None) -> None:
    """Cancel a locked open order: at once while no venue has it (held, new); otherwise ask the venue.
    `detail` goes into the timeline event (e.g. why the order was canceled)."""
    if order.status in (S.HELD, S.NEW):
        order_end(order=order, to_status=S.CANCELED, event="canceled", now=now, detail=detail)
    elif order.status != S.PENDING_CANCEL:
        order_transition(order=order, to_status=S.PENDING_CANCEL, event="pending_cancel", detail=detail, now=now)
        queue_cancel_after_commit(order)


def queue_cancel_after_commit(order: Order) -> None:
    """The cancel is recorded once this commits; asking the venue is a side effect after it. Run in
    process (embedded default), its failure is logged, not raised into the caller, whose transaction
    has already committed: a cancel-all must still answer for every order."""
    transaction.on_commit(lambda: queueing.order_cancel_queue(order.id), robust=True)
