"""A web worker is ready for a crowd from its first request: what Django builds lazily on the first request and
rebuilds in every thread that asks meanwhile is built when the ASGI app loads (issue 22: a worker restarted under
250 orders/s answered nothing for minutes, each of hundreds of threads building the URL maps again)."""

from speedtrade.tests.test_settings_modes import DEVELOPMENT, run

URL_MAPS_BUILT = """
import speedtrade.asgi
from django.urls import URLResolver, get_resolver

def unbuilt(resolver):
    missing = [] if resolver._populated else [str(resolver.pattern)]
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            missing += unbuilt(pattern)
    return missing

print(unbuilt(get_resolver()))
"""


def test_every_url_map_is_built_before_a_worker_serves():
    result = run(DEVELOPMENT, "-c", URL_MAPS_BUILT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
