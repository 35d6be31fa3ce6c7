"""Order entry, cancel, replace and expiry; and the cancels an account restriction makes."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_event_announce, audit_event_payload
from marketdata import calendars
from marketdata.models import Asset
from marketdata.selectors import asset_by_symbol_cached, asset_by_symbol_if_cached
from portfolios import services as portfolio_services
from portfolios.models import Account
from speedtrade.announcements import AUDIT_EVENT, announced_now
from speedtrade.errors import DomainError
from speedtrade.loop_connections import database_connection, loop_connections
from speedtrade.realtime import send_to_users_async, send_to_users_queue
from trading import order_writer, queueing, risk
from trading.brokers.base import broker_name_for, broker_replaces_at_once
from trading.models import OPEN_STATUSES, TERMINAL_STATUSES, Order, OrderEvent
from trading.models import OrderStatus as S
from trading.risk import OrderRequest
from trading.selectors import opposite_open_orders
from trading.serialization import decimal_string
from trading.services.common import (
    REPLACEABLE_FIELDS,
    cancel_request,
    lock_account,
    lock_order,
    order_audit_build,
    order_audit_record,
    queue_cancel_after_commit,
    release_reservation,
    remaining_request,
    trade_update_data,
    trade_update_publish,
)
from trading.services.contingent import exit_group_others, legs_create
from trading.services.executions import order_venue_update, replaced_record
from trading.states import order_transition

logger = logging.getLogger(__name__)


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


def order_place(
    *, account: Account, request: OrderRequest, now: datetime | None = None, replaces: Order | None = None
) -> tuple[Order, bool]:
    """Check and accept an order. Returns (order, created); the same client_order_id returns the existing order.

    The checks that need no lock run first (`risk.pre_trade_check`, as Review runs them); the order writer
    (`trading/order_writer.py`) then locks the account and makes the rest — duplicate client_order_id,
    tradable, wash trade, the cash or share reservation — and inserts the order, its event and its audit
    record, in one round trip on PostgreSQL. `replaces` is the order that this one replaces (from
    `order_replace`): audited as a replacement, not a placement.
    """
    now = now or timezone.now()
    with transaction.atomic():
        asset = asset_by_symbol_cached(request.symbol)
        try:
            checked = risk.pre_trade_check(
                account, request, asset=asset, opposite_open=None, now=now, with_buying_power=False
            )
            if account.type == Account.Type.MARGIN and request.side == Order.Side.BUY:
                # Margin buying power is a valuation of the whole account: valued with the account locked, after
                # the wash-trade check as Review orders them (the writer's own wash check then finds nothing new).
                lock_account(account.pk)
                opposite = opposite_open_orders(account_id=account.pk, asset_id=checked.asset.pk, side=request.side)
                risk.check_wash_trade(checked.request, opposite)
                risk.check_buying_power(account, checked.holding.cash)
        except DomainError:
            # A retry of a placed order gets the order back even when a new one would be refused now.
            existing = order_writer.placed_order(account_id=account.pk, client_order_id=request.client_order_id)
            if existing is None:
                raise
            _require_same_order(existing, request, asset)
            return existing, False
        placement = placement_build(account=account, checked=checked, now=now, replaces=replaces)
        outcome = order_writer.order_write(placement)
        if outcome.result == order_writer.EXISTING:
            existing = Order.objects.get(pk=cast(UUID, outcome.order_id))  # set on `existing`
            _require_same_order(existing, request, asset)
            return existing, False
        if outcome.refused:
            order_writer.refusal_raise(outcome, placement)
        order = placement.order
        if request.lots:
            portfolio_services.lot_selection_record(
                account=account,
                asset=order.asset,
                order_ref=str(order.pk),
                side=order.side,
                qty=order.qty,
                lots=request.lots,
            )
        audit_event_announce(placement.audit_event)
        trade_update_publish(order=order, event="new", now=now)
        queueing.order_submit_after_commit(order.id)
        if order.order_class != Order.OrderClass.SIMPLE:
            legs_create(parent=order, request=checked.request, now=now)
    return order, True


@dataclass(frozen=True)
class LoopPlacement:
    """An order `order_place_async` places on an event loop: its asset is in this process's cache and its checks
    read nothing from the database (`risk.checks_read_no_database`)."""

    account: Account
    request: OrderRequest
    asset: Asset

    def market_inputs_queue(self, pipeline) -> Callable[[list], risk.MarketInputs]:
        """Its checks' Redis reads, queued on the caller's pipeline (`risk.market_inputs_queue`)."""
        broker = broker_name_for(self.asset.asset_class)
        return risk.market_inputs_queue(pipeline, broker=broker, symbol=self.asset.symbol)


def loop_placement(*, account: Account, request: OrderRequest) -> LoopPlacement | None:
    """The order as a `LoopPlacement`, or None: `order_place` decides it. Reads nothing."""
    asset = asset_by_symbol_if_cached(request.symbol)
    if asset is None or not risk.checks_read_no_database(account, request, asset):
        return None
    return LoopPlacement(account=account, request=request, asset=asset)


InThread = Callable[..., Awaitable[Any]]  # runs a synchronous function (Django's database) in a thread


async def order_place_async(
    placing: LoopPlacement, *, market: risk.MarketInputs, in_thread: InThread, now: datetime | None = None
) -> Order | None:
    """`order_place` on an event loop, for a new order: the same checks (handed the `market` inputs the caller read),
    the same rows, the writer's one statement on the loop's own connection (`order_write_async`; autocommit: the
    statement is the transaction), the same effects after it; the same refusals raised. None where `order_place`
    must decide with the database — a refused order with a client_order_id (a retry gets its order back), a
    client_order_id already used, an account blocked meanwhile (its reason): the attempt here wrote nothing.
    `in_thread` runs the in-process submission (TRADING_ENGINE_INLINE)."""
    now = now or timezone.now()
    account, request = placing.account, placing.request
    try:
        checked = risk.pre_trade_check(
            account, request, asset=placing.asset, opposite_open=None, now=now, with_buying_power=False, market=market
        )
    except DomainError:
        if request.client_order_id:
            return None
        raise
    placement = placement_build(account=account, checked=checked, now=now)
    async with database_connection() as connection:
        outcome = await order_writer.order_write_async(connection, placement)
    if outcome.result in (order_writer.EXISTING, order_writer.ACCOUNT_NOT_TRADABLE):
        return None
    if outcome.refused:
        order_writer.refusal_raise(outcome, placement)  # a wash trade, cash or shares: from what the writer saw
    await _placed_announce_async(placement, now=now, in_thread=in_thread)
    return placement.order


async def _placed_announce_async(placement: order_writer.Placement, *, now: datetime, in_thread: InThread) -> None:
    """What `order_place`'s commit sets off, in its order: the audit event announced, the `new` trade update sent
    (and announced), the order handed on. The update and the engine's wake go out together, in one round trip
    where the channel layer can queue its send on the loop's Redis pipeline (`send_to_users_queue`); a submission
    in process (TRADING_ENGINE_INLINE) waits for the update, so the order's own updates follow `new`. As on
    commit, a failed send is logged, never the request's error."""
    order = placement.order
    announced_now(AUDIT_EVENT, audit_event_payload(placement.audit_event))
    update = [(order.account.user_id, "trade_updates", trade_update_data(order=order, event="new", now=now))]
    redis_client = loop_connections().redis
    pipeline = redis_client.pipeline(transaction=False)
    sent = send_to_users_queue(pipeline, settings.REDIS_URL, update)
    if sent is not None:
        try:
            replies = await queueing.order_handed_on_async(
                order.id, redis_client=redis_client, in_thread=in_thread, with_commands=pipeline
            )
        except Exception:
            logger.exception("Could not send the trade update of order %s or wake the engine.", order.id)
            return
        sent(cast(list, replies))
        return

    async def send() -> None:
        try:
            await send_to_users_async(update)
        except Exception:
            logger.exception("Could not send the trade update of order %s.", order.id)

    hand_on = queueing.order_handed_on_async(order.id, redis_client=redis_client, in_thread=in_thread)
    if settings.TRADING_ENGINE_INLINE:
        await send()
        await hand_on
    else:
        await asyncio.gather(send(), hand_on)


def placement_build(
    *, account: Account, checked: risk.PreTrade, now: datetime, replaces: Order | None = None
) -> order_writer.Placement:
    """The rows the order writer inserts for a checked order (also for a lean request path calling the writer's
    async entry). `account.user` is the audit event's actor."""
    request, asset, holding = checked.request, checked.asset, checked.holding
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
        broker=checked.broker,
        reserved_cash=holding.cash,
        reserved_qty=holding.qty,
        expires_at=_expiry(request, asset, now),
        replaces=replaces,
        created_at=now,
        updated_at=now,
    )
    order.warnings = holding.warnings
    first_event = OrderEvent(
        order=order,
        event="new",
        to_status=S.NEW,
        created_at=now,
        detail={"warnings": holding.warnings} if holding.warnings else {},
    )
    if replaces is None:
        audit_event = order_audit_build(action="trading.order_placed", order=order, account=account)
    else:
        audit_event = order_audit_build(
            action="trading.order_replaced", order=order, account=account, replaces=str(replaces.pk)
        )
    return order_writer.Placement(order=order, first_event=first_event, audit_event=audit_event)


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


def order_cancel(*, account: Account, order_id, now: datetime | None = None) -> Order:
    """Cancel an open order. Not yet at the venue: canceled at once; otherwise pending_cancel and the venue is asked."""
    now = now or timezone.now()
    with transaction.atomic():
        account = lock_account(account.pk)
        order = lock_order(account=account, order_id=order_id)
        if order.status == S.PENDING_CANCEL:
            # Already asked: nothing changes here, but the venue is asked again, so a cancel whose
            # first attempt failed after commit is not left waiting forever.
            queue_cancel_after_commit(order)
            return order
        if order.status in TERMINAL_STATUSES or order.status == S.PENDING_REPLACE:
            raise DomainError(f"The order is {order.status} and cannot be canceled.", code="not_cancelable")
        cancel_request(order=order, now=now)
        order_audit_record(action="trading.order_cancel_requested", order=order, account=account, status=order.status)
        # One cancels the other: canceling any order of an exit group cancels the whole group.
        for other in exit_group_others(order):
            if other.status != S.PENDING_REPLACE:
                cancel_request(order=other, now=now)
    return order


def order_cancel_all(*, account: Account, now: datetime | None = None) -> list[tuple[Order, DomainError | None]]:
    """Cancel every open order of the account: each order with the refusal that kept it open, if any (Alpaca's
    207 list)."""
    results: list[tuple[Order, DomainError | None]] = []
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


def order_replace(*, account: Account, order_id, changes: dict, now: datetime | None = None) -> Order:
    """Replace an open order's qty/prices/tif: the old order becomes `replaced`, a new one takes its place.

    `changes["qty"]` is the new order's quantity (what is still to trade). The checks run on the new
    order with the old one's reservation given back first, all in one transaction.
    """
    now = now or timezone.now()
    unknown = set(changes) - set(REPLACEABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot change {sorted(unknown)[0]}.", code="not_replaceable", field=sorted(unknown)[0])
    with transaction.atomic():
        account = lock_account(account.pk)
        old = lock_order(account=account, order_id=order_id)
        if old.status not in (S.NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.DONE_FOR_DAY):
            raise DomainError(f"The order is {old.status} and cannot be replaced.", code="not_replaceable")
        if old.order_class != Order.OrderClass.SIMPLE:
            raise DomainError(
                "Bracket, OCO and OTO orders and their legs cannot be replaced; cancel and place again.",
                code="not_replaceable",
            )
        if old.notional is not None and "qty" in changes:
            raise DomainError("A notional order's qty cannot be set.", code="not_replaceable", field="qty")
        request = remaining_request(old, changes)
        # The replacement's checks see the old order's buying power or shares given back.
        release_reservation(old)
        if old.status != S.NEW:  # a venue has it: the swap waits for the venue's acknowledgement
            order_transition(
                order=old,
                to_status=S.PENDING_REPLACE,
                event="pending_replace",
                changed_fields=("reserved_cash", "reserved_qty"),
                now=now,
            )
        new, _ = order_place(account=account, request=request, now=now, replaces=old)
        old.replaced_by = new
        if old.status == S.NEW or broker_replaces_at_once(old.broker):
            replaced_record(old=old, now=now)
        else:
            old.save(update_fields=["replaced_by", "reserved_cash", "reserved_qty"])
    return new


def orders_expire(*, now: datetime | None = None) -> int:
    """Expire every open order whose session has closed (day, opg, cls). Returns how many."""
    now = now or timezone.now()
    ids = list(Order.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list("id", flat=True))
    for order_id in ids:
        order_venue_update(order_id=order_id, to_status=S.EXPIRED, event="expired", now=now)
    return len(ids)


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
        order = lock_order(account=account, order_id=order_id)  # re-read: a parent's end may have ended its legs
        if order.status in OPEN_STATUSES and order.status not in (S.PENDING_CANCEL, S.PENDING_REPLACE):
            cancel_request(order=order, now=now, detail=ACCOUNT_RESTRICTED)
            canceled.append(order)
    return canceled
