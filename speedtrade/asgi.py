"""ASGI entry point: HTTP through admission control (speedtrade/admission.py), then the lean path for the hot API
routes and Django for the rest; WebSockets through Channels, lifespan for the in-process feed."""

import gc
import logging
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedtrade.settings")
django.setup(set_prefix=False)

from speedtrade.handlers import SyncRequestASGIHandler  # noqa: E402  (needs Django set up)

django_asgi_app = SyncRequestASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)
from django.conf import settings  # noqa: E402
from django.urls import URLResolver, get_resolver  # noqa: E402

from speedtrade.admission import Admission  # noqa: E402
from speedtrade.consumers import DirectFrames  # noqa: E402
from speedtrade.lean_api import LeanApi  # noqa: E402
from speedtrade.loop_connections import loop_connections_close  # noqa: E402
from speedtrade.process_metrics import CountedWebSockets  # noqa: E402
from speedtrade.routing import websocket_urlpatterns  # noqa: E402
from speedtrade.ws_auth import websocket_auth_stack  # noqa: E402

logger = logging.getLogger(__name__)


class LifespanHandler:
    """Starts the market-data feed (FEED_IN_PROCESS) and the periodic jobs (PERIODIC_TASKS_IN_PROCESS)
    with the server and stops them on shutdown, then closes the lean path's loop connections.

    In services mode the feed and beat are processes of their own (`make feed`, `make beat`) and this only
    acknowledges.
    """

    async def __call__(self, scope, receive, send):
        from marketdata.feeds.runner import InProcessFeed
        from speedtrade.periodic import InProcessBeat

        running: list[InProcessFeed | InProcessBeat] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if settings.FEED_IN_PROCESS:
                        running.append(await InProcessFeed.start())
                    if settings.PERIODIC_TASKS_IN_PROCESS:
                        running.append(await InProcessBeat.start())
                except Exception as exc:
                    logger.exception("The in-process feed or periodic jobs could not start.")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for service in reversed(running):
                    await service.stop()
                await loop_connections_close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def url_maps_fill(resolver: URLResolver | None = None) -> None:
    """Build every URL resolver's reverse map now, before the first request. Built lazily, each map is built again
    by every thread that asks before it is done (Django's `_populate` guards recursion per thread, not
    concurrency): a cold worker met by hundreds of concurrent requests (a restart under load) spent minutes
    building it hundreds of times over, answering nothing meanwhile."""
    resolver = resolver or get_resolver()
    resolver.reverse_dict  # noqa: B018  (the property builds the map)
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            url_maps_fill(pattern)


url_maps_fill()

application = ProtocolTypeRouter(
    {
        # Admission first: a request refused for lack of room costs nothing behind it (no auth, throttle, database).
        "http": Admission(
            LeanApi(django_asgi_app),
            limit=settings.ADMISSION_MAX_IN_FLIGHT,
            wait_seconds=settings.ADMISSION_WAIT_SECONDS,
        ),
        "websocket": DirectFrames(CountedWebSockets(websocket_auth_stack(URLRouter(websocket_urlpatterns)))),
        "lifespan": LifespanHandler(),
    }
)

# What is loaded by now lives as long as the worker: frozen, it is out of the collector's reach, so a full collection
# walks only what requests made instead of ~200,000 startup objects as well (110 ms on a quiet machine, up to 0.9 s on
# a busy one, the worker answering nothing meanwhile: order entry's p99 target is 25 ms).
gc.collect()
gc.freeze()
