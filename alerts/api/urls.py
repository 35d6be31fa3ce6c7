from django.urls import path

from alerts.api import views

urlpatterns = [
    path("alerts", views.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<uuid:alert_id>", views.AlertDetailView.as_view(), name="api-alert"),
]
