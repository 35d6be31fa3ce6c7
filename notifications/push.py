"""Push to devices: Web Push (RFC 8030/8291/8292 through pywebpush, VAPID-signed) and FCM tokens (firebase-admin,
FCM's HTTP v1 API).

A push carries no personal data — no symbol, amount, name or message text: only the notification's id,
its category and a generic line. The app or the page fetches the notification itself over the
authenticated API. A push service answering 404 or 410 says the subscription is gone: the device is
removed and the delivery skipped, never retried; so is an FCM token that FCM reports UNREGISTERED or rejects
as an invalid token (INVALID_ARGUMENT on `message.token`).
"""

import hashlib
import json
import threading

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
        _fcm(device, push_payload(delivery))
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


_fcm_app_lock = threading.Lock()


def fcm_app():
    """The firebase-admin app for the configured key, project and API URL (one per process and configuration).

    firebase-admin has no setting for FCM's address, so the messaging service's send URL is set here from
    `FCM_API_URL` (the library's `_fcm_url`, pinned with firebase-admin in requirements.txt; the tests send
    through it to a local server).
    """
    import firebase_admin
    from firebase_admin import credentials, messaging

    configuration = f"{settings.FCM_CREDENTIALS_FILE}|{settings.FCM_PROJECT_ID}|{settings.FCM_API_URL}"
    name = "speedtrade-fcm-" + hashlib.sha256(configuration.encode()).hexdigest()[:16]
    with _fcm_app_lock:
        try:
            return firebase_admin.get_app(name)
        except ValueError:
            pass
        app = firebase_admin.initialize_app(
            credentials.Certificate(settings.FCM_CREDENTIALS_FILE),
            {"projectId": settings.FCM_PROJECT_ID, "httpTimeout": settings.FCM_TIMEOUT_SECONDS},
            name=name,
        )
        service = messaging._get_messaging_service(app)
        service._fcm_url = f"{settings.FCM_API_URL.rstrip('/')}/v1/projects/{settings.FCM_PROJECT_ID}/messages:send"
        return app


def _fcm(device: PushDevice, payload: dict) -> None:
    from firebase_admin import messaging

    if not settings.FCM_ENABLED:
        raise DeliverySkipped("FCM sending is not configured (FCM_ENABLED)")
    message = messaging.Message(
        token=device.endpoint,
        notification=messaging.Notification(title=payload["title"], body=payload["body"]),
        data={"id": payload["id"], "category": payload["category"], "url": payload["url"]},
    )
    (response,) = messaging.send_each([message], app=fcm_app()).responses
    if response.success:
        return
    if _fcm_token_invalid(response.exception):
        device.delete()
        raise DeliverySkipped(f"FCM token invalid ({response.exception.code}): device removed") from response.exception
    raise response.exception


def _fcm_token_invalid(error) -> bool:
    """UNREGISTERED (404: the app was uninstalled or the token expired), or INVALID_ARGUMENT naming the token.

    Any other INVALID_ARGUMENT is about the message, which is ours to fix: not a reason to forget the device.
    """
    from firebase_admin import exceptions, messaging

    if isinstance(error, messaging.UnregisteredError):
        return True
    if not isinstance(error, exceptions.InvalidArgumentError) or error.http_response is None:
        return False
    try:
        details = error.http_response.json()["error"].get("details", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return any(
        violation.get("field") == "message.token"
        for detail in details
        if detail.get("@type") == "type.googleapis.com/google.rpc.BadRequest"
        for violation in detail.get("fieldViolations", [])
    )
