from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications", views.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/unread-count", views.NotificationUnreadCountView.as_view(), name="api-notifications-unread"),
    path("notifications/read", views.NotificationReadView.as_view(), name="api-notifications-read"),
    path(
        "notifications/<uuid:notification_id>/read",
        views.NotificationMarkOneReadView.as_view(),
        name="api-notification-read",
    ),
    path("notification-preferences", views.PreferenceListView.as_view(), name="api-notification-preferences"),
    path(
        "notification-preferences/<str:category>",
        views.PreferenceDetailView.as_view(),
        name="api-notification-preference",
    ),
    path("devices", views.DeviceListView.as_view(), name="api-devices"),
    path("devices/webpush-key", views.WebPushKeyView.as_view(), name="api-devices-webpush-key"),
    path("devices/<uuid:device_id>", views.DeviceDetailView.as_view(), name="api-device"),
]
