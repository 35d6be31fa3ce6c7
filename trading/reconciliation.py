"""Reconciliation: SpeedTrade's open orders and fills against each venue's (the omnibus model).

The platform holds one account per venue; every customer order goes there under its
SpeedTrade id as client order id. A run, per venue:

1. reads the venue's open orders (one listing) and asks order by order only about ours
   that are not in it; for each order we hold open: an order it never received is rejected
   once it is stuck (`pending_new`), one it received is accepted; fills it has and we do
   not are booked (by execution id, or from its cumulative filled quantity); a venue-side
   end (canceled, expired, rejected) is recorded;
2. compares what cannot be settled that way and opens a `ReconciliationCase` for each
   disagreement: the venue reports more filled than we can book, we booked more than the
   venue reports, the venue does not know a live order, or the venue holds open an order
   we consider ended (or never sent);
3. marks the venue: unreachable (`VenueUnavailable`) or with an open case → new orders
   routed to it are refused (`venue_unavailable`); reachable and no open case → cleared.
"""

import logging
import uuid
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from speedtrade.errors import DomainError
from trading import services
from trading.brokers.base import Broker, VenueOrderState, VenueUnavailable, venue_refusal_set
from trading.models import OPEN_STATUSES, Order, ReconciliationCase
from trading.models import OrderStatus as S

logger = logging.getLogger(__name__)

Kind = ReconciliationCase.Kind
VENUE_ENDS = (S.CANCELED, S.EXPIRED, S.REJECTED)


def venue_reconcile(broker: Broker, *, stuck_before: datetime, counts: dict) -> None:
    """One venue, start to finish; marks or clears its refusal. Never raises VenueUnavailable."""
    name = broker.name
    try:
        venue_open = broker.open_orders()
        ours = Order.objects.filter(broker=name, status__in=OPEN_STATUSES).exclude(status=S.NEW)
        for order in ours.select_related("asset", "account"):
            known = venue_open.get(str(order.id)) or broker.get_by_client_order_id(str(order.id))
            order_reconcile(broker.name, order, known, stuck_before=stuck_before, counts=counts)
    except VenueUnavailable as down:
        venue_refusal_set(name, f"The {name} venue cannot be reached right now; try again shortly.")
        logger.warning("reconciliation with %s failed: %s", name, down)
        counts["venues_down"] += 1
        return
    ours_open = {
        str(pk) for pk in Order.objects.filter(broker=name, status__in=OPEN_STATUSES).values_list("id", flat=True)
    }
    for client_order_id in sorted(set(venue_open) - ours_open):
        found = _order_or_none(client_order_id)
        _case(name, Kind.OPEN_ONLY_AT_VENUE, client_order_id, found, {"our_status": found.status if found else None})
    if ReconciliationCase.objects.filter(venue=name, status=ReconciliationCase.Status.OPEN).exists():
        venue_refusal_set(name, f"Trading on {name} is halted while compliance reviews a reconciliation case.")
        counts["venues_halted"] += 1
    else:
        venue_refusal_set(name, None)


def order_reconcile(
    venue: str, order: Order, known: VenueOrderState | None, *, stuck_before: datetime, counts: dict
) -> None:
    """Settle one of our open orders with what the venue knows of it (None: the venue never received it)."""
    if known is None:
        if order.status != S.PENDING_NEW:
            _case(venue, Kind.UNKNOWN_AT_VENUE, str(order.id), order, {"our_status": order.status})
        elif order.updated_at < stuck_before:
            services.order_venue_update(
                order_id=order.id, to_status=S.REJECTED, event="rejected", reason="The venue never received the order."
            )
            counts["rejected"] += 1
        return
    counts["accepted"] += order.status == S.PENDING_NEW
    counts["fills"] += venue_state_apply(venue, order, known, found_by="reconciliation")
    order.refresh_from_db()
    venue_filled = known.filled_qty if known.filled_qty is not None else sum((f.qty for f in known.fills), Decimal(0))
    if venue_filled != order.filled_qty:
        kind = Kind.VENUE_FILLED_MORE if venue_filled > order.filled_qty else Kind.WE_FILLED_MORE
        details = {"venue_filled_qty": str(venue_filled), "our_filled_qty": str(order.filled_qty)}
        _case(venue, kind, str(order.id), order, details)


def venue_state_apply(venue: str, order: Order, known: VenueOrderState, *, found_by: str) -> int:
    """Apply what a venue says about one of our orders: its acceptance, its fills, its end. Returns new fills.

    Used by the submit task (an order found by client order id), by reconciliation and by
    polled venues; each step is idempotent, so they may overlap.
    """
    if order.status == S.PENDING_NEW:
        services.order_venue_update(
            order_id=order.id,
            to_status=S.ACCEPTED,
            event="accepted",
            broker_order_id=known.broker_order_id,
            detail={"found_by": found_by},
        )
    booked = venue_fills_apply(venue, order.id, known)
    if known.status in VENUE_ENDS:
        services.order_venue_update(order_id=order.id, to_status=known.status, detail={"found_by": found_by})
    return booked


def venue_fills_apply(venue: str, order_id, known: VenueOrderState, *, executed_at: datetime | None = None) -> int:
    """Book the fills a venue reports for one order; returns how many were new.

    Venues with individual executions (paper) are booked by execution id. Venues that
    report cumulative totals are booked through `execution_apply_cumulative`: each listed
    fill at its running total (exact price), then the total itself, so a stream event and
    a reconciliation run describing the same fill produce one execution.
    """
    booked = 0
    try:
        if known.filled_qty is None:
            for fill in known.fills:
                booked += bool(
                    services.execution_apply(
                        order_id=order_id,
                        broker_exec_id=fill.broker_exec_id,
                        qty=fill.qty,
                        price=fill.price,
                        fee=fill.fee,
                        executed_at=fill.executed_at,
                    )
                )
            return booked
        prefix = f"{venue}:{known.broker_order_id}"
        running = Decimal(0)
        for fill in sorted(known.fills, key=lambda f: f.executed_at):
            running += fill.qty
            booked += bool(
                services.execution_apply_cumulative(
                    order_id=order_id,
                    broker_exec_prefix=prefix,
                    filled_qty=running,
                    filled_avg_price=None,
                    fill_qty=fill.qty,
                    fill_price=fill.price,
                    fee=fill.fee,
                    executed_at=fill.executed_at,
                )
            )
        if known.filled_qty > 0:
            booked += bool(
                services.execution_apply_cumulative(
                    order_id=order_id,
                    broker_exec_prefix=prefix,
                    filled_qty=known.filled_qty,
                    filled_avg_price=known.filled_avg_price,
                    final=known.status == S.FILLED,
                    executed_at=executed_at or (known.fills[-1].executed_at if known.fills else timezone.now()),
                )
            )
    except DomainError as refused:  # an overfill: the case is opened by the caller's comparison
        logger.error("venue %s fill for order %s not booked: %s", venue, order_id, refused)
    return booked


def _order_or_none(client_order_id: str) -> Order | None:
    try:
        return Order.objects.select_related("account").filter(pk=uuid.UUID(client_order_id)).first()
    except ValueError:
        return None  # not one of ours: placed at the venue by hand


def _case(venue: str, kind: str, client_order_id: str, order: Order | None, details: dict) -> None:
    if services.reconciliation_case_open(
        venue=venue, kind=kind, client_order_id=client_order_id, order=order, details=details
    ):
        logger.error("reconciliation case on %s: %s for %s %s", venue, kind, client_order_id, details)
