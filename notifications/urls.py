from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_centre, name="notification-centre"),
    path("notifications/read/", views.notifications_mark_read, name="notifications-mark-read"),
    path("notifications/badge/", views.unread_badge, name="notifications-badge"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification-unsubscribe"),
    path("settings/notifications/", views.preferences, name="notification-preferences-page"),
    path("service-worker.js", views.service_worker, name="service-worker"),
]
