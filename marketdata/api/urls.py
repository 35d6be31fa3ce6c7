from django.urls import path

from marketdata.api import views

urlpatterns = [
    path("assets", views.AssetListView.as_view(), name="api-assets"),
    path("assets/<path:symbol_or_id>", views.AssetDetailView.as_view(), name="api-asset"),
    path("clock", views.ClockView.as_view(), name="api-clock"),
    path("calendar", views.CalendarView.as_view(), name="api-calendar"),
    path("quotes", views.QuotesView.as_view(), name="api-quotes"),
    path("snapshots", views.SnapshotsView.as_view(), name="api-snapshots"),
    path("bars/<path:symbol>", views.BarsView.as_view(), name="api-bars"),
]
