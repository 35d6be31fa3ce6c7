from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/", views.alerts_page, name="alerts"),
    path("alerts/<uuid:alert_id>/cancel/", views.alert_cancel, name="alert_cancel"),
]
