"""Sending notifications: after the commit that recorded them, one task per batch of new notifications creates
their deliveries and makes their first attempts (`deliveries_send`: the emails over one connection to the
provider); a failed attempt is retried, with backoff, by one task per delivery (`delivery_send`).

Every attempt starts with a claim (`pending → sending`, attempts + 1, only rows still pending) and ends by
recording what happened, so a delivery is sent at most once however often it is queued."""

import logging
from collections.abc import Collection

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection
from django.db.models import F
from django.utils import timezone

from notifications.catalogue import Channel
from notifications.email import email_message_build
from notifications.models import Delivery, DeliveryStatus
from notifications.push import DeliverySkipped, push_send
from notifications.services import deliveries_create
from venues.backoff import reconnect_delay as retry_delay

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A provider refused or could not be reached; the delivery is retried with backoff."""


def _send(delivery: Delivery, *, email_connection=None) -> None:
    if delivery.channel == Channel.EMAIL:
        message = email_message_build(notification=delivery.notification, delivery=delivery)
        message.connection = email_connection  # None: the message opens one of its own
        message.send(fail_silently=False)
    elif delivery.channel == Channel.PUSH:
        push_send(delivery)
    else:
        raise DeliveryFailed(f"no sender for channel {delivery.channel}")


def _claim(delivery: Delivery) -> bool:
    """`pending → sending`, attempts + 1, if still pending (a conditional UPDATE: one attempt wins)."""
    claimed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1
    )
    delivery.attempts += 1
    return bool(claimed)


def _attempt(delivery: Delivery, *, email_connection=None) -> tuple[str, float | None]:
    """Claim one delivery, send it and record what happened. Returns the outcome ("not pending", "sent",
    "skipped", "failed", or "retry" with the backoff's countdown for the caller to queue)."""
    if not _claim(delivery):
        return "not pending", None
    try:
        _send(delivery, email_connection=email_connection)
    except DeliverySkipped as skipped:
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SKIPPED, last_error=str(skipped)[:500]
        )
        return "skipped", None
    except Exception as exc:  # noqa: BLE001 — any provider error: record, back off, retry
        error = f"{type(exc).__name__}: {exc}"[:500]
        last = delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED if last else DeliveryStatus.PENDING, last_error=error
        )
        log.warning(
            "notification delivery %s attempt %s failed: %s", delivery.idempotency_key, delivery.attempts, error
        )
        if last:
            return "failed", None
        return "retry", retry_delay(delivery.attempts, cap=settings.NOTIFICATIONS_RETRY_MAX_SECONDS)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent", None


def _deliveries(delivery_ids: Collection[int]) -> list[Delivery]:
    return list(
        Delivery.objects.select_related("notification__user", "device")
        .filter(pk__in=delivery_ids, status=DeliveryStatus.PENDING)
        .order_by("pk")
    )


@shared_task(acks_late=True, bind=True, max_retries=None)
def delivery_send(self, delivery_id: int) -> str:
    """Send one delivery at most once (the retry of a failed attempt).

    A second run of this task (a redelivered message, a duplicate queueing) finds nothing to claim and stops. A
    failed attempt goes back to `pending` and is retried with exponential backoff and full jitter until
    `NOTIFICATIONS_MAX_ATTEMPTS`, then `failed`. A worker that dies between sending and recording leaves the row
    `sending`: it is never sent again (a duplicate email is worse than a missing one; the row shows what happened).
    """
    pending = _deliveries([delivery_id])
    if not pending:
        return "not pending"
    outcome, countdown = _attempt(pending[0])
    if outcome == "retry":
        # Returned, not raised: the worker acks this run and the retry is a new message (eager: run at once).
        return self.retry(countdown=countdown, throw=False)
    return outcome


def first_attempts_make(delivery_ids: Collection[int]) -> dict[str, int]:
    """The first attempt of a batch's deliveries, in this task: read together, the emails over one connection to
    the provider (a batch of fills is one SMTP session or API client, not one per email), each claimed just before
    it is sent — a worker that dies mid-batch leaves the rest pending, for this task's redelivery. A failed one is
    retried by its own `delivery_send` after the backoff. Returns the outcomes counted."""
    outcomes: dict[str, int] = {}
    deliveries = _deliveries(delivery_ids)
    email_connection = _email_connection_opened() if any(d.channel == Channel.EMAIL for d in deliveries) else None
    try:
        for delivery in deliveries:
            outcome, countdown = _attempt(delivery, email_connection=email_connection)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "retry":
                delivery_send.apply_async((delivery.pk,), countdown=countdown)
    finally:
        if email_connection is not None:
            email_connection.close()
    return outcomes


def _email_connection_opened():
    """The email backend's connection, open for the batch; None when the provider cannot be reached now (each
    email then tries on its own, and a failure is retried as any other)."""
    email_connection = get_connection(fail_silently=False)
    try:
        email_connection.open()
    except Exception as exc:  # noqa: BLE001 — any provider error: the attempts record it one by one
        log.warning("email provider not reachable for a batch: %s", type(exc).__name__)
        return None
    return email_connection


@shared_task(acks_late=True)
def announcements_handle(announcements: list) -> None:
    """Turn the announcements the subscriber picked (see subscribers.py), [kind, payload] each, into notifications."""
    from notifications.subscribers import notifications_from_announcements

    notifications_from_announcements([(kind, payload) for kind, payload in announcements])


@shared_task(acks_late=True)
def announcement_handle(kind: str, payload: dict) -> None:
    """One announcement, as queued before `announcements_handle` existed: messages a deploy finds waiting."""
    announcements_handle([(kind, payload)])


@shared_task(acks_late=True)
def deliveries_send(notification_ids: list[str]) -> None:
    """Create the email and push deliveries of a batch of new notifications and make their first attempts."""
    first_attempts_make(deliveries_create(notification_ids=notification_ids))
