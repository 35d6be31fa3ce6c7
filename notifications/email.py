"""Notification emails: HTML + text from templates, one-click unsubscribe per category (RFC 8058)."""

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from notifications.catalogue import ALWAYS_EMAILED, Category
from notifications.models import Delivery, Notification

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(*, user_id, category: str) -> str:
    """A signed, non-expiring token naming one user and one category (it can only switch email off)."""
    return signing.dumps({"u": str(user_id), "c": category}, salt=_UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> tuple[str, str] | None:
    """(user id, category) of a valid token, else None."""
    try:
        value = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("c") not in Category.values or not value.get("u"):
        return None
    return value["u"], value["c"]


def absolute_url(path: str) -> str:
    return settings.NOTIFICATIONS_SITE_URL.rstrip("/") + path


def email_message_build(*, notification: Notification, delivery: Delivery) -> EmailMultiAlternatives:
    user = notification.user
    unsubscribe_url = None
    headers = {
        # The delivery's idempotency key as Message-ID: one event, one message id, whatever happens.
        "Message-ID": f"<{delivery.idempotency_key.replace(':', '.')}@{settings.NOTIFICATIONS_EMAIL_DOMAIN}>",
        "X-SpeedTrade-Category": notification.category,
    }
    if notification.category not in ALWAYS_EMAILED:
        token = unsubscribe_token(user_id=user.pk, category=notification.category)
        unsubscribe_url = absolute_url(reverse("notification-unsubscribe", args=[token]))
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    context = {
        "notification": notification,
        "user": user,
        "action_url": absolute_url(notification.url) if notification.url else "",
        "category_label": Category(notification.category).label,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": absolute_url(reverse("notification-preferences-page")),
    }
    message = EmailMultiAlternatives(
        subject=notification.title,
        body=render_to_string("notifications/email/notification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers=headers,
    )
    message.attach_alternative(render_to_string("notifications/email/notification.html", context), "text/html")
    return message
