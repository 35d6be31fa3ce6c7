"""The only writers of notifications, preferences and deliveries."""

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.catalogue import ALWAYS_EMAILED, KINDS, Category, Channel, render
from notifications.models import Delivery, Notification, NotificationPreference, PushDevice
from notifications.selectors import preference_for, unread_count
from speedtrade.errors import DomainError, NotFound, full_clean
from speedtrade.realtime import publish_to_user
from speedtrade.task_queue import task_named

STREAM = "notifications"


def notification_as_dict(notification: Notification) -> dict:
    return {
        "id": str(notification.id),
        "kind": notification.kind,
        "category": notification.category,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


def notification_record(
    *, user_id, kind: str, event_key: str, context: dict, now: datetime | None = None
) -> tuple[Notification, bool]:
    """Record that `kind` happened to the user, once per `event_key`; queue its channels after commit.

    Returns (notification, created). The same event again returns the first row and sends nothing.
    """
    now = now or timezone.now()
    category = KINDS[kind].category
    title, body, url = render(kind, context)
    # No savepoints: inside a caller's transaction (a fired alert) every round trip counts; a conflict on
    # the unique (user, event_key) is resolved by ON CONFLICT DO NOTHING, not by catching an error.
    with transaction.atomic(savepoint=False):
        preference = preference_for(user_id=user_id, category=category)
        candidate = Notification(
            user_id=user_id,
            event_key=event_key[:200],
            kind=kind,
            category=category,
            title=title,
            body=body,
            url=url,
            data={k: str(v) for k, v in context.items() if v is not None},
            created_at=now,
            # In-app switched off: kept in the history, but neither counted nor pushed.
            read_at=None if preference.in_app else now,
        )
        Notification.objects.bulk_create([candidate], ignore_conflicts=True)
        unread = (
            Notification.objects.filter(user_id=user_id, read_at__isnull=True)
            .values("user_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        notification = (
            Notification.objects.filter(user_id=user_id, event_key=candidate.event_key)
            .annotate(unread_count=Coalesce(Subquery(unread), 0))
            .get()
        )  # the row and the unread count in one round trip
        created = notification.pk == candidate.pk
        if not created:
            return notification, False
        if preference.in_app:
            publish_to_user(
                user_id,
                STREAM,
                {
                    "event": "created",
                    "notification": notification_as_dict(notification),
                    "unread_count": notification.unread_count,
                },
            )
        emailed = KINDS[kind].email and (preference.email or category in ALWAYS_EMAILED)
        targets = [(Channel.EMAIL, None)] if emailed else []
        if preference.push:
            targets += [(Channel.PUSH, device_id) for device_id in _push_device_ids(user_id=user_id)]
        for channel, device_id in targets:
            delivery = Delivery.objects.create(
                notification=notification,
                channel=channel,
                device_id=device_id,
                idempotency_key=Delivery.key_for(notification.id, channel, device_id),
                created_at=now,
            )
            transaction.on_commit(lambda pk=delivery.pk: _queue_delivery(pk), robust=True)
    return notification, True


def _push_device_ids(*, user_id) -> list:
    return list(PushDevice.objects.filter(user_id=user_id).values_list("pk", flat=True))


def device_register(
    *, user, kind: str, endpoint: str, p256dh: str = "", auth: str = "", label: str = "", now: datetime | None = None
) -> PushDevice:
    """Register (or take over) a device: an endpoint or token belongs to the user who registered it last."""
    now = now or timezone.now()
    with transaction.atomic():
        device, _ = PushDevice.objects.update_or_create(
            kind=kind,
            endpoint=endpoint,
            defaults={"user": user, "p256dh": p256dh, "auth": auth, "label": label[:100], "created_at": now},
        )
        full_clean(device)
    return device


def device_remove(*, user, device_id) -> bool:
    return PushDevice.objects.filter(user=user, pk=device_id).delete()[0] > 0


def _queue_delivery(delivery_id: int) -> None:
    task_named("notifications.tasks.delivery_send").delay(delivery_id)


def notification_mark_read(*, user, notification_ids: list | None = None, now: datetime | None = None) -> int:
    """Mark the user's given notifications (all unread ones when None) read. Returns how many changed."""
    now = now or timezone.now()
    with transaction.atomic():
        unread = Notification.objects.filter(user=user, read_at__isnull=True)
        if notification_ids is not None:
            unread = unread.filter(pk__in=notification_ids)
        changed = unread.update(read_at=now)
        if changed:
            publish_to_user(user.pk, STREAM, {"event": "read", "unread_count": unread_count(user_id=user.pk)})
    return changed


def preference_update(*, user, category: str, **channels: bool) -> NotificationPreference:
    """Switch channels of one category. Security email cannot be switched off."""
    if category not in Category.values:
        raise NotFound(f"Unknown category {category!r}.")
    if category in ALWAYS_EMAILED and channels.get("email") is False:
        raise DomainError("Security emails cannot be turned off.", code="security_email_required", field="email")
    unknown = set(channels) - {"in_app", "email", "push"}
    if unknown:
        raise DomainError(f"Unknown channel {sorted(unknown)[0]!r}.", code="unknown_channel")
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user, category=category)
        for name, value in channels.items():
            setattr(preference, name, value)
        full_clean(preference)
        preference.save()
    return preference
