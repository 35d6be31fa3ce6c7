"""`/api/v1/`: every app's API routes under one prefix."""

from django.urls import include, path, re_path

from speedtrade.api.errors import json_not_found

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("marketdata.api.urls")),
    path("", include("portfolios.api.urls")),
    path("", include("trading.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("recurring.api.urls")),
    path("", include("documents.api.urls")),
    re_path(r"^.*$", json_not_found),
]
