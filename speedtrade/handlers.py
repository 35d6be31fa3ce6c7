"""Django's HTTP handler for this project's ASGI server, with the request work done in one thread."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.urls import get_resolver


class SyncRequestASGIHandler(ASGIHandler):
    """Runs each request's middleware and view together in the request's worker thread.

    Every middleware and view here is synchronous. Django's ASGIHandler builds an async
    middleware chain, so under it a request crosses between the event loop and a thread at
    each sync/async boundary (into the sync middleware, back to the loop for the inner
    async handler, out again for the view): several thread handoffs per request, each
    waiting for the GIL and the loop. Building the chain in sync mode leaves one crossing
    (see bench/results/changes.md, "one thread per request").

    The URLconf is loaded here too, with the application, before the server accepts a connection.
    """

    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        urlconf_load()

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def urlconf_load() -> None:
    """Import the URLconf (every view module and the SDKs they import: seconds on a busy machine) and index its
    names for reverse(). Django leaves this to the first request; a burst reaching a fresh worker then waits
    behind that one import, a thread per request contending for the GIL: the bench's first order step (50/s,
    the first requests after the stack starts) answered nothing in 10 s, and the starved workers missed
    uvicorn's 5 s health check and were restarted cold."""
    get_resolver().reverse_dict  # noqa: B018  (the property loads and indexes the URLconf)
