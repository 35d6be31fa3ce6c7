import sys

from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from speedtrade.admission import overloaded_response
from speedtrade.api.errors import is_pool_timeout, json_not_found, json_server_error


def _wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/v2/", "/_allauth/"))


def not_found(request, exception=None):
    if _wants_json(request):
        return json_not_found(request)
    return page_not_found(request, exception)


def server_error(request):
    # Django calls this while handling the exception. No free database connection in time is overload, not a fault:
    # answered as the edge answers when it is full (503, Retry-After), whichever middleware or view queried first.
    if is_pool_timeout(sys.exc_info()[1]):
        return overloaded_response(request.path)
    if _wants_json(request):
        return json_server_error(request)
    return html_server_error(request)


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request):
    """Browsers ask for /favicon.ico on every page without an icon link (admin, API, allauth): the static file."""
    return redirect(static("favicon.ico"), permanent=False)
