"""The only code that changes orders. One transaction per business action.

Lock order, everywhere (so two paths never deadlock):
    account row → order row(s) → position row (taken by portfolios inside `fill_apply`).
Every function that changes an order first locks its account, then the order.
Side effects (the submit/cancel tasks, trade updates) run after commit.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketdata import calendars
from marketdata.models import Asset
from portfolios.models import Account
from speedtrade.api.errors import BusinessRuleViolation
from speedtrade.realtime import publish_to_user
from trading import ports, risk
from trading.models import OPEN_STATUSES, TERMINAL_STATUSES, Execution, Order, OrderEvent
from trading.models import OrderStatus as S
from trading.risk import OrderRejected, OrderRequest
from trading.serialization import decimal_string, order_as_alpaca
from trading.states import order_event_record, order_transition

PRICE_PLACES = Decimal("0.000000001")


class OrderNotFound(BusinessRuleViolation):
    status_code = 404
    default_code = "not_found"


def _lock_account(account_id) -> Account:
    return Account.objects.select_for_update().get(pk=account_id)


def _lock_order(*, account: Account, order_id) -> Order:
    try:
        return Order.objects.select_for_update().select_related("asset").get(pk=order_id, account=account)
    except (Order.DoesNotExist, ValueError):
        raise OrderNotFound("No such order.", code="not_found") from None


def trade_update_publish(
    *, order: Order, event: str, now: datetime, price=None, qty=None, position_qty=None, execution_id=None
) -> None:
    """Queue a `trade_updates` message (Alpaca's shape) for the order's owner, sent after commit."""
    publish_to_user(
        order.account.user_id,
        "trade_updates",
        {
            "event": event,
            "order": order_as_alpaca(order),
            "price": decimal_string(price),
            "qty": decimal_string(qty),
            "position_qty": decimal_string(position_qty),
            "execution_id": str(execution_id) if execution_id else None,
            "timestamp": now.isoformat(),
        },
    )


def _expiry(request: OrderRequest, asset: Asset, now: datetime) -> datetime | None:
    """Day and opg/cls equity orders belong to the next session that has not closed yet."""
    if asset.is_crypto or request.time_in_force in (Order.TimeInForce.GTC, Order.TimeInForce.IOC):
        return None
    if request.time_in_force == Order.TimeInForce.FOK:
        return None
    session = calendars.next_session(now)
    return session.session_close if request.extended_hours else session.close


def _asset_for(symbol: str) -> Asset:
    asset = Asset.objects.filter(symbol__iexact=symbol).first()
    if asset is None:
        raise OrderRejected(f"Unknown symbol {symbol!r}.", code="asset_not_found", field="symbol")
    return asset


def order_place(*, account: Account, request: OrderRequest, now: datetime | None = None) -> tuple[Order, bool]:
    """Check and accept an order. Returns (order, created); the same client_order_id returns the existing order."""
    now = now or timezone.now()
    from trading.brokers.base import broker_name_for, venue_refusal_reason

    with transaction.atomic():
        account = _lock_account(account.pk)
        if request.client_order_id:
            # The account lock serialises same-id requests: the second one finds the first one's order.
            existing = Order.objects.filter(account=account, client_order_id=request.client_order_id).first()
            if existing is not None:
                return existing, False
        risk.check_account(account)
        asset = _asset_for(request.symbol)
        risk.check_asset(asset)
        request = risk.with_oco_limit(request)
        risk.check_shape(request, asset)
        risk.check_quantity(request, asset)
        risk.check_prices(request, asset)
        broker = broker_name_for(asset.asset_class)
        refusal = venue_refusal_reason(broker)
        if refusal:
            raise OrderRejected(refusal, code="venue_unavailable")
        quote = ports.latest_quote(symbol=asset.symbol)
        risk.check_limit_band(request, quote)
        risk.check_leg_prices(request, asset, quote)
        risk.check_max_notional(request, asset, quote)
        opposite = Order.Side.SELL if request.side == Order.Side.BUY else Order.Side.BUY
        risk.check_wash_trade(
            request,
            # Held legs are at no venue yet: they cannot trade against anything.
            list(
                Order.objects.filter(account=account, asset=asset, side=opposite, status__in=OPEN_STATUSES).exclude(
                    status=S.HELD
                )
            ),
        )
        order = Order(
            client_order_id=request.client_order_id or str(uuid.uuid4()),
            account=account,
            asset=asset,
            symbol=asset.symbol,
            asset_class=asset.asset_class,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            qty=request.qty,
            notional=request.notional,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trail_price=request.trail_price,
            trail_percent=request.trail_percent,
            extended_hours=request.extended_hours,
            order_class=request.order_class,
            broker=broker,
            expires_at=_expiry(request, asset, now),
            created_at=now,
            updated_at=now,
        )
        if request.side == Order.Side.BUY:
            order.reserved_cash = risk.estimated_cost(request, asset, quote)
            risk.check_buying_power(account, order.reserved_cash)
            order.warnings = risk.check_good_faith(account, asset, request.side, order.reserved_cash, now)
            ports.cash_reserve(account=account, amount=order.reserved_cash, order_ref=str(order.id))
        else:
            order.reserved_qty = risk.check_sellable(account, asset, risk.sell_qty_needed(request, asset, quote))
            order.warnings = risk.check_good_faith(account, asset, request.side, order.reserved_qty, now)
            ports.position_reserve(account=account, asset=asset, qty=order.reserved_qty, order_ref=str(order.id))
        order.save(force_insert=True)
        OrderEvent.objects.create(
            order=order,
            event="new",
            to_status=S.NEW,
            created_at=now,
            detail={"warnings": order.warnings} if order.warnings else {},
        )
        trade_update_publish(order=order, event="new", now=now)
        transaction.on_commit(lambda: _queue_submit(order.id))
        if request.order_class != Order.OrderClass.SIMPLE:
            legs_create(parent=order, request=request, now=now)
    return order, True


def _queue_submit(order_id) -> None:
    from trading.tasks import submit_order

    submit_order.delay(str(order_id))


def _release_reservation(order: Order, *, cash: Decimal | None = None, qty: Decimal | None = None) -> None:
    """Give back (part of) what the order holds; with no amounts, everything. Caller saves the order."""
    cash = order.reserved_cash if cash is None else min(cash, order.reserved_cash)
    qty = order.reserved_qty if qty is None else min(qty, order.reserved_qty)
    if cash > 0:
        ports.cash_release(account=order.account, amount=cash, order_ref=str(order.id))
        order.reserved_cash -= cash
    if qty > 0:
        ports.position_release(account=order.account, asset=order.asset, qty=qty, order_ref=str(order.id))
        order.reserved_qty -= qty


def order_end(
    *, order: Order, to_status: str, event: str, now: datetime, reason: str = "", detail: dict | None = None
) -> None:
    """Move a locked order to a terminal status, releasing whatever it still holds."""
    _release_reservation(order)
    fields = ["reserved_cash", "reserved_qty"]
    if reason:
        order.reject_reason = reason[:255]
        fields.append("reject_reason")
    order_transition(
        order=order, to_status=to_status, event=event, detail=detail, changed_fields=tuple(fields), now=now
    )
    trade_update_publish(order=order, event=event, now=now)
    held_legs_cancel(parent=order, now=now)


def _cancel_request(*, order: Order, now: datetime) -> None:
    """Cancel a locked open order: at once while no venue has it (held, new); otherwise ask the venue."""
    if order.status in (S.HELD, S.NEW):
        order_end(order=order, to_status=S.CANCELED, event="canceled", now=now)
    elif order.status != S.PENDING_CANCEL:
        order_transition(order=order, to_status=S.PENDING_CANCEL, event="pending_cancel", now=now)
        transaction.on_commit(lambda: _queue_cancel(order.id))


def order_cancel(*, account: Account, order_id, now: datetime | None = None) -> Order:
    """Cancel an open order. Not yet at the venue: canceled at once; otherwise pending_cancel and the venue is asked."""
    now = now or timezone.now()
    with transaction.atomic():
        account = _lock_account(account.pk)
        order = _lock_order(account=account, order_id=order_id)
        if order.status == S.PENDING_CANCEL:
            return order  # already asked: idempotent
        if order.status in TERMINAL_STATUSES or order.status == S.PENDING_REPLACE:
            raise BusinessRuleViolation(f"The order is {order.status} and cannot be canceled.", code="not_cancelable")
        _cancel_request(order=order, now=now)
        # One cancels the other: canceling any order of an exit group cancels the whole group.
        for other in _exit_group_others(order):
            if other.status != S.PENDING_REPLACE:
                _cancel_request(order=other, now=now)
    return order


def _queue_cancel(order_id) -> None:
    from trading.tasks import cancel_order

    cancel_order.delay(str(order_id))


def order_cancel_all(*, account: Account, now: datetime | None = None) -> list[tuple[Order, int, str]]:
    """Cancel every open order of the account: a (order, status code, message) per order, like Alpaca's 207 list."""
    results = []
    ids = list(
        Order.objects.filter(account=account, status__in=OPEN_STATUSES)
        .order_by("created_at")
        .values_list("id", flat=True)
    )
    for order_id in ids:
        if not Order.objects.filter(pk=order_id, status__in=OPEN_STATUSES).exists():
            # Ended meanwhile as part of a group canceled earlier in this loop.
            results.append((Order.objects.get(pk=order_id), 200, ""))
            continue
        try:
            results.append((order_cancel(account=account, order_id=order_id, now=now), 200, ""))
        except BusinessRuleViolation as refusal:
            results.append((Order.objects.get(pk=order_id), refusal.status_code, str(refusal.detail)))
    return results


REPLACEABLE_FIELDS = ("qty", "limit_price", "stop_price", "trail_price", "trail_percent", "time_in_force")


def order_replace(*, account: Account, order_id, changes: dict, now: datetime | None = None) -> Order:
    """Replace an open order's qty/prices/tif: the old order becomes `replaced`, a new one takes its place.

    `changes["qty"]` is the new order's quantity (what is still to trade). The checks run on the new
    order with the old one's reservation given back first, all in one transaction.
    """
    now = now or timezone.now()
    from trading.brokers.base import broker_replaces_at_once

    unknown = set(changes) - set(REPLACEABLE_FIELDS)
    if unknown:
        raise BusinessRuleViolation(
            f"Cannot change {sorted(unknown)[0]}.", code="not_replaceable", field=sorted(unknown)[0]
        )
    with transaction.atomic():
        account = _lock_account(account.pk)
        old = _lock_order(account=account, order_id=order_id)
        if old.status not in (S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.DONE_FOR_DAY):
            raise BusinessRuleViolation(f"The order is {old.status} and cannot be replaced.", code="not_replaceable")
        if old.order_class != Order.OrderClass.SIMPLE:
            raise BusinessRuleViolation(
                "Bracket, OCO and OTO orders and their legs cannot be replaced; cancel and place again.",
                code="not_replaceable",
            )
        if old.notional is not None and "qty" in changes:
            raise BusinessRuleViolation("A notional order's qty cannot be set.", code="not_replaceable", field="qty")
        remaining = old.remaining_qty
        values = {name: getattr(old, name) for name in REPLACEABLE_FIELDS}
        values["qty"] = remaining
        values.update(changes)
        if "trail_percent" in changes:
            values["trail_price"] = None
        if "trail_price" in changes:
            values["trail_percent"] = None
        request = OrderRequest(
            symbol=old.symbol,
            side=old.side,
            type=old.type,
            notional=old.remaining_notional if old.notional else None,
            extended_hours=old.extended_hours,
            **values,
        )
        if request.notional is not None:
            request = OrderRequest(**{**request.__dict__, "qty": None})
        # The replacement's checks see the old order's buying power or shares given back.
        _release_reservation(old)
        if old.status != S.NEW:  # a venue has it: the swap waits for the venue's acknowledgement
            order_transition(
                order=old,
                to_status=S.PENDING_REPLACE,
                event="pending_replace",
                changed_fields=("reserved_cash", "reserved_qty"),
                now=now,
            )
        new, _ = order_place(account=account, request=request, now=now)
        new.replaces = old
        new.save(update_fields=["replaces"])
        old.replaced_by = new
        if old.status == S.NEW or broker_replaces_at_once(old.broker):
            _replaced_record(old=old, now=now)
        else:
            old.save(update_fields=["replaced_by", "reserved_cash", "reserved_qty"])
    return new


def _replaced_record(*, old: Order, now: datetime) -> None:
    order_transition(
        order=old,
        to_status=S.REPLACED,
        event="replaced",
        changed_fields=("replaced_by", "reserved_cash", "reserved_qty"),
        now=now,
    )
    trade_update_publish(order=old, event="replaced", now=now)


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
        account_id = Order.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        if account_id is None:
            return None
        account = _lock_account(account_id)
        order = _lock_order(account=account, order_id=order_id)
        if order.status == to_status or order.status in TERMINAL_STATUSES:
            return order
        if broker_order_id and not order.broker_order_id:
            order.broker_order_id = broker_order_id
        if to_status in TERMINAL_STATUSES:
            if broker_order_id:
                order.save(update_fields=["broker_order_id"])
            order_end(order=order, to_status=to_status, event=event, now=now, reason=reason, detail=detail)
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
        if to_status == S.ACCEPTED and order.replaces_id:
            # The venue acknowledged the replacement: the order it replaces is now replaced.
            old = _locked(Order.objects.filter(pk=order.replaces_id, status=S.PENDING_REPLACE))
            if old:
                _replaced_record(old=old[0], now=now)
    return order


def order_submission_start(*, order_id, now: datetime | None = None) -> Order | None:
    """Claim a `new` order for submission (new → pending_new). None if someone else already moved it."""
    now = now or timezone.now()
    with transaction.atomic():
        account_id = Order.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        if account_id is None:
            return None
        account = _lock_account(account_id)
        order = _lock_order(account=account, order_id=order_id)
        if order.status not in (S.NEW, S.PENDING_NEW):
            return None
        order.submitted_at = now
        order_transition(
            order=order, to_status=S.PENDING_NEW, event="pending_new", changed_fields=("submitted_at",), now=now
        )
        trade_update_publish(order=order, event="pending_new", now=now)
    return order


def _average_price(order: Order, qty: Decimal, price: Decimal) -> Decimal:
    previous = order.filled_avg_price or Decimal(0)
    total = order.filled_qty + qty
    return ((previous * order.filled_qty + price * qty) / total).quantize(PRICE_PLACES)


def _notional_cash_still_needed(order: Order) -> Decimal:
    """What the rest of a dollar-amount buy may still spend."""
    return max(order.notional - order.filled_notional, Decimal(0))


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
    now = now or timezone.now()
    with transaction.atomic():
        account_id = Order.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        if account_id is None:
            return None
        account = _lock_account(account_id)
        order = _lock_order(account=account, order_id=order_id)
        if Execution.objects.filter(broker_exec_id=broker_exec_id).exists():
            return None
        # A venue may report a fill for an order that already ended here (a cancel or replace raced
        # it): the money moved at the venue, so it is booked all the same, as `fill_after_end`.
        ended = order.status in TERMINAL_STATUSES
        if order.remaining_qty is not None and qty > order.remaining_qty:
            raise BusinessRuleViolation(
                f"Execution {broker_exec_id} overfills order {order.id}.", code="overfill", status_code=409
            )
        execution = Execution.objects.create(
            order=order,
            broker_exec_id=broker_exec_id,
            qty=qty,
            price=price,
            fee=fee,
            executed_at=executed_at,
            created_at=now,
        )
        remaining_before = order.remaining_qty
        order.filled_avg_price = _average_price(order, qty, price)
        order.filled_qty += qty
        order.filled_notional = (order.filled_notional + qty * price).quantize(risk.ONE_CENT)
        complete = final or (order.remaining_qty is not None and order.remaining_qty == 0)
        if order.side == Order.Side.BUY:
            if complete:
                release = order.reserved_cash
            elif order.notional is not None:
                release = order.reserved_cash - _notional_cash_still_needed(order)
            else:
                release = risk.to_cents_up(order.reserved_cash * qty / remaining_before)
            _release_reservation(order, cash=max(release, Decimal(0)))
        else:
            exit_group_claim(order=order, qty=qty)
            _release_reservation(order, qty=order.reserved_qty if complete or ended else qty)
        position_qty = ports.fill_apply(
            account=account,
            asset=order.asset,
            side=order.side,
            qty=qty,
            price=price,
            fee=fee,
            executed_at=executed_at,
            cause=execution,
        )
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
            replacement_reduce(replaced=order, qty=qty, now=now)
        else:
            to_status = S.FILLED
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
        legs_follow_entry_fill(entry=order, qty=qty, now=now)
        exit_group_after_fill(order=order, now=now)
    return execution


def orders_expire(*, now: datetime | None = None) -> int:
    """Expire every open order whose session has closed (day, opg, cls). Returns how many."""
    now = now or timezone.now()
    ids = list(Order.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list("id", flat=True))
    for order_id in ids:
        order_venue_update(order_id=order_id, to_status=S.EXPIRED, event="expired", now=now)
    return len(ids)


# --- Closing positions (Alpaca's DELETE /positions) -----------------------------------------


class PositionNotFound(BusinessRuleViolation):
    status_code = 404
    default_code = "position_not_found"


def _closing_qty(*, position, qty: Decimal | None, percentage: Decimal | None) -> Decimal:
    """All of the position, `qty` of it, or `percentage` of it rounded down to what can trade.

    As at Alpaca, a percentage sells fractions only of a position that is already fractional.
    """
    if qty is not None:
        return qty
    if percentage is None:
        return position.qty
    asset = position.asset
    step = Decimal(1) if position.qty == position.qty.to_integral_value() and not asset.is_crypto else None
    step = step or asset.min_trade_increment
    wanted = (position.qty * percentage / 100 // step) * step
    if wanted <= 0:
        raise BusinessRuleViolation(
            f"{percentage.normalize()}% of {position.qty.normalize()} {asset.symbol} is less than one tradable unit.",
            code="qty_below_minimum",
            field="percentage",
        )
    return wanted


def position_close(
    *,
    account: Account,
    symbol_or_asset_id: str,
    qty: Decimal | None = None,
    percentage: Decimal | None = None,
    now: datetime | None = None,
) -> Order:
    """Sell all of an open position (or `qty` / `percentage` of it) with a market order, through `order_place`.

    Every pre-trade rule applies unchanged: shares held by other open sells are not sellable
    (`insufficient_position`), the market's session rules hold. Not held (or another user's) → 404.
    """
    position = ports.open_position(account=account, symbol_or_asset_id=symbol_or_asset_id)
    if position is None:
        raise PositionNotFound(f"No open position in {symbol_or_asset_id}.")
    asset = position.asset
    request = OrderRequest(
        symbol=asset.symbol,
        side=Order.Side.SELL,
        type=Order.Type.MARKET,
        # Crypto takes gtc; equities day, the only tif fractional shares may use.
        time_in_force=Order.TimeInForce.GTC if asset.is_crypto else Order.TimeInForce.DAY,
        qty=_closing_qty(position=position, qty=qty, percentage=percentage),
    )
    order, _ = order_place(account=account, request=request, now=now)
    return order


def position_close_all(
    *, account: Account, cancel_orders: bool = False, now: datetime | None = None
) -> list[tuple[str, int, Order | BusinessRuleViolation]]:
    """Close every open position: a (symbol, status code, order or refusal) per position, like Alpaca's 207 list.

    With `cancel_orders`, open orders are canceled first, so shares held by resting sells
    are free again (on a venue that confirms cancels later, those positions answer
    `insufficient_position` until it has).
    """
    if cancel_orders:
        order_cancel_all(account=account, now=now)
    results = []
    for position in ports.open_positions(account=account):
        try:
            order = position_close(account=account, symbol_or_asset_id=str(position.asset_id), now=now)
            results.append((position.asset.symbol, 200, order))
        except BusinessRuleViolation as refusal:
            results.append((position.asset.symbol, refusal.status_code, refusal))
    return results


# --- Contingent orders: bracket / OTO legs and OCO exit groups ----------------------------
#
# Legs are child orders (`parent`, `leg_role`). Bracket and OTO legs wait `held`, reserving
# nothing and at no venue, until their entry fills; the first fill activates them for the
# filled quantity (held → new, then the normal submit path) and every later entry fill
# grows them by its quantity. An exit group — a bracket's two legs, or an OCO's limit sell
# and its stop leg — sells the same shares: it holds ONE share reservation between its
# members, which moves to whichever member fills; a fill shrinks the other members to what
# is left, and when nothing is left they are canceled (one cancels the other).


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
            transaction.on_commit(lambda leg_id=leg.id: _queue_submit(leg_id))
        legs.append(leg)
    return legs


def _locked(query) -> list[Order]:
    return list(query.select_for_update(of=("self",)).select_related("asset", "account").order_by("created_at"))


def legs_follow_entry_fill(*, entry: Order, qty: Decimal, now: datetime) -> None:
    """A bracket/OTO entry filled `qty`: activate its held legs for the filled quantity, or grow live ones."""
    if entry.parent_id is not None or entry.order_class not in (Order.OrderClass.BRACKET, Order.OrderClass.OTO):
        return
    live = [leg for leg in _locked(Order.objects.filter(parent=entry)) if leg.status in OPEN_STATUSES]
    if not live:
        return  # the exits already sold everything; later entry shares are not protected (documented)
    # The group's one reservation sits with the member that has it, else the take-profit leg.
    holder = max(live, key=lambda leg: (leg.reserved_qty, leg.leg_role == Order.LegRole.TAKE_PROFIT))
    for leg in live:
        grow = entry.filled_qty if leg.status == S.HELD else qty
        fields = ["qty"]
        if leg is holder:
            ports.position_reserve(account=leg.account, asset=leg.asset, qty=grow, order_ref=str(leg.id))
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
            transaction.on_commit(lambda leg_id=leg.id: _queue_submit(leg_id))
        else:
            leg.qty += grow
            order_event_record(order=leg, event="leg_resized", qty=leg.qty, changed_fields=tuple(fields), now=now)


def held_legs_cancel(*, parent: Order, now: datetime) -> None:
    """An entry that ended: legs still held (it never filled) are canceled with it."""
    if parent.parent_id is not None or parent.order_class not in (Order.OrderClass.BRACKET, Order.OrderClass.OTO):
        return
    for leg in _locked(Order.objects.filter(parent=parent, status=S.HELD)):
        order_end(order=leg, to_status=S.CANCELED, event="canceled", now=now, reason="The entry order ended.")


def _exit_group_others(order: Order) -> list[Order]:
    """The other open orders selling the same shares as `order` (locked), or [] when it is no exit leg."""
    if order.order_class == Order.OrderClass.OCO:
        root = order.parent_id or order.id
        query = Order.objects.filter(Q(pk=root) | Q(parent_id=root))
    elif order.parent_id is not None:
        query = Order.objects.filter(parent_id=order.parent_id)
    else:
        return []
    return _locked(query.exclude(pk=order.pk).filter(status__in=OPEN_STATUSES))


def exit_group_claim(*, order: Order, qty: Decimal) -> None:
    """Before an exit member's fill: move the group's share reservation for `qty` to it (no portfolio change)."""
    need = qty - order.reserved_qty
    if need <= 0:
        return
    for other in _exit_group_others(order):
        take = min(need, other.reserved_qty)
        if take > 0:
            other.reserved_qty -= take
            other.save(update_fields=["reserved_qty"])
            order.reserved_qty += take
            need -= take


def exit_group_after_fill(*, order: Order, now: datetime) -> None:
    """After an exit member's fill: the others shrink to what is left to sell; nothing left → they are canceled."""
    others = _exit_group_others(order)
    left = order.remaining_qty
    for other in others:
        if left <= 0:
            _cancel_request(order=other, now=now)
        elif other.remaining_qty != left:
            other.qty = other.filled_qty + left
            order_event_record(order=other, event="leg_resized", qty=other.qty, changed_fields=("qty",), now=now)


def replacement_reduce(*, replaced: Order, qty: Decimal, now: datetime) -> None:
    """A late fill on a replaced order also reduces its replacement, so the two never trade more than one order."""
    if replaced.status != S.REPLACED or replaced.replaced_by_id is None:
        return
    new = _locked(Order.objects.filter(pk=replaced.replaced_by_id, status__in=OPEN_STATUSES))
    if not new or new[0].qty is None:
        return
    new = new[0]
    remaining = new.remaining_qty
    if qty >= remaining:
        _cancel_request(order=new, now=now)
        return
    if new.side == Order.Side.BUY:
        _release_reservation(new, cash=risk.to_cents_up(new.reserved_cash * qty / remaining))
    else:
        _release_reservation(new, qty=qty)
    new.qty -= qty
    order_event_record(
        order=new,
        event="reduced_by_late_fill",
        qty=new.qty,
        detail={"replaced_order_id": str(replaced.id)},
        changed_fields=("qty", "reserved_cash", "reserved_qty"),
        now=now,
    )
