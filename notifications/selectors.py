from django.db.models import QuerySet

from notifications.catalogue import ALWAYS_EMAILED, Category
from notifications.models import Notification, NotificationPreference


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user)
    return notifications.filter(read_at__isnull=True) if unread_only else notifications


def unread_count(*, user_id) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def preference_list(*, user) -> list[NotificationPreference]:
    """One preference per category, in the catalogue's order; unsaved defaults where the user chose nothing."""
    saved = {p.category: p for p in NotificationPreference.objects.filter(user=user)}
    return [saved.get(category) or NotificationPreference(user=user, category=category) for category in Category.values]


def preference_for(*, user_id, category: str) -> NotificationPreference:
    preference = NotificationPreference.objects.filter(user_id=user_id, category=category).first()
    preference = preference or NotificationPreference(user_id=user_id, category=category)
    if category in ALWAYS_EMAILED:
        preference.email = True
    return preference
