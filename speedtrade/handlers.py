"""Django's HTTP handler for this project's ASGI server, with the request work done in one thread."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class SyncRequestASGIHandler(ASGIHandler):
    """Runs each request's middleware and view together in the request's worker thread.

    Every middleware and view here is synchronous. Django's ASGIHandler builds an async
    middleware chain, so under it a request crosses between the event loop and a thread at
    each sync/async boundary (into the sync middleware, back to the loop for the inner
    async handler, out again for the view): several thread handoffs per request, each
    waiting for the GIL and the loop. Building the chain in sync mode leaves one crossing
    (see bench/results/changes.md, "one thread per request").
    """

    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
