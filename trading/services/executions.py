"""What venues report: submission claims, status changes (and a replacement's acknowledgement or refusal), fills."""

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.db import transaction
from django.utils import timezone

from portfolios import services as portfolio_services
from portfolios.models import Account
from speedtrade import money
from speedtrade.errors import Conflict, DomainError
from trading import risk
from trading.models import TERMINAL_STATUSES, Execution, Order, OrderEvent
from trading.models import OrderStatus as S
from trading.services.common import (
    cancel_request,
    hold,
    lock_account_of_order,
    lock_order,
    locked,
    order_end,
    release_reservation,
    remaining_request,
    reservation_released,
    trade_update_publish,
)
from trading.services.contingent import (
    exit_group_after_fill,
    exit_group_claim,
    legs_follow_entry_fill,
    replacement_reduce,
)
from trading.states import order_event_record, order_move, order_moves_save, order_transition

logger = logging.getLogger(__name__)


def order_submission_start(*, order_id, now: datetime | None = None) -> Order | None:
    """Claim a `new` order for submission (new → pending_new). None if it is no longer `new`.

    The claim is one conditional UPDATE and its row count: of two workers handed the same
    order (a redelivery, a requeue by reconciliation), exactly one gets it. It locks only
    the order row and takes no other lock afterwards, so it cannot deadlock with the
    account → order order of the other services.
    """
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Order.objects.filter(pk=order_id, status=S.NEW).update(
            status=S.PENDING_NEW, submitted_at=now, updated_at=now
        )
        if not claimed:
            return None
        order = Order.objects.select_related("asset", "account").get(pk=order_id)
        OrderEvent.objects.create(
            order=order, event="pending_new", from_status=S.NEW, to_status=S.PENDING_NEW, created_at=now
        )
        trade_update_publish(order=order, event="pending_new", now=now)
    return order


def order_venue_update(
    *,
    order_id,
    to_status: str,
    event: str | None = None,
    reason: str = "",
    detail: dict | None = None,
    latency_us: int | None = None,
    broker_order_id: str = "",
    now: datetime | None = None,
) -> Order | None:
    """A venue reports a status change (accepted, canceled, expired, rejected, done_for_day). Repeats are no-ops."""
    now = now or timezone.now()
    event = event or to_status
    with transaction.atomic():
        account = lock_account_of_order(order_id)
        if account is None:
            return None
        order = lock_order(account=account, order_id=order_id)
        if order.status == to_status or order.status in TERMINAL_STATUSES:
            return order
        if broker_order_id and not order.broker_order_id:
            order.broker_order_id = broker_order_id
        if to_status in TERMINAL_STATUSES:
            if broker_order_id:
                order.save(update_fields=["broker_order_id"])
            order_end(order=order, to_status=to_status, event=event, now=now, reason=reason, detail=detail)
            if to_status == S.REJECTED and order.replaces_id:
                replace_refused(old_id=order.replaces_id, reason=reason, now=now)
        else:
            fields = ("broker_order_id",) if broker_order_id else ()
            order_transition(
                order=order,
                to_status=to_status,
                event=event,
                detail=detail,
                latency_us=latency_us,
                changed_fields=fields,
                now=now,
            )
            trade_update_publish(order=order, event=event, now=now)
        if to_status == S.ACCEPTED:
            replacement_acknowledged(order, now=now)
    return order


def replacement_acknowledged(order: Order, *, now: datetime) -> None:
    """The venue accepted `order`: if it replaces an order still pending_replace, that one is now replaced."""
    if not order.replaces_id:
        return
    old = locked(Order.objects.filter(pk=order.replaces_id, status=S.PENDING_REPLACE))
    if old:
        replaced_record(old=old[0], now=now)


def inbox_claim(*, venue: str, limit: int, order_ids: Collection | None = None) -> list[Order]:
    """Lock the oldest `new` orders of a venue that accepts in process (the paper engine's inbox), in the
    caller's transaction; `order_ids` narrows the claim to those orders.

    Accounts first, then their orders: the lock order of every service. The engine's sweep of the inbox
    skips accounts another transaction holds (a placement still committing, a cancel) rather than wait:
    their orders go in a later batch (that placement wakes the engine once it commits). A claim of named
    orders (the submit task's) waits for them. The orders are read after the accounts are locked, so an
    order another claimant took meanwhile is no longer `new`: of two claimants — two engine passes, the
    engine and a requeued submit task — each order goes to exactly one.
    """
    inbox = Order.objects.filter(broker=venue, status=S.NEW)
    if order_ids is not None:
        inbox = inbox.filter(pk__in=list(order_ids))
    owners = inbox.order_by("created_at").values("account_id")[:limit]
    accounts = {
        account.pk: account
        for account in Account.objects.select_for_update(of=("self",), skip_locked=order_ids is None)
        .select_related("user")
        .filter(pk__in=owners)
        .order_by("pk")
    }
    if not accounts:
        return []
    orders = list(
        inbox.filter(account_id__in=list(accounts))
        .select_for_update(of=("self",))
        .select_related("asset")
        .order_by("created_at")[:limit]
    )
    for order in orders:
        order.account = accounts[order.account_id]  # the row locked above: trade updates and releases use it
    return orders


def orders_accepted_at_once(*, orders: list[Order], broker_order_ids: dict, now: datetime) -> None:
    """Record claimed orders as submitted to and accepted by a venue that answers in process (the paper engine):
    each goes new → pending_new → accepted with both events and trade updates, as through `submit_order`,
    saved in two statements for the whole batch."""
    fields = {"submitted_at", "broker_order_id"}
    events = []
    for order in orders:
        order.submitted_at = now
        moved, event = order_move(order=order, to_status=S.PENDING_NEW, event="pending_new", now=now)
        trade_update_publish(order=order, event="pending_new", now=now)
        events.append(event)
        order.broker_order_id = broker_order_ids[order.pk]
        accepted, event = order_move(order=order, to_status=S.ACCEPTED, event="accepted", latency_us=0, now=now)
        trade_update_publish(order=order, event="accepted", now=now)
        events.append(event)
        fields |= moved | accepted
    order_moves_save(orders, fields, events)
    for order in orders:
        replacement_acknowledged(order, now=now)


def replace_refused(*, old_id, reason: str, now: datetime) -> None:
    """The venue refused a replacement: the old order is still live there. It returns to its live status and
    holds again what its remainder needs; if that is no longer available, it is canceled rather than left unfunded."""
    rows = locked(Order.objects.filter(pk=old_id, status=S.PENDING_REPLACE))
    if not rows:
        return
    old = rows[0]
    old.replaced_by = None
    live = S.PARTIALLY_FILLED if old.filled_qty else S.ACCEPTED
    funded = True
    try:
        with transaction.atomic():
            request = remaining_request(old, {})
            quote = risk.latest_quote(old.symbol)
            hold(order=old, holding=risk.holding_check(old.account, request, old.asset, quote, good_faith_at=None))
    except DomainError as refusal:
        funded = False
        old.reserved_cash = old.reserved_qty = Decimal(0)
        reason = f"{reason} (and the original can no longer be funded: {refusal})"
    order_transition(
        order=old,
        to_status=live,
        event="order_replace_rejected",
        detail={"reason": reason},
        changed_fields=("replaced_by", "reserved_cash", "reserved_qty"),
        now=now,
    )
    trade_update_publish(order=old, event="order_replace_rejected", now=now)
    if not funded:
        cancel_request(order=old, now=now)


def replaced_record(*, old: Order, now: datetime) -> None:
    order_transition(
        order=old,
        to_status=S.REPLACED,
        event="replaced",
        changed_fields=("replaced_by", "reserved_cash", "reserved_qty"),
        now=now,
    )
    trade_update_publish(order=old, event="replaced", now=now)


def _average_price(order: Order, qty: Decimal, price: Decimal) -> Decimal:
    previous = order.filled_avg_price or Decimal(0)
    total = order.filled_qty + qty
    return money.to_stored((previous * order.filled_qty + price * qty) / total)


def _notional_cash_still_needed(order: Order) -> Decimal:
    """What the rest of a dollar-amount buy may still spend."""
    notional = cast(Decimal, order.notional)  # called only for notional orders (see the caller)
    return max(notional - order.filled_notional, Decimal(0))


def _fill_onto_order(order: Order, *, qty: Decimal, price: Decimal, final: bool) -> bool:
    """Add a fill to the order's filled quantity, cash and average price; whether the order is now complete."""
    order.filled_avg_price = _average_price(order, qty, price)
    order.filled_qty += qty
    # The fill's cash exactly as the ledger books it (firm-favour rounding), so the two always agree.
    order.filled_notional += money.trade_value(qty, price, order.side)
    return final or (order.remaining_qty is not None and order.remaining_qty == 0)


def _fill_release(
    order: Order, *, qty: Decimal, complete: bool, remaining_before: Decimal | None
) -> tuple[Decimal, Decimal]:
    """The cash and shares a fill gives back of what its (live) order holds: everything once it is complete
    (whatever its filled figures); else a buy's cash pro rata (a dollar-amount buy: what the rest no longer
    needs), a sell's shares sold."""
    if complete:
        return reservation_released(order)
    if order.side == Order.Side.SELL:
        return reservation_released(order, qty=qty)
    if order.notional is not None:
        release = order.reserved_cash - _notional_cash_still_needed(order)
    else:
        # Not notional, so a qty order: remaining_qty was not None.
        release = money.cents_up(order.reserved_cash * qty / cast(Decimal, remaining_before))
    return reservation_released(order, cash=max(release, Decimal(0)))


def execution_apply(
    *,
    order_id,
    broker_exec_id: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal = Decimal(0),
    executed_at: datetime,
    final: bool = False,
    now: datetime | None = None,
) -> Execution | None:
    """Record one fill and everything it moves, in one transaction. A repeated `broker_exec_id` changes nothing.

    `final` lets a venue say a notional order is complete (its dollars are used up to the last share increment).
    """
    with transaction.atomic():
        account = lock_account_of_order(order_id)
        if account is None:
            return None
        order = lock_order(account=account, order_id=order_id)
        return execution_book(
            order=order,
            broker_exec_id=broker_exec_id,
            qty=qty,
            price=price,
            fee=fee,
            executed_at=executed_at,
            final=final,
            now=now or timezone.now(),
        )


def execution_book(
    *,
    order: Order,
    broker_exec_id: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal = Decimal(0),
    executed_at: datetime,
    final: bool = False,
    now: datetime,
) -> Execution | None:
    """`execution_apply` for an order the caller has locked, with its account (`order.account`), in its own
    transaction: the paper engine books its batch's fills on the rows it claimed, in a savepoint each."""
    if Execution.objects.filter(broker_exec_id=broker_exec_id).exists():
        return None
    # A venue may report a fill for an order that already ended here (a cancel or replace raced
    # it): the money moved at the venue, so it is booked all the same, as `fill_after_end`.
    ended = order.status in TERMINAL_STATUSES
    if order.remaining_qty is not None and qty > order.remaining_qty:
        raise Conflict(f"Execution {broker_exec_id} overfills order {order.id}.", code="overfill")
    execution = Execution.objects.create(
        order=order,
        broker_exec_id=broker_exec_id,
        qty=qty,
        price=price,
        fee=fee,
        executed_at=executed_at,
        created_at=now,
    )
    if order.status == S.FILLED:
        raise Conflict(f"Execution {broker_exec_id} arrived for filled order {order.id}.", code="overfill")
    # A venue fill is a fact even when we already ended the order (a cancel or expiry
    # that crossed the fill, a rejection decided while the venue was silent): book it.
    ended = order.status in TERMINAL_STATUSES
    remaining_before = order.remaining_qty
    complete = _fill_onto_order(order, qty=qty, price=price, final=final)
    if not ended:  # an ended order holds no reservation any more
        if order.side == Order.Side.SELL:
            exit_group_claim(order=order, qty=qty)
        cash, shares = _fill_release(order, qty=qty, complete=complete, remaining_before=remaining_before)
        release_reservation(order, cash=cash, qty=shares)
    position_qty = portfolio_services.fill_apply(
        account=order.account,
        asset=order.asset,
        side=order.side,
        qty=qty,
        price=price,
        fee=fee,
        executed_at=executed_at,
        cause=execution,
        account_locked=True,  # locked by our caller, whose savepoint or transaction holds this whole fill
    ).qty
    changed = ("filled_qty", "filled_notional", "filled_avg_price", "reserved_cash", "reserved_qty")
    event = "fill" if complete else "partial_fill"
    if ended:
        order_event_record(
            order=order,
            event="fill_after_end",
            qty=qty,
            price=price,
            detail={"broker_exec_id": broker_exec_id},
            changed_fields=changed,
            now=now,
        )
    else:
        to_status: str = S.FILLED
        if not complete:
            pending = order.status in (S.PENDING_CANCEL, S.PENDING_REPLACE)
            to_status = order.status if pending else S.PARTIALLY_FILLED
        order_transition(
            order=order,
            to_status=to_status,
            event=event,
            qty=qty,
            price=price,
            detail={"broker_exec_id": broker_exec_id},
            changed_fields=changed,
            now=now,
        )
    trade_update_publish(
        order=order,
        event=event,
        now=now,
        price=price,
        qty=qty,
        position_qty=position_qty,
        execution_id=execution.id,
    )
    replacement_reduce(replaced=order, qty=qty, now=now)
    legs_follow_entry_fill(entry=order, qty=qty, now=now)
    exit_group_after_fill(order=order, now=now)
    return execution


@dataclass(frozen=True)
class VenueFill:
    """A fill a venue reports for an order the caller has locked with its account (`execution_book`'s arguments)."""

    order: Order
    broker_exec_id: str
    qty: Decimal
    price: Decimal
    executed_at: datetime
    final: bool = False


def executions_book_at_once(fills: list[VenueFill], *, now: datetime) -> list[VenueFill]:
    """`execution_book` for a batch of fills on orders the caller has locked with their accounts (the paper
    engine's), set-based where it can: complete fills of plain orders — accepted, never filled, no legs, exit
    group or replacement, no fee — are booked together in a few statements for the whole batch (executions,
    orders and their events here; reservations, positions, cash, entries and lots in `fills_apply_at_once`).

    Returns the fills it left, in their order, for `execution_book` one at a time: every fill of an account with
    a fill it does not book this way (so each account's fills are still booked in their order), and all of them
    if the set-based write fails (rolled back to its savepoint). A fill whose `broker_exec_id` is already booked
    is neither booked nor returned, as `execution_book` books nothing for it.
    """
    seen: set[str] = set()
    left_accounts = set()
    for fill in fills:
        if not _books_at_once(fill) or fill.broker_exec_id in seen:
            left_accounts.add(fill.order.account_id)
        seen.add(fill.broker_exec_id)
    taking = [fill for fill in fills if fill.order.account_id not in left_accounts]
    known = set()
    if taking:
        known = set(
            Execution.objects.filter(broker_exec_id__in=[fill.broker_exec_id for fill in taking]).values_list(
                "broker_exec_id", flat=True
            )
        )
        taking = [fill for fill in taking if fill.broker_exec_id not in known]
    booked: set[int] = set()
    if taking:
        try:
            with transaction.atomic():
                booked = _executions_book_at_once(taking, now=now)
        except Exception:
            logger.exception("The batch's fills could not be booked together; they are booked one at a time.")
            for fill in taking:
                fill.order.refresh_from_db()  # the rows in memory took what the savepoint rolled back
    return [fill for fill in fills if id(fill) not in booked and fill.broker_exec_id not in known]


def _books_at_once(fill: VenueFill) -> bool:
    order = fill.order
    plain = (
        order.order_class == Order.OrderClass.SIMPLE
        and order.parent_id is None
        and order.replaces_id is None
        and order.replaced_by_id is None
    )
    remaining = order.remaining_qty
    complete = fill.final or fill.qty == remaining
    return plain and order.status == S.ACCEPTED and complete and (remaining is None or fill.qty <= remaining)


def _executions_book_at_once(fills: list[VenueFill], *, now: datetime) -> set[int]:
    """Book what `fills_apply_at_once` can of `fills` (complete fills of plain orders); the `id()`s of those booked."""
    executions = [
        Execution(
            order=fill.order,
            broker_exec_id=fill.broker_exec_id,
            qty=fill.qty,
            price=fill.price,
            fee=Decimal(0),
            executed_at=fill.executed_at,
            created_at=now,
        )
        for fill in fills
    ]
    # A complete fill gives back everything its order holds (`_fill_release`), before its filled figures move.
    released = [
        _fill_release(fill.order, qty=fill.qty, complete=True, remaining_before=fill.order.remaining_qty)
        for fill in fills
    ]
    booked = portfolio_services.fills_apply_at_once(
        [
            portfolio_services.FillAtOnce(
                account=fill.order.account,
                asset=fill.order.asset,
                side=fill.order.side,
                qty=fill.qty,
                price=fill.price,
                executed_at=fill.executed_at,
                cause=execution,
                order_ref=str(fill.order.id),
                release_cash=cash,
                release_qty=shares,
            )
            for fill, execution, (cash, shares) in zip(fills, executions, released, strict=True)
        ],
        now=now,
    )
    if not booked:
        return set()
    fields = {"filled_qty", "filled_notional", "filled_avg_price", "reserved_cash", "reserved_qty"}
    events = []
    for index in sorted(booked):
        fill, (cash, shares) = fills[index], released[index]
        order = fill.order
        _fill_onto_order(order, qty=fill.qty, price=fill.price, final=fill.final)
        order.reserved_cash -= cash
        order.reserved_qty -= shares
        moved, event = order_move(
            order=order,
            to_status=S.FILLED,
            event="fill",
            qty=fill.qty,
            price=fill.price,
            detail={"broker_exec_id": fill.broker_exec_id},
            now=now,
        )
        fields |= moved
        events.append(event)
    Execution.objects.bulk_create([executions[index] for index in sorted(booked)])
    order_moves_save([fills[index].order for index in sorted(booked)], fields, events)
    for index in sorted(booked):
        fill, left = fills[index], booked[index]
        order = fill.order
        portfolio_services.fill_announce(
            account=order.account,
            asset=order.asset,
            side=order.side,
            qty=fill.qty,
            price=fill.price,
            position_qty=left.position_qty,
            cash=left.cash,
        )
        trade_update_publish(
            order=order,
            event="fill",
            now=now,
            price=fill.price,
            qty=fill.qty,
            position_qty=left.position_qty,
            execution_id=executions[index].id,
        )
    return {id(fills[index]) for index in booked}


def execution_apply_cumulative(
    *,
    order_id,
    broker_exec_prefix: str,
    filled_qty: Decimal,
    filled_avg_price: Decimal | None,
    executed_at: datetime,
    fill_qty: Decimal | None = None,
    fill_price: Decimal | None = None,
    fee: Decimal = Decimal(0),
    final: bool = False,
    now: datetime | None = None,
) -> Execution | None:
    """Book what a venue's cumulative `filled_qty` adds to ours (venues that report totals, or fills out of order).

    With the order locked, the new execution is `filled_qty − our filled_qty` (nothing if
    ≤ 0: a late or repeated report). Its id is `<prefix>:<filled_qty>`, the same for every
    process that learns the same total, so the stream and reconciliation never book one
    fill twice. Its price is the reported fill's own price when the report is exactly that
    fill, else what the venue's average implies for the difference. `final`: the venue says
    the order is complete (a notional order has no quantity to reach).
    """
    with transaction.atomic():
        account = lock_account_of_order(order_id)
        if account is None:
            return None
        order = lock_order(account=account, order_id=order_id)
        qty = filled_qty - order.filled_qty
        if qty <= 0:
            return None
        if fill_price is not None and fill_qty == qty:
            price = fill_price
        else:
            if filled_avg_price is None:
                return None
            ours = order.filled_qty * (order.filled_avg_price or Decimal(0))
            price = money.to_stored((filled_avg_price * filled_qty - ours) / qty)
        return execution_apply(
            order_id=order.id,
            broker_exec_id=f"{broker_exec_prefix}:{filled_qty.normalize()}",
            qty=qty,
            price=price,
            fee=fee,
            executed_at=executed_at,
            final=final,
            now=now,
        )
