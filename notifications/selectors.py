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
    return preferences_for(pairs=[(user_id, category)])[(user_id, category)]


def preferences_for(*, pairs) -> dict[tuple, NotificationPreference]:
    """The preference of each (user_id, category) in one query: saved, else the defaults; security email always on."""
    pairs = set(pairs)
    saved = NotificationPreference.objects.filter(
        user_id__in={user_id for user_id, _ in pairs}, category__in={category for _, category in pairs}
    )
    found = {(preference.user_id, preference.category): preference for preference in saved}
    preferences = {}
    for user_id, category in pairs:
        preference = found.get((user_id, category)) or NotificationPreference(user_id=user_id, category=category)
        if category in ALWAYS_EMAILED:
            preference.email = True
        preferences[(user_id, category)] = preference
    return preferences
