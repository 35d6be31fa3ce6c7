"""The only writers of notifications, preferences and deliveries."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.catalogue import ALWAYS_EMAILED, KINDS, Category, Channel, render
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationPreference, PushDevice
from notifications.selectors import preferences_for, unread_count
from speedtrade.errors import DomainError, NotFound, full_clean
from speedtrade.realtime import publish_to_user, publish_to_users
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


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a user, told once per (user, `event_key`): a `kind` of the catalogue
    (notifications.catalogue.KINDS) and the context its words are formatted with."""

    user_id: uuid.UUID
    kind: str
    event_key: str
    context: dict


def notification_record(
    *, user_id, kind: str, event_key: str, context: dict, now: datetime | None = None
) -> tuple[Notification, bool]:
    """Record that `kind` happened to the user, once per `event_key`; queue its channels after commit.

    Returns (notification, created). The same event again returns the first row and sends nothing.
    """
    ((notification, created),) = notifications_record(
        [Event(user_id=uuid.UUID(str(user_id)), kind=kind, event_key=event_key, context=context)], now=now
    )
    return notification, created


def notifications_record(events: list[Event], *, now: datetime | None = None) -> Sequence[tuple[Notification, bool]]:
    """`notification_record` for a batch (a tick batch's fired alerts) in a fixed number of statements.

    Inside the caller's transaction (a fired alert's) every round trip is on the way to the customer's
    socket, so no savepoint and no per-event statement: the rows are inserted together (a conflict on the
    unique (user, event_key) is resolved by ON CONFLICT DO NOTHING, not by catching an error), then read
    back in one query with each owner's in-app switch and unread count. After commit the new in-app rows
    go to their owners' sockets in one hop (`publish_to_users`), and one task per batch creates and sends
    their email and push deliveries (`deliveries_create`): neither the preferences of those channels nor
    the devices are read on the way to the socket.
    """
    if not events:
        return []
    now = now or timezone.now()
    candidates = []
    for event in events:
        title, body, url = render(event.kind, event.context)
        candidates.append(
            Notification(
                user_id=event.user_id,
                event_key=event.event_key[:200],
                kind=event.kind,
                category=KINDS[event.kind].category,
                title=title,
                body=body,
                url=url,
                data={k: str(v) for k, v in event.context.items() if v is not None},
                created_at=now,
            )
        )
    with transaction.atomic(savepoint=False):
        Notification.objects.bulk_create(candidates, ignore_conflicts=True)
        unread = (
            Notification.objects.filter(user_id=OuterRef("user_id"), read_at__isnull=True)
            .values("user_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        in_app_off = NotificationPreference.objects.filter(
            user_id=OuterRef("user_id"), category=OuterRef("category"), in_app=False
        )
        rows = Notification.objects.filter(
            user_id__in={c.user_id for c in candidates}, event_key__in={c.event_key for c in candidates}
        ).annotate(unread_count=Coalesce(Subquery(unread), 0), in_app_off=Exists(in_app_off))
        found = {(row.user_id, row.event_key): row for row in rows}
        results = []
        for candidate in candidates:
            row = found[(candidate.user_id, candidate.event_key)]
            results.append((row, row.pk == candidate.pk))
        created = [row for row, new in results if new]
        # In-app switched off: kept in the history, but neither counted nor pushed (read at once).
        silenced = [row for row in created if row.in_app_off]
        if silenced:
            Notification.objects.filter(pk__in=[row.pk for row in silenced]).update(read_at=now)
            for row in silenced:
                row.read_at = now
        uncounted = Counter(row.user_id for row in silenced)  # still unread when the counts were read
        pushed = [
            (row.user_id, STREAM, _created_message(row, row.unread_count - uncounted[row.user_id]))
            for row in created
            if not row.in_app_off
        ]
        if pushed:
            publish_to_users(pushed)
        if created:
            # Push may reach any kind, so every new row goes to the task; it reads the preferences and devices.
            transaction.on_commit(lambda: _queue_deliveries([str(row.pk) for row in created]), robust=True)
    return results


def _created_message(notification: Notification, unread: int) -> dict:
    return {"event": "created", "notification": notification_as_dict(notification), "unread_count": unread}


def _targets(
    notification, preference: NotificationPreference, devices: list[uuid.UUID]
) -> list[tuple[str, uuid.UUID | None]]:
    emailed = KINDS[notification.kind].email and preference.email  # security: always on (preferences_for)
    targets: list[tuple[str, uuid.UUID | None]] = [(Channel.EMAIL, None)] if emailed else []
    if preference.push:
        targets += [(Channel.PUSH, device_id) for device_id in devices]
    return targets


def deliveries_create(*, notification_ids: list, now: datetime | None = None) -> list[int]:
    """Create the email and push deliveries of these notifications by their owners' preferences, at most one per
    notification, channel and device however often this runs (unique idempotency key). Returns the deliveries
    never attempted yet, for `delivery_send`, whose claim sends each at most once even when queued twice."""
    now = now or timezone.now()
    notifications = list(Notification.objects.filter(pk__in=notification_ids).only("id", "user_id", "kind", "category"))
    preferences = preferences_for(pairs=[(n.user_id, n.category) for n in notifications])
    devices = defaultdict(list)
    pushing = {n.user_id for n in notifications if preferences[(n.user_id, n.category)].push}
    for user_id, device_id in PushDevice.objects.filter(user_id__in=pushing).values_list("user_id", "pk"):
        devices[user_id].append(device_id)
    rows = [
        Delivery(
            notification_id=notification.pk,
            channel=channel,
            device_id=device_id,
            idempotency_key=Delivery.key_for(notification.pk, channel, device_id),
            created_at=now,
        )
        for notification in notifications
        for channel, device_id in _targets(
            notification, preferences[(notification.user_id, notification.category)], devices[notification.user_id]
        )
    ]
    if not rows:
        return []
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Delivery.objects.filter(
            idempotency_key__in=[row.idempotency_key for row in rows], status=DeliveryStatus.PENDING, attempts=0
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


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


def _queue_deliveries(notification_ids: list[str]) -> None:
    task_named("notifications.tasks.deliveries_send").delay(notification_ids)


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
