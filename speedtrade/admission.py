"""Admission control at the ASGI edge: at most ADMISSION_MAX_IN_FLIGHT HTTP requests in work per process.

A request beyond that waits for a place at most ADMISSION_WAIT_SECONDS, then is answered 503 with Retry-After
before anything of it runs: no body read, no authentication, no throttle or API-key budget counted, no database
connection asked for. Without it an overloaded worker queued every request (a thread each, then a wait for one
of the pool's connections) and placed orders long after their clients had given up at 10 s (issue 22: "stored
orders = 2xx answers" failed at 250–1,000 orders/s); with it a client is told "not now" within about a second
and what was answered 2xx is exactly what was done.

Not gated: WebSockets and lifespan (only the "http" route is wrapped), the health and readiness probes, the
metrics scrape and static files — what operators and the load balancer need most when the workers are busiest.
"""

import asyncio
import json
from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from prometheus_client import Counter

from alpaca_compat.errors import alpaca_code
from speedtrade.api.errors import OVERLOADED_MESSAGE, OVERLOADED_RETRY_AFTER_SECONDS, overloaded_body

requests_shed = Counter(
    "speedtrade_http_requests_shed", "HTTP requests answered 503 at the edge: no place in time (ADMISSION_*)."
)

UNGATED_PATHS = frozenset({"/health", "/ready", "/metrics", "/favicon.ico"})


class Refusals:
    """The 503 answer in the format of each part of the site, built once: the API's error format under `/api/`
    and allauth's headless `/_allauth/` (as the JSON 404 and 500 are), Alpaca's shape under `/v2/` and
    `/v1beta3/` (alpaca_compat/errors.py), the site's 503 page elsewhere."""

    def __init__(self) -> None:
        def answer(content_type: bytes, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
            headers = [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(OVERLOADED_RETRY_AFTER_SECONDS).encode()),
                (b"x-content-type-options", b"nosniff"),
            ]
            return headers, body

        json_type = b"application/json"
        self.api = answer(json_type, _compact_json(overloaded_body()))
        self.alpaca = answer(json_type, _compact_json({"code": alpaca_code(503), "message": OVERLOADED_MESSAGE}))
        self.page = answer(b"text/html; charset=utf-8", render_to_string("503.html").encode())

    def for_path(self, path: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
        if path.startswith(("/v2/", "/v1beta3/")):
            return self.alpaca
        if path.startswith(("/api/", "/_allauth/")):
            return self.api
        return self.page


@cache
def refusals() -> Refusals:
    return Refusals()


def overloaded_response(path: str) -> HttpResponse:
    """The same answer from inside Django: a page or API call whose first query found no free database connection
    in DB_POOL_TIMEOUT_SECONDS (speedtrade/views.py's server_error)."""
    headers, body = refusals().for_path(path)
    response = HttpResponse(body, status=503)
    for name, value in headers:
        if name != b"content-length":
            response[name.decode()] = value.decode()
    return response


def _compact_json(data: dict) -> bytes:
    """As DRF's JSONRenderer writes it (compact, UTF-8)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class Admission:
    """ASGI wrapper for the HTTP app: a bounded number of requests in work, the rest refused after a short wait."""

    def __init__(self, app, *, limit: int, wait_seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        refusals()  # built now: the first refusal under load costs nothing, and a template error shows at start
        self.static_prefix = settings.STATIC_URL  # read once: a settings lookup was ~1 % of a request's GIL time
        self._places: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send) -> None:
        if self.limit <= 0 or scope["type"] != "http" or not self.gated(scope["path"]):
            return await self.app(scope, receive, send)
        places = self._places_of_this_loop()
        if places.locked():
            try:
                await asyncio.wait_for(places.acquire(), self.wait_seconds)
            except TimeoutError:
                requests_shed.inc()
                headers, body = refusals().for_path(scope["path"])
                await send({"type": "http.response.start", "status": 503, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        else:
            await places.acquire()  # a free place: taken at once
        try:
            await self.app(scope, receive, send)
        finally:
            places.release()

    def gated(self, path: str) -> bool:
        return path not in UNGATED_PATHS and not path.startswith(self.static_prefix)

    def _places_of_this_loop(self) -> asyncio.Semaphore:
        """A worker serves from one event loop; tests drive the app from a new loop each time, and an asyncio
        semaphore that ever made a request wait belongs to the loop it waited on."""
        loop = asyncio.get_running_loop()
        if self._places is None or self._loop is not loop:
            self._places, self._loop = asyncio.Semaphore(self.limit), loop
        return self._places
