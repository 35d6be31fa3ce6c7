from django.contrib import admin

from notifications.models import Delivery, Notification
from speedtrade.admin import ReadOnlyAdmin


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Read-only: support sees what a customer was told and when."""

    list_display = ["created_at", "kind", "title", "user", "read_at"]
    list_filter = ["category", "kind"]
    search_fields = ["user__email", "event_key"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Read-only: a delivery left `sending` lost its worker mid-send and was deliberately not resent."""

    list_display = ["created_at", "channel", "status", "attempts", "last_error", "notification"]
    list_filter = ["channel", "status"]
    search_fields = ["idempotency_key", "notification__user__email"]
