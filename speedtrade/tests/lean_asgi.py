"""Driving the ASGI apps in process: the lean path (`speedtrade.lean_api.LeanApi`) and Django's handler side by
side, on the test's own database connection (the request work runs in the calling thread under async_to_sync)."""

import asyncio
import json
from contextlib import contextmanager
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from speedtrade.handlers import SyncRequestASGIHandler
from speedtrade.lean_api import LeanApi
from speedtrade.loop_connections import loop_connections_close

# Set by servers, not by the application: left out of the comparison (X-Process-Time's value is a duration).
NOT_COMPARED = {b"date", b"server", b"x-process-time"}


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    by_lean: bool = False

    def header(self, name: str) -> str | None:
        return next((v.decode() for k, v in self.headers if k.lower() == name.lower().encode()), None)

    def json(self):
        return json.loads(self.body)

    def compared_headers(self) -> list[tuple[bytes, bytes]]:
        return sorted((k.lower(), v) for k, v in self.headers if k.lower() not in NOT_COMPARED)


@dataclass
class Apps:
    django: SyncRequestASGIHandler = field(default_factory=SyncRequestASGIHandler)
    fell_through: list[str] = field(default_factory=list)

    def __post_init__(self):
        async def recording_fallback(scope, receive, send):
            self.fell_through.append(scope["path"])
            await self.django(scope, receive, send)

        self.lean = LeanApi(recording_fallback)

    def request(self, app, method: str, path: str, *, headers=(), body: bytes = b"", query: str = "") -> Answer:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                *([(b"content-length", str(len(body)).encode())] if body else []),
                *((k.lower().encode(), v.encode()) for k, v in headers),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        messages: list[dict] = []
        sent_body = False

        answered = asyncio.Event()

        async def receive():
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()  # the client stays connected until it has the whole answer
            return {"type": "http.disconnect"}

        async def send(message):
            messages.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered.set()

        async def answered_then_closed() -> None:
            try:
                await app(scope, receive, send)
            finally:
                await loop_connections_close()  # async_to_sync runs each call on a new event loop

        before = len(self.fell_through)
        with _no_connection_closing():
            async_to_sync(answered_then_closed)()
        start = next(m for m in messages if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        by_lean = app is self.lean and len(self.fell_through) == before
        return Answer(start["status"], list(start["headers"]), content, by_lean)


@contextmanager
def _no_connection_closing():
    """As Django's test client: the request signals must not close the test's connection (its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
