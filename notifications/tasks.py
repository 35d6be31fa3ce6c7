"""Sending notifications: after the commit that recorded them, one task per batch of new notifications creates
their deliveries (`deliveries_send`), then one task per delivery sends it (`delivery_send`)."""

import logging

from celery import shared_task
from django.conf import settings
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


def _send(delivery: Delivery) -> None:
    if delivery.channel == Channel.EMAIL:
        email_message_build(notification=delivery.notification, delivery=delivery).send(fail_silently=False)
    elif delivery.channel == Channel.PUSH:
        push_send(delivery)
    else:
        raise DeliveryFailed(f"no sender for channel {delivery.channel}")


@shared_task(acks_late=True, bind=True, max_retries=None)
def delivery_send(self, delivery_id: int) -> str:
    """Send one delivery at most once.

    The claim `pending → sending` is a conditional UPDATE: a second run of this task (a
    redelivered message, a duplicate queueing) finds nothing to claim and stops. A failed
    attempt goes back to `pending` and is retried with exponential backoff and full jitter
    until `NOTIFICATIONS_MAX_ATTEMPTS`, then `failed`. A worker that dies between sending
    and recording leaves the row `sending`: it is never sent again (a duplicate email is
    worse than a missing one; the row shows what happened).
    """
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1
    )
    if not claimed:
        return "not pending"
    delivery = Delivery.objects.select_related("notification__user", "device").get(pk=delivery_id)
    try:
        _send(delivery)
    except DeliverySkipped as skipped:
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SKIPPED, last_error=str(skipped)[:500]
        )
        return "skipped"
    except Exception as exc:  # noqa: BLE001 — any provider error: record, back off, retry
        error = f"{type(exc).__name__}: {exc}"[:500]
        last = delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED if last else DeliveryStatus.PENDING, last_error=error
        )
        log.warning(
            "notification delivery %s attempt %s failed: %s", delivery.idempotency_key, delivery.attempts, error
        )
        if last:
            return "failed"
        countdown = retry_delay(delivery.attempts, cap=settings.NOTIFICATIONS_RETRY_MAX_SECONDS)
        # Returned, not raised: the worker acks this run and the retry is a new message (eager: run at once).
        return self.retry(countdown=countdown, throw=False)
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


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
    """Create the email and push deliveries of a batch of new notifications and queue each one's sending."""
    for delivery_id in deliveries_create(notification_ids=notification_ids):
        delivery_send.delay(delivery_id)
