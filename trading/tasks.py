"""Celery tasks: submission, cancellation, reconciliation, expiry. Thin: they call services and brokers."""

import logging
import time
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from trading import services
from trading.brokers.base import VenueUnavailable, broker_by_name, broker_for, venue_refusal_set
from trading.models import Order
from trading.models import OrderStatus as S

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, bind=True, max_retries=5, default_retry_delay=2)
def submit_order(self, order_id: str) -> None:
    """Hand a `new` order to its venue. An unknown outcome is never guessed: ask the venue before retrying."""
    order = services.order_submission_start(order_id=order_id)
    if order is None:
        # Already claimed earlier (a redelivery after a crash): find out what the venue has.
        order = Order.objects.select_related("asset", "account").filter(pk=order_id).first()
        if order is None or order.status != S.PENDING_NEW:
            return
        known = broker_for(order).get_by_client_order_id(str(order.id))
        if known is not None:
            services.order_venue_update(
                order_id=order.id,
                to_status=S.ACCEPTED,
                event="accepted",
                broker_order_id=known.broker_order_id,
                detail={"found_by": "client_order_id"},
            )
            return
    broker = broker_for(order)
    started = time.perf_counter_ns()
    replaced = order.replaces if order.replaces_id and order.replaces.status == S.PENDING_REPLACE else None
    try:
        # A replacement the venue must acknowledge goes as a replace of the order it replaces.
        outcome = broker.replace(replaced, order) if replaced else broker.submit(order)
    except VenueUnavailable as unknown:
        raise self.retry(exc=unknown) from unknown
    latency_us = (time.perf_counter_ns() - started) // 1000
    if not outcome.accepted:
        services.order_venue_update(
            order_id=order.id,
            to_status=S.REJECTED,
            event="rejected",
            reason=outcome.reject_reason,
            latency_us=latency_us,
        )
        return
    accepted = services.order_venue_update(
        order_id=order.id,
        to_status=S.ACCEPTED,
        event="accepted",
        latency_us=latency_us,
        broker_order_id=outcome.broker_order_id,
    )
    if accepted is not None and accepted.status == S.ACCEPTED:
        broker.after_accept(accepted)


@shared_task(acks_late=True, bind=True, max_retries=5, default_retry_delay=2)
def cancel_order(self, order_id: str) -> None:
    order = Order.objects.select_related("asset", "account").filter(pk=order_id).first()
    if order is None or order.status != S.PENDING_CANCEL:
        return
    try:
        confirmed = broker_for(order).cancel(order)
    except VenueUnavailable as unknown:
        raise self.retry(exc=unknown) from unknown
    if confirmed:
        services.order_venue_update(order_id=order.id, to_status=S.CANCELED, event="canceled")


@shared_task
def expire_orders() -> int:
    return services.orders_expire()


@shared_task
def reconcile_orders() -> dict:
    """Bring every non-terminal order in line with its venue.

    * `new` orders older than TRADING_SUBMIT_STUCK_SECONDS are queued again;
    * `pending_new` orders are looked up by client order id: known → accepted (and any
      missing fills applied), unknown after the timeout → rejected, releasing the reservation;
    * open orders get missing executions applied from the venue's record;
    * a venue that cannot be asked is marked so that new orders routed to it are refused,
      until a later run succeeds.
    """
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.TRADING_SUBMIT_STUCK_SECONDS)
    counts = {"requeued": 0, "accepted": 0, "rejected": 0, "fills": 0, "venues_down": 0}
    for order_id in Order.objects.filter(status=S.NEW, updated_at__lt=stuck_before).values_list("id", flat=True):
        submit_order.delay(str(order_id))
        counts["requeued"] += 1
    open_orders = Order.objects.filter(status__in=(S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED))
    for name in set(open_orders.values_list("broker", flat=True)) | {"paper"}:
        broker = broker_by_name(name)
        try:
            for order in open_orders.filter(broker=name).select_related("asset"):
                _reconcile_one(broker, order, stuck_before, counts)
        except VenueUnavailable as down:
            venue_refusal_set(name, f"The {name} venue cannot be reached right now; try again shortly.")
            logger.warning("reconciliation with %s failed: %s", name, down)
            counts["venues_down"] += 1
        else:
            venue_refusal_set(name, None)
    return counts


def _reconcile_one(broker, order: Order, stuck_before, counts: dict) -> None:
    known = broker.get_by_client_order_id(str(order.id))
    if known is None:
        if order.status == S.PENDING_NEW and order.updated_at < stuck_before:
            services.order_venue_update(
                order_id=order.id, to_status=S.REJECTED, event="rejected", reason="The venue never received the order."
            )
            counts["rejected"] += 1
        return
    if order.status == S.PENDING_NEW:
        services.order_venue_update(
            order_id=order.id,
            to_status=S.ACCEPTED,
            event="accepted",
            broker_order_id=known.broker_order_id,
            detail={"found_by": "reconciliation"},
        )
        counts["accepted"] += 1
    for fill in known.fills:
        if services.execution_apply(
            order_id=order.id,
            broker_exec_id=fill.broker_exec_id,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            executed_at=fill.executed_at,
        ):
            counts["fills"] += 1


@worker_ready.connect
def _reconcile_at_worker_start(**kwargs) -> None:
    reconcile_orders.delay()
