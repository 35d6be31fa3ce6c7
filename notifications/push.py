"""Push to devices: Web Push (RFC 8030/8291/8292 through pywebpush, VAPID-signed) and FCM tokens.

A push carries no personal data — no symbol, amount, name or message text: only the notification's id,
its category and a generic line. The app or the page fetches the notification itself over the
authenticated API. A push service answering 404 or 410 says the subscription is gone: the device is
removed and the delivery skipped, never retried.
"""

import json

from django.conf import settings
from django.utils import timezone

from notifications.catalogue import Category
from notifications.models import Delivery, PushDevice

GONE = (404, 410)


class DeliverySkipped(Exception):
    """Nothing to send to (device gone, channel not configured): recorded as skipped, not retried."""


def push_payload(delivery: Delivery) -> dict:
    notification = delivery.notification
    return {
        "id": str(notification.id),
        "category": notification.category,
        "title": "SpeedTrade",
        "body": f"New notification: {Category(notification.category).label.lower()}",
        "url": "/notifications/",
    }


def push_send(delivery: Delivery) -> None:
    device = delivery.device
    if device is None:
        raise DeliverySkipped("the device was removed")
    if device.kind == PushDevice.Kind.WEB_PUSH:
        _web_push(device, push_payload(delivery))
    else:
        raise DeliverySkipped("FCM sending is not configured (firebase-admin is not installed yet)")
    PushDevice.objects.filter(pk=device.pk).update(last_used_at=timezone.now())


def _web_push(device: PushDevice, payload: dict) -> None:
    from pywebpush import WebPushException, webpush

    if not settings.WEBPUSH_VAPID_PRIVATE_KEY:
        raise DeliverySkipped("Web Push is not configured (WEBPUSH_VAPID_PRIVATE_KEY)")
    try:
        webpush(
            subscription_info={"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}},
            data=json.dumps(payload),
            vapid_private_key=settings.WEBPUSH_VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.WEBPUSH_VAPID_SUBJECT},
            ttl=settings.WEBPUSH_TTL_SECONDS,
            timeout=10,
        )
    except WebPushException as refused:
        status = refused.response.status_code if refused.response is not None else None
        if status in GONE:
            device.delete()
            raise DeliverySkipped(f"subscription gone ({status}): device removed") from refused
        raise
