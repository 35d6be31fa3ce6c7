"""The ASGI server's Django handler is ready for a burst when it is built, not after its first request."""

from django.urls import clear_url_caches, get_resolver

from speedtrade.handlers import SyncRequestASGIHandler


def test_the_urlconf_is_imported_and_indexed_when_the_handler_is_built():
    clear_url_caches()  # as a fresh worker: no resolver yet

    SyncRequestASGIHandler()

    resolver = get_resolver()
    assert "url_patterns" in resolver.__dict__  # the URLconf module (and every view module) imported
    assert vars(resolver)["_populated"]  # reverse() needs no first request to index the names
