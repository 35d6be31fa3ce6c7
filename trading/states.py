"""The order state machine: one transition table (Alpaca's status names) and the one function that moves an order.

A self-loop (e.g. partially_filled → partially_filled) records an event that does not
change the status: another partial fill, or a fill that arrives while a cancel or
replace is pending. Terminal statuses have no way out.
"""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from speedtrade.db import rows_update
from speedtrade.errors import IllegalTransition
from trading.models import Order, OrderEvent
from trading.models import OrderStatus as S

_LIVE = {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.PENDING_CANCEL, S.PENDING_REPLACE}

TRANSITIONS: dict[str, frozenset[str]] = {
    # held: a bracket/OTO leg waiting for its parent's fill; activation makes it new (then the normal path).
    S.HELD: frozenset({S.NEW, S.CANCELED, S.EXPIRED}),
    # new: accepted by SpeedTrade, not yet handed to the venue.
    S.NEW: frozenset(_LIVE | {S.PENDING_NEW, S.REJECTED, S.REPLACED}),
    # pending_new: submission in flight, outcome not yet known.
    S.PENDING_NEW: frozenset(_LIVE | {S.PENDING_NEW, S.REJECTED}),
    S.ACCEPTED: frozenset(_LIVE - {S.ACCEPTED} | {S.DONE_FOR_DAY, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset(_LIVE - {S.ACCEPTED} | {S.DONE_FOR_DAY}),
    S.DONE_FOR_DAY: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.PENDING_CANCEL, S.PENDING_REPLACE}
    ),
    # Fills may still arrive while a cancel is pending; a refused cancel returns to the live status.
    S.PENDING_CANCEL: frozenset({S.PENDING_CANCEL, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PENDING_REPLACE: frozenset(
        {S.PENDING_REPLACE, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.REPLACED}
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
}

# The timestamp field each status stamps when an order enters it.
_STAMPS: dict[str, str] = {
    S.FILLED: "filled_at",
    S.CANCELED: "canceled_at",
    S.EXPIRED: "expired_at",
    S.REPLACED: "replaced_at",
    S.REJECTED: "failed_at",
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS[from_status]


def order_move(
    *,
    order: Order,
    to_status: str,
    event: str,
    qty: Decimal | None = None,
    price: Decimal | None = None,
    latency_us: int | None = None,
    detail: dict | None = None,
    now: datetime,
) -> tuple[set[str], OrderEvent]:
    """Move a locked `order` to `to_status` in memory and build its event row, both unsaved.

    Returns the fields the move changed and the event: `order_transition` saves one move, a batch
    saves many together (`order_moves_save`)."""
    if not can_transition(order.status, to_status):
        raise IllegalTransition(order, to_status)
    from_status = order.status
    order.status = to_status
    order.updated_at = now
    fields = {"status", "updated_at"}
    stamp = _STAMPS.get(to_status)
    if stamp and from_status != to_status:
        setattr(order, stamp, now)
        fields.add(stamp)
    record = OrderEvent(
        order=order,
        event=event,
        from_status=from_status,
        to_status=to_status,
        qty=qty,
        price=price,
        latency_us=latency_us,
        detail=detail or {},
        created_at=now,
    )
    return fields, record


def order_transition(
    *,
    order: Order,
    to_status: str,
    event: str,
    qty: Decimal | None = None,
    price: Decimal | None = None,
    latency_us: int | None = None,
    detail: dict | None = None,
    changed_fields: tuple[str, ...] = (),
    now: datetime | None = None,
) -> OrderEvent:
    """Move `order` (a row the caller has locked) to `to_status` and record the event, in one transaction.

    `changed_fields` names other fields the caller changed on `order` that must be saved with it.
    """
    fields, record = order_move(
        order=order,
        to_status=to_status,
        event=event,
        qty=qty,
        price=price,
        latency_us=latency_us,
        detail=detail,
        now=now or timezone.now(),
    )
    with transaction.atomic(savepoint=False):
        order.save(update_fields=sorted(fields | set(changed_fields)))
        record.save(force_insert=True)
        return record


def order_moves_save(orders: list[Order], fields: set[str], events: list[OrderEvent]) -> None:
    """Save a batch of moves (`order_move`) of locked orders: two statements, whatever the batch's size."""
    with transaction.atomic(savepoint=False):
        rows_update(orders, sorted(fields))
        OrderEvent.objects.bulk_create(events)


def order_event_record(
    *,
    order: Order,
    event: str,
    qty: Decimal | None = None,
    price: Decimal | None = None,
    detail: dict | None = None,
    changed_fields: tuple[str, ...] = (),
    now: datetime | None = None,
) -> OrderEvent:
    """Record something that happened to a locked order without moving its status.

    For what a terminal status cannot refuse: a fill the venue reports after the order
    ended (the money moved there), booked as event `fill_after_end`.
    """
    now = now or timezone.now()
    order.updated_at = now
    with transaction.atomic(savepoint=False):
        order.save(update_fields=sorted({"updated_at", *changed_fields}))
        return OrderEvent.objects.create(
            order=order,
            event=event,
            from_status=order.status,
            to_status=order.status,
            qty=qty,
            price=price,
            detail=detail or {},
            created_at=now,
        )
