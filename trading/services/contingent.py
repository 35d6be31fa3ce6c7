"""Contingent orders: bracket / OTO legs and OCO exit groups.

Legs are child orders (`parent`, `leg_role`). Bracket and OTO legs wait `held`, reserving
nothing and at no venue, until their entry fills; the first fill activates them for the
filled quantity (held → new, then the normal submit path) and every later entry fill
grows them by its quantity. An exit group — a bracket's two legs, or an OCO's limit sell
and its stop leg — sells the same shares: it holds ONE share reservation between its
members, which moves to whichever member fills; a fill shrinks the other members to what
is left, and when nothing is left they are canceled (one cancels the other).
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.db.models import Q

from portfolios import services as portfolio_services
from speedtrade import money
from trading import queueing
from trading.models import OPEN_STATUSES, Order, OrderEvent
from trading.models import OrderStatus as S
from trading.risk import OrderRequest
from trading.serialization import decimal_string
from trading.services.common import cancel_request, locked, release_reservation, trade_update_publish
from trading.states import order_event_record, order_transition


def legs_create(*, parent: Order, request: OrderRequest, now: datetime) -> list[Order]:
    """Insert the legs of a just-placed contingent order (OCO: its stop leg, live at once)."""
    oco = parent.order_class == Order.OrderClass.OCO
    specs = [(Order.LegRole.TAKE_PROFIT, request.take_profit), (Order.LegRole.STOP_LOSS, request.stop_loss)]
    legs = []
    for role, spec in specs:
        if spec is None or (oco and role == Order.LegRole.TAKE_PROFIT):
            continue  # an OCO order is itself the take-profit limit
        if role == Order.LegRole.TAKE_PROFIT:
            type_ = Order.Type.LIMIT
        else:
            type_ = Order.Type.STOP_LIMIT if spec.limit_price is not None else Order.Type.STOP
        leg = Order(
            client_order_id=str(uuid.uuid4()),
            account=parent.account,
            asset=parent.asset,
            symbol=parent.symbol,
            asset_class=parent.asset_class,
            side=Order.Side.SELL,
            type=type_,
            time_in_force=parent.time_in_force,
            qty=parent.qty,
            limit_price=spec.limit_price,
            stop_price=spec.stop_price,
            order_class=parent.order_class,
            parent=parent,
            leg_role=role,
            broker=parent.broker,
            expires_at=parent.expires_at,
            status=S.NEW if oco else S.HELD,
            created_at=now,
            updated_at=now,
        )
        leg.save(force_insert=True)
        OrderEvent.objects.create(order=leg, event=leg.status, to_status=leg.status, created_at=now)
        if oco:
            trade_update_publish(order=leg, event="new", now=now)
            queueing.order_submit_after_commit(leg.id)
        legs.append(leg)
    return legs


def legs_follow_entry_fill(*, entry: Order, qty: Decimal, now: datetime) -> None:
    """A bracket/OTO entry filled `qty`: activate its held legs for the filled quantity, or grow live ones."""
    if entry.parent_id is not None or entry.order_class not in (Order.OrderClass.BRACKET, Order.OrderClass.OTO):
        return
    live = [leg for leg in locked(Order.objects.filter(parent=entry)) if leg.status in OPEN_STATUSES]
    if not live:
        return  # the exits already sold everything; later entry shares are not protected (documented)
    # The group's one reservation sits with the member that has it, else the take-profit leg.
    holder = max(live, key=lambda leg: (leg.reserved_qty, leg.leg_role == Order.LegRole.TAKE_PROFIT))
    for leg in live:
        grow = entry.filled_qty if leg.status == S.HELD else qty
        fields = ["qty"]
        if leg is holder:
            portfolio_services.position_reserve(account=leg.account, asset=leg.asset, qty=grow, order_ref=str(leg.id))
            leg.reserved_qty += grow
            fields.append("reserved_qty")
        if leg.status == S.HELD:
            leg.qty = grow
            order_transition(
                order=leg,
                to_status=S.NEW,
                event="activated",
                qty=grow,
                detail={"entry_filled_qty": decimal_string(entry.filled_qty)},
                changed_fields=tuple(fields),
                now=now,
            )
            trade_update_publish(order=leg, event="new", now=now)
            queueing.order_submit_after_commit(leg.id)
        else:
            leg.qty = cast(Decimal, leg.qty) + grow  # legs always have a qty (risk.check_order_class)
            order_event_record(order=leg, event="leg_resized", qty=leg.qty, changed_fields=tuple(fields), now=now)


def exit_group_others(order: Order) -> list[Order]:
    """The other open orders selling the same shares as `order` (locked), or [] when it is no exit leg."""
    if order.order_class == Order.OrderClass.OCO:
        root = order.parent_id or order.id
        query = Order.objects.filter(Q(pk=root) | Q(parent_id=root))
    elif order.parent_id is not None:
        query = Order.objects.filter(parent_id=order.parent_id)
    else:
        return []
    return locked(query.exclude(pk=order.pk).filter(status__in=OPEN_STATUSES))


def exit_group_claim(*, order: Order, qty: Decimal) -> None:
    """Before an exit member's fill: move the group's share reservation for `qty` to it (no portfolio change)."""
    need = qty - order.reserved_qty
    if need <= 0:
        return
    for other in exit_group_others(order):
        take = min(need, other.reserved_qty)
        if take > 0:
            other.reserved_qty -= take
            other.save(update_fields=["reserved_qty"])
            order.reserved_qty += take
            need -= take


def exit_group_after_fill(*, order: Order, now: datetime) -> None:
    """After an exit member's fill: the others shrink to what is left to sell; nothing left → they are canceled."""
    others = exit_group_others(order)
    left = cast(Decimal, order.remaining_qty)  # exit-group members are legs, which have a qty (never notional)
    for other in others:
        if left <= 0:
            cancel_request(order=other, now=now)
        elif other.remaining_qty != left:
            other.qty = other.filled_qty + left
            order_event_record(order=other, event="leg_resized", qty=other.qty, changed_fields=("qty",), now=now)


def replacement_reduce(*, replaced: Order, qty: Decimal, now: datetime) -> None:
    """A fill on a replaced (or pending_replace) order also reduces its replacement, so the two never trade
    more than the one order the user meant."""
    if replaced.replaced_by_id is None:
        return
    rows = locked(Order.objects.filter(pk=replaced.replaced_by_id, status__in=OPEN_STATUSES))
    if not rows:
        return
    new = rows[0]
    if new.qty is None:
        return
    remaining = cast(Decimal, new.remaining_qty)  # not None: new.qty is not None (above)
    if qty >= remaining:
        cancel_request(order=new, now=now)
        return
    if new.side == Order.Side.BUY:
        release_reservation(new, cash=money.cents_up(new.reserved_cash * qty / remaining))
    else:
        release_reservation(new, qty=qty)
    new.qty -= qty
    order_event_record(
        order=new,
        event="reduced_by_late_fill",
        qty=new.qty,
        detail={"replaced_order_id": str(replaced.id)},
        changed_fields=("qty", "reserved_cash", "reserved_qty"),
        now=now,
    )
