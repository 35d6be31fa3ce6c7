"""Celery tasks: submission, cancellation, reconciliation, expiry. Thin: they call services and brokers."""

import logging
import time
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from trading import engine, reconciliation, services
from trading.brokers.base import (
    VenueUnavailable,
    broker_by_name,
    broker_for,
    configured_broker_names,
    venue_refusal_set,
)
from trading.models import OPEN_STATUSES, Order, ReconciliationCase
from trading.models import OrderStatus as S
from venues.backoff import reconnect_delay

logger = logging.getLogger(__name__)


def _retry_unknown(task, unknown: VenueUnavailable, what: str, order_id: str):
    """Retry later with exponential backoff and full jitter; after the last retry, reconciliation takes over."""
    if task.request.retries >= task.max_retries:
        logger.warning(
            "%s of order %s: venue still unavailable after %d retries; reconciliation will resolve it.",
            what,
            order_id,
            task.request.retries,
        )
        return None
    countdown = reconnect_delay(task.request.retries + 1, cap=settings.TRADING_VENUE_RETRY_MAX_SECONDS)
    # Returned rather than raised: the worker acks this run and the retry is a new message;
    # run eagerly (embedded default, tests) Celery executes the returned retry at once.
    return task.retry(exc=unknown, countdown=countdown, throw=False)


@shared_task(acks_late=True, bind=True, max_retries=8)
def submit_order(self, order_id: str) -> None:
    """Hand a `new` order to its venue exactly once.

    Only the worker whose conditional UPDATE moved the order new → pending_new submits
    it. Any later run for a `pending_new` order (our own retry after an unknown outcome, a
    redelivery after a crash) first asks the venue by client order id and submits only if
    the venue has never seen it. Timeouts, 429s and 5xx are unknown outcomes: never a guess.
    """
    if engine.paper_batch_run(order_ids=[order_id]):
        return  # a `new` paper order: accepted and filled in process, as the engine does (trading/engine.py)
    order = services.order_submission_start(order_id=order_id)
    try:
        if order is None:
            # Already claimed earlier (our retry, a redelivery after a crash): find out what the venue has.
            order = Order.objects.select_related("asset", "account").filter(pk=order_id).first()
            if order is None or order.status != S.PENDING_NEW:
                return
            known = broker_for(order).get_by_client_order_id(str(order.id))
            if known is not None:
                reconciliation.venue_state_apply(order.broker, order, known, found_by="client_order_id")
                return
        broker = broker_for(order)
        started = time.perf_counter_ns()
        # replaces_id is set, so replaces is an Order (the related object is typed optional).
        replaced = order.replaces if order.replaces_id and order.replaces.status == S.PENDING_REPLACE else None  # type: ignore[union-attr]
        # A replacement the venue must acknowledge goes as a replace of the order it replaces.
        outcome = broker.replace(replaced, order) if replaced else broker.submit(order)
    except VenueUnavailable as unknown:
        return _retry_unknown(self, unknown, "submission", order_id)
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
    services.order_venue_update(
        order_id=order.id,
        to_status=S.ACCEPTED,
        event="accepted",
        latency_us=latency_us,
        broker_order_id=outcome.broker_order_id,
    )


@shared_task(acks_late=True, bind=True, max_retries=8)
def cancel_order(self, order_id: str) -> None:
    order = Order.objects.select_related("asset", "account").filter(pk=order_id).first()
    if order is None or order.status != S.PENDING_CANCEL:
        return
    try:
        confirmed = broker_for(order).cancel(order)
    except VenueUnavailable as unknown:
        return _retry_unknown(self, unknown, "cancel", order_id)
    if confirmed:
        services.order_venue_update(order_id=order.id, to_status=S.CANCELED, event="canceled")


@shared_task
def expire_orders() -> int:
    return services.orders_expire()


@shared_task
def reconcile_orders() -> dict:
    """Bring every venue in line with our books (see trading/reconciliation.py).

    `new` orders older than TRADING_SUBMIT_STUCK_SECONDS are queued again; then every
    configured venue, every venue with open orders and every venue with an open case is
    reconciled — also those without open orders, so a venue marked unreachable is probed
    again and its refusal cleared when it answers.
    """
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.TRADING_SUBMIT_STUCK_SECONDS)
    counts = {"requeued": 0, "accepted": 0, "rejected": 0, "fills": 0, "venues_down": 0, "venues_halted": 0}
    for order_id in Order.objects.filter(status=S.NEW, updated_at__lt=stuck_before).values_list("id", flat=True):
        submit_order.delay(str(order_id))
        counts["requeued"] += 1
    names = (
        configured_broker_names()
        | set(Order.objects.filter(status__in=OPEN_STATUSES).values_list("broker", flat=True).distinct())
        | set(
            ReconciliationCase.objects.filter(status=ReconciliationCase.Status.OPEN)
            .values_list("venue", flat=True)
            .distinct()
        )
    )
    for name in sorted(names):
        try:
            broker = broker_by_name(name)
        except (KeyError, ImproperlyConfigured) as unusable:  # e.g. open orders left on a venue no longer configured
            logger.error("cannot reconcile venue %s: %s", name, unusable)
            venue_refusal_set(name, f"The {name} venue is not configured.")
            counts["venues_down"] += 1
            continue
        reconciliation.venue_reconcile(broker, stuck_before=stuck_before, counts=counts)
    return counts


@worker_ready.connect
def _reconcile_at_worker_start(**kwargs) -> None:
    reconcile_orders.delay()
