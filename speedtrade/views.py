from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from speedtrade.api.errors import json_not_found, json_server_error


def _wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/v2/", "/_allauth/"))


def not_found(request, exception=None):
    if _wants_json(request):
        return json_not_found(request)
    return page_not_found(request, exception)


def server_error(request):
    if _wants_json(request):
        return json_server_error(request)
    return html_server_error(request)


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request):
    """Browsers ask for /favicon.ico on every page without an icon link (admin, API, allauth): the static file."""
    return redirect(static("favicon.ico"), permanent=False)
