from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from speedtrade import health, metrics, views
from speedtrade.api.errors import json_not_found

_docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("onboarding/", include("accounts.urls")),
    path("settings/", include("accounts.settings_urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start-up script is served as a file (the split view): no inline script even here. Both
    # docs pages style themselves inline and ReDoc parses in a blob worker: that much is allowed on them only.
    path("api/docs/", _docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
    path("api/redoc/", _docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("api/v1/", include("speedtrade.api.urls")),
    re_path(r"^api/", json_not_found),
    path("", include("alpaca_compat.marketdata_urls")),
    path("v2/", include("alpaca_compat.trading_urls")),
    path("", include("portfolios.urls")),
    path("", include("marketdata.urls")),
    path("", include("trading.urls")),
    path("", include("notifications.urls")),
    path("", include("alerts.urls")),
    path("", include("recurring.urls")),
    path("", include("documents.urls")),
]

handler404 = views.not_found
handler500 = views.server_error
