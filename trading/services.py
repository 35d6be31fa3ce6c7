"""The only code that changes orders. One transaction per business action.

Lock order, everywhere (so two paths never deadlock):
    account row → order row(s) → position row (taken by portfolios inside `fill_apply`).
Every function that changes an order first locks its account, then the order.
Side effects (the submit/cancel tasks, trade updates) run after commit.
"""

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from marketdata import calendars
from marketdata.models import Asset
from portfolios.models import Account, Position
from speedtrade import money
from speedtrade.errors import Conflict, DomainError, NotFound
from speedtrade.realtime import publish_to_user
from speedtrade.task_queue import task_queue_or_leave_to_sweep
from trading import ports, risk
from trading.models import OPEN_STATUSES, TERMINAL_STATUSES, Execution, Order, OrderEvent, ReconciliationCase
from trading.models import OrderStatus as S
from trading.risk import OrderRejected, OrderRequest
from trading.serialization import decimal_string, order_as_alpaca
from trading.states import order_event_record, order_transition


class OrderNotFound(NotFound):
    pass


def _lock_account(account_id) -> Account:
    # The user rides along in the same read (unlocked): order actions audit it as their actor.
    return Account.objects.select_for_update(of=("self",)).select_related("user").get(pk=account_id)


def _order_audit_record(*, action: str, order: Order, account: Account, **extra) -> None:
    """The customer's order action in the audit trail. Services have no request, so no IP/user agent."""
    summary = {
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "qty": decimal_string(order.qty),
        "notional": decimal_string(order.notional),
        "limit_price": decimal_string(order.limit_price),
        "stop_price": decimal_string(order.stop_price),
        "client_order_id": order.client_order_id,
    }
    ports.audit_event_record(action=action, actor=account.user, target=order, after={**summary, **extra})


def _lock_account_of_order(order_id) -> Account | None:
    """For a venue's report, which names only the order: its account locked first (the lock order of
    every service), found by a subquery in the same statement. None if there is no such order."""
    owner = Order.objects.filter(pk=order_id).values("account_id")
    return Account.objects.select_for_update(of=("self",)).select_related("user").filter(pk=Subquery(owner)).first()


def _lock_order(*, account: Account, order_id) -> Order:
    try:
        order = Order.objects.select_for_update().select_related("asset").get(pk=order_id, account=account)
    except (Order.DoesNotExist, ValueError):
        raise OrderNotFound("No such order.") from None
    order.account = account  # the row locked just before: saves a lazy read per trade update and release
    return order


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
    """Day and opg/cls equity orders belong to the next session that has not closed yet.

    A cls order waits past the close for its closing-auction fill (the first tick after the
    close): unexecuted, it expires with the session's after-hours."""
    if asset.is_crypto or request.time_in_force in (Order.TimeInForce.GTC, Order.TimeInForce.IOC):
        return None
    if request.time_in_force == Order.TimeInForce.FOK:
        return None
    session = calendars.next_session(now)
    late = request.extended_hours or request.time_in_force == Order.TimeInForce.CLS
    return session.session_close if late else session.close


def _require_asset(asset: Asset | None, symbol: str) -> Asset:
    if asset is None:
        raise OrderRejected(f"Unknown symbol {symbol!r}.", code="asset_not_found", field="symbol")
    return asset


def order_place(
    *, account: Account, request: OrderRequest, now: datetime | None = None, replaces: Order | None = None
) -> tuple[Order, bool]:
    """Check and accept an order. Returns (order, created); the same client_order_id returns the existing order.

    `replaces` is the order that this one replaces (from `order_replace`): audited as a replacement, not a placement.
    """
    now = now or timezone.now()
    from trading.brokers.base import broker_name_for, venue_refusal_reason

    with transaction.atomic():
        account = _lock_account(account.pk)
        asset = ports.asset_by_symbol(request.symbol)
        # The account lock serialises same-id requests: the second one finds the first one's order.
        existing, opposite_open = _same_id_and_opposite_open(account=account, request=request, asset=asset)
        if existing is not None:
            _require_same_order(existing, request, asset)
            return existing, False
        risk.check_account(account)
        asset = _require_asset(asset, request.symbol)
        risk.check_asset(asset)
        request = risk.with_oco_limit(request)
        risk.check_shape(request, asset)
        risk.check_auction_window(request, now)
        risk.check_quantity(request, asset)
        risk.check_prices(request, asset)
        broker = broker_name_for(asset.asset_class)
        refusal = venue_refusal_reason(broker)
        if refusal:
            raise OrderRejected(refusal, code="venue_unavailable")
        quote = ports.latest_quote(symbol=asset.symbol)
        risk.check_limit_band(request, quote)
        risk.check_leg_prices(request, asset, quote)
        risk.check_minimum_value(account, request, asset, quote)
        risk.check_max_notional(request, asset, quote)
        risk.check_wash_trade(request, opposite_open)
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
        _reserve(order=order, request=request, quote=quote, good_faith_at=now)
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
        if replaces is None:
            _order_audit_record(action="trading.order_placed", order=order, account=account)
        else:
            _order_audit_record(
                action="trading.order_replaced", order=order, account=account, replaces=str(replaces.pk)
            )
    return order, True


def _reserve(*, order: Order, request: OrderRequest, quote, good_faith_at: datetime | None = None) -> None:
    """Check and hold what the order needs: cash for a buy, shares for a sell (caller saves the order).

    `good_faith_at`: a new order's good-faith check, which must see the account before this hold
    (re-funding an order whose replacement failed is no new trade and skips it).
    """
    account, asset = order.account, order.asset
    if request.side == Order.Side.BUY:
        order.reserved_cash = risk.estimated_cost(request, asset, quote)
    else:
        order.reserved_qty = risk.check_sellable(account, asset, risk.sell_qty_needed(request, asset, quote))
    if good_faith_at is not None:
        held = order.reserved_cash if request.side == Order.Side.BUY else order.reserved_qty
        order.warnings = risk.check_good_faith(account, asset, request.side, held, good_faith_at)
    if request.side == Order.Side.BUY:
        _cash_reserve_within_buying_power(account=account, amount=order.reserved_cash, order_ref=str(order.id))
    else:
        ports.position_reserve(account=account, asset=asset, qty=order.reserved_qty, order_ref=str(order.id))


def _same_id_and_opposite_open(
    *, account: Account, request: OrderRequest, asset: Asset | None
) -> tuple[Order | None, list[Order]]:
    """One read for two questions of order entry: the order already placed with this client_order_id
    (idempotency), and the account's open orders on the other side of the same asset (wash trades;
    held legs are at no venue yet, so they cannot trade against anything)."""
    opposite = Order.Side.SELL if request.side == Order.Side.BUY else Order.Side.BUY
    wanted = Q(pk__in=[])
    if request.client_order_id:
        wanted |= Q(client_order_id=request.client_order_id)
    if asset is not None:
        wanted |= Q(asset=asset, side=opposite, status__in=OPEN_STATUSES) & ~Q(status=S.HELD)
    rows = list(Order.objects.filter(wanted, account=account))
    existing = next((o for o in rows if request.client_order_id and o.client_order_id == request.client_order_id), None)
    opposite_open = [
        o
        for o in rows
        if asset is not None
        and o.asset_id == asset.pk
        and o.side == opposite
        and o.status in OPEN_STATUSES
        and o.status != S.HELD
    ]
    return existing, opposite_open


class ClientOrderIdReused(DomainError):
    default_code = "client_order_id_reused"


# What a client_order_id retry must repeat to get the original order back (Alpaca's request names).
ORDER_TERMS = (
    "side",
    "type",
    "time_in_force",
    "qty",
    "notional",
    "limit_price",
    "stop_price",
    "trail_price",
    "trail_percent",
    "extended_hours",
    "order_class",
)


def _request_terms(request: OrderRequest, asset: Asset | None) -> dict:
    terms = {name: getattr(request, name) for name in ORDER_TERMS}
    take, stop = request.take_profit, request.stop_loss
    if request.order_class == Order.OrderClass.OCO and take is not None:
        terms["limit_price"] = request.limit_price or take.limit_price  # an OCO order is its take-profit limit
    terms["symbol"] = asset.symbol if asset is not None else request.symbol
    terms["take_profit"] = take.limit_price if take else None
    terms["stop_loss"] = (stop.stop_price, stop.limit_price) if stop else None
    return terms


def _order_terms(order: Order) -> dict:
    terms = {name: getattr(order, name) for name in ORDER_TERMS}
    legs = {leg.leg_role: leg for leg in Order.objects.filter(parent=order)} if order.has_legs else {}
    take, stop = legs.get(Order.LegRole.TAKE_PROFIT), legs.get(Order.LegRole.STOP_LOSS)
    terms["symbol"] = order.symbol
    if order.order_class == Order.OrderClass.OCO:
        terms["take_profit"] = order.limit_price
    else:
        terms["take_profit"] = take.limit_price if take else None
    terms["stop_loss"] = (stop.stop_price, stop.limit_price) if stop else None
    return terms


def _shown(value) -> str:
    if isinstance(value, tuple):
        return " / ".join(_shown(part) for part in value if part is not None) or "none"
    if isinstance(value, Decimal):
        return decimal_string(value)
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _require_same_order(existing: Order, request: OrderRequest, asset: Asset | None) -> None:
    """An order placed again with its client_order_id returns the original only if it asks for the same
    thing (an idempotent retry); a different order under a used id is refused, naming what differs."""
    placed, asked = _order_terms(existing), _request_terms(request, asset)
    differing = [name for name in placed if placed[name] != asked[name]]
    if not differing:
        return
    raise ClientOrderIdReused(
        f"client_order_id {request.client_order_id!r} was already used for order {existing.id}, which differs "
        f"in {', '.join(differing)}. Use a new client_order_id for a new order; resend the same order to get "
        "the original back.",
        fields={
            name: [
                f"The order with this client_order_id has {_shown(placed[name])}; this request has "
                f"{_shown(asked[name])}."
            ]
            for name in differing
        },
    )


def _cash_reserve_within_buying_power(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Hold cash for a buy, refusing it beyond buying power.

    Cash accounts: buying power is cash − reservations, exactly the condition of the
    reservation's own conditional UPDATE, so that UPDATE is the check (one round trip); only a
    refusal reads the numbers for its message. Margin accounts ask portfolios' valuation first.
    """
    if account.type == Account.Type.MARGIN:
        risk.check_buying_power(account, amount)
        ports.cash_reserve(account=account, amount=amount, order_ref=order_ref)
        return
    try:
        ports.cash_reserve(account=account, amount=amount, order_ref=order_ref)
    except DomainError:
        risk.check_buying_power(account, amount)  # raises insufficient_buying_power with the amounts
        raise


def _queue_submit(order_id) -> None:
    from trading.tasks import submit_order

    # A `new` order whose message never reached the broker is queued again by `reconcile_orders`.
    task_queue_or_leave_to_sweep(submit_order, str(order_id))


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


def _cancel_request(*, order: Order, now: datetime, detail: dict | None = None) -> None:
    """Cancel a locked open order: at once while no venue has it (held, new); otherwise ask the venue.
    `detail` goes into the timeline event (e.g. why the order was canceled)."""
    if order.status in (S.HELD, S.NEW):
        order_end(order=order, to_status=S.CANCELED, event="canceled", now=now, detail=detail)
    elif order.status != S.PENDING_CANCEL:
        order_transition(order=order, to_status=S.PENDING_CANCEL, event="pending_cancel", detail=detail, now=now)
        _queue_cancel_after_commit(order)


def order_cancel(*, account: Account, order_id, now: datetime | None = None) -> Order:
    """Cancel an open order. Not yet at the venue: canceled at once; otherwise pending_cancel and the venue is asked."""
    now = now or timezone.now()
    with transaction.atomic():
        account = _lock_account(account.pk)
        order = _lock_order(account=account, order_id=order_id)
        if order.status == S.PENDING_CANCEL:
            # Already asked: nothing changes here, but the venue is asked again, so a cancel whose
            # first attempt failed after commit is not left waiting forever.
            _queue_cancel_after_commit(order)
            return order
        if order.status in TERMINAL_STATUSES or order.status == S.PENDING_REPLACE:
            raise DomainError(f"The order is {order.status} and cannot be canceled.", code="not_cancelable")
        _cancel_request(order=order, now=now)
        _order_audit_record(action="trading.order_cancel_requested", order=order, account=account, status=order.status)
        # One cancels the other: canceling any order of an exit group cancels the whole group.
        for other in _exit_group_others(order):
            if other.status != S.PENDING_REPLACE:
                _cancel_request(order=other, now=now)
    return order


def _queue_cancel_after_commit(order: Order) -> None:
    """The cancel is recorded once this commits; asking the venue is a side effect after it. Run in
    process (embedded default), its failure is logged, not raised into the caller, whose transaction
    has already committed: a cancel-all must still answer for every order."""
    transaction.on_commit(lambda: _queue_cancel(order.id), robust=True)


def _queue_cancel(order_id) -> None:
    from trading.tasks import cancel_order

    cancel_order.delay(str(order_id))


def order_cancel_all(*, account: Account, now: datetime | None = None) -> list[tuple[Order, DomainError | None]]:
    """Cancel every open order of the account: each order with the refusal that kept it open, if any (Alpaca's
    207 list)."""
    results = []
    ids = list(
        Order.objects.filter(account=account, status__in=OPEN_STATUSES)
        .order_by("created_at")
        .values_list("id", flat=True)
    )
    for order_id in ids:
        if not Order.objects.filter(pk=order_id, status__in=OPEN_STATUSES).exists():
            # Ended meanwhile as part of a group canceled earlier in this loop.
            results.append((Order.objects.get(pk=order_id), None))
            continue
        try:
            results.append((order_cancel(account=account, order_id=order_id, now=now), None))
        except DomainError as refusal:
            results.append((Order.objects.get(pk=order_id), refusal))
    return results


REPLACEABLE_FIELDS = ("qty", "limit_price", "stop_price", "trail_price", "trail_percent", "time_in_force")


def _remaining_request(order: Order, changes: dict) -> OrderRequest:
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


def order_replace(*, account: Account, order_id, changes: dict, now: datetime | None = None) -> Order:
    """Replace an open order's qty/prices/tif: the old order becomes `replaced`, a new one takes its place.

    `changes["qty"]` is the new order's quantity (what is still to trade). The checks run on the new
    order with the old one's reservation given back first, all in one transaction.
    """
    from trading.brokers.base import broker_replaces_at_once

    now = now or timezone.now()
    unknown = set(changes) - set(REPLACEABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {sorted(unknown)[0]}.", code="not_replaceable", field=sorted(unknown)[0])
    with transaction.atomic():
        account = _lock_account(account.pk)
        old = _lock_order(account=account, order_id=order_id)
        if old.status not in (S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.DONE_FOR_DAY):
            raise DomainError(f"The order is {old.status} and cannot be replaced.", code="not_replaceable")
        if old.order_class != Order.OrderClass.SIMPLE:
            raise DomainError(
                "Bracket, OCO and OTO orders and their legs cannot be replaced; cancel and place again.",
                code="not_replaceable",
            )
        if old.notional is not None and "qty" in changes:
            raise DomainError("A notional order's qty cannot be set.", code="not_replaceable", field="qty")
        request = _remaining_request(old, changes)
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
        new, _ = order_place(account=account, request=request, now=now, replaces=old)
        new.replaces = old
        new.save(update_fields=["replaces"])
        old.replaced_by = new
        if old.status == S.NEW or broker_replaces_at_once(old.broker):
            _replaced_record(old=old, now=now)
        else:
            old.save(update_fields=["replaced_by", "reserved_cash", "reserved_qty"])
    return new


def _replace_refused(*, old_id, reason: str, now: datetime) -> None:
    """The venue refused a replacement: the old order is still live there. It returns to its live status and
    holds again what its remainder needs; if that is no longer available, it is canceled rather than left unfunded."""
    old = _locked(Order.objects.filter(pk=old_id, status=S.PENDING_REPLACE))
    if not old:
        return
    old = old[0]
    old.replaced_by = None
    live = S.PARTIALLY_FILLED if old.filled_qty else S.ACCEPTED
    funded = True
    try:
        with transaction.atomic():
            _reserve(order=old, request=_remaining_request(old, {}), quote=ports.latest_quote(symbol=old.symbol))
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
        _cancel_request(order=old, now=now)


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
        account = _lock_account_of_order(order_id)
        if account is None:
            return None
        order = _lock_order(account=account, order_id=order_id)
        if order.status == to_status or order.status in TERMINAL_STATUSES:
            return order
        if broker_order_id and not order.broker_order_id:
            order.broker_order_id = broker_order_id
        if to_status in TERMINAL_STATUSES:
            if broker_order_id:
                order.save(update_fields=["broker_order_id"])
            order_end(order=order, to_status=to_status, event=event, now=now, reason=reason, detail=detail)
            if to_status == S.REJECTED and order.replaces_id:
                _replace_refused(old_id=order.replaces_id, reason=reason, now=now)
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


def _average_price(order: Order, qty: Decimal, price: Decimal) -> Decimal:
    previous = order.filled_avg_price or Decimal(0)
    total = order.filled_qty + qty
    return money.to_stored((previous * order.filled_qty + price * qty) / total)


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
        account = _lock_account_of_order(order_id)
        if account is None:
            return None
        order = _lock_order(account=account, order_id=order_id)
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
        order.filled_avg_price = _average_price(order, qty, price)
        order.filled_qty += qty
        # The fill's cash exactly as the ledger books it (firm-favour rounding), so the two always agree.
        order.filled_notional += money.trade_value(qty, price, order.side)
        complete = final or (order.remaining_qty is not None and order.remaining_qty == 0)
        if ended:
            pass  # an ended order holds no reservation any more
        elif order.side == Order.Side.BUY:
            if complete:
                release = order.reserved_cash
            elif order.notional is not None:
                release = order.reserved_cash - _notional_cash_still_needed(order)
            else:
                release = money.cents_up(order.reserved_cash * qty / remaining_before)
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
        replacement_reduce(replaced=order, qty=qty, now=now)
        legs_follow_entry_fill(entry=order, qty=qty, now=now)
        exit_group_after_fill(order=order, now=now)
    return execution


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
        account = _lock_account_of_order(order_id)
        if account is None:
            return None
        order = _lock_order(account=account, order_id=order_id)
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


def orders_expire(*, now: datetime | None = None) -> int:
    """Expire every open order whose session has closed (day, opg, cls). Returns how many."""
    now = now or timezone.now()
    ids = list(Order.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list("id", flat=True))
    for order_id in ids:
        order_venue_update(order_id=order_id, to_status=S.EXPIRED, event="expired", now=now)
    return len(ids)


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
    # They end the way the entry did: expired with an expired entry, canceled otherwise.
    to_status = S.EXPIRED if parent.status == S.EXPIRED else S.CANCELED
    for leg in _locked(Order.objects.filter(parent=parent, status=S.HELD)):
        order_end(order=leg, to_status=to_status, event=to_status, now=now, reason="The entry order ended.")


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
    """A fill on a replaced (or pending_replace) order also reduces its replacement, so the two never trade
    more than the one order the user meant."""
    if replaced.replaced_by_id is None:
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
        _release_reservation(new, cash=money.cents_up(new.reserved_cash * qty / remaining))
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


# --- Closing positions (Alpaca's DELETE /positions) -----------------------------------------


class PositionNotFound(NotFound):
    default_code = "position_not_found"


def _closing_qty(*, position: Position, qty: Decimal | None, percentage: Decimal | None) -> Decimal:
    """All of the position, `qty` of it, or `percentage` of it rounded down to what can trade.

    As at Alpaca, a percentage sells fractions only of a position that is already fractional.
    """
    if qty is not None:
        return qty
    if percentage is None:
        return position.qty
    asset = position.asset
    step = Decimal(1) if money.is_whole(position.qty) and not asset.is_crypto else None
    step = step or asset.min_trade_increment
    wanted = (position.qty * percentage / 100 // step) * step
    if wanted <= 0:
        raise DomainError(
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
) -> list[tuple[str, Order | DomainError]]:
    """Close every open position: each symbol with its closing order or the refusal (Alpaca's 207 list).

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
            results.append((position.asset.symbol, order))
        except DomainError as refusal:
            results.append((position.asset.symbol, refusal))
    return results


def reconciliation_case_open(
    *, venue: str, kind: str, client_order_id: str, order: Order | None = None, details: dict
) -> ReconciliationCase | None:
    """Record a disagreement with a venue (audited). None when the same case is already open."""
    with transaction.atomic():
        if ReconciliationCase.objects.filter(
            venue=venue, kind=kind, client_order_id=client_order_id, status=ReconciliationCase.Status.OPEN
        ).exists():
            return None
        case = ReconciliationCase.objects.create(
            venue=venue, kind=kind, client_order_id=client_order_id, order=order, details=details
        )
        ports.audit_event_record(
            action="trading.reconciliation_case_opened",
            target=case,
            subject_user=order.account.user if order is not None else None,
            after={"venue": venue, "kind": kind, "client_order_id": client_order_id, **details},
        )
    return case


def reconciliation_case_resolve(*, case_id: int, staff, resolution: str, request=None, now: datetime | None = None):
    """Compliance closes a case after investigating it (audited). The venue's halt lifts at the next
    reconciliation run once it has no open case left."""
    now = now or timezone.now()
    if not resolution.strip():
        raise DomainError("Say how the case was resolved.", code="resolution_required", field="resolution")
    with transaction.atomic():
        case = ReconciliationCase.objects.select_for_update().get(pk=case_id)
        if case.status != ReconciliationCase.Status.OPEN:
            raise DomainError("The case is already resolved.", code="already_resolved")
        case.status = ReconciliationCase.Status.RESOLVED
        case.resolved_at, case.resolved_by, case.resolution = now, staff, resolution.strip()
        case.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
        ports.audit_event_record(
            action="trading.reconciliation_case_resolved",
            actor=staff,
            target=case,
            before={"status": ReconciliationCase.Status.OPEN},
            after={"status": case.status, "resolution": case.resolution},
            request=request,
        )
    return case


# --- Account restrictions (called by portfolios.services.account_restriction_apply) ----------

ACCOUNT_RESTRICTED = {"reason": "account_restricted"}


def orders_cancel_for_restriction(*, account: Account, now: datetime | None = None) -> list[Order]:
    """Compliance blocked the account's trading or froze it: cancel every open order, each with the
    reason `account_restricted` in its timeline. Runs in the restriction's transaction, which has
    locked the account row already (account → orders, the usual lock order). Returns the orders.

    An order in pending_replace is left to its replacement, which is canceled like any open order.
    """
    now = now or timezone.now()
    canceled = []
    ids = Order.objects.filter(account=account, status__in=OPEN_STATUSES).order_by("created_at").values_list("id")
    for (order_id,) in ids:
        order = _lock_order(account=account, order_id=order_id)  # re-read: a parent's end may have ended its legs
        if order.status in OPEN_STATUSES and order.status not in (S.PENDING_CANCEL, S.PENDING_REPLACE):
            _cancel_request(order=order, now=now, detail=ACCOUNT_RESTRICTED)
            canceled.append(order)
    return canceled
