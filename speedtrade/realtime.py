"""Pushing events to users over WebSockets.

Every message is sent only after the database transaction that caused it commits,
so a rolled-back change never announces anything.
"""

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from functools import partial

from channels.layers import get_channel_layer
from django.db import transaction

from speedtrade.announcements import (
    USER_PUSH,
    Announcement,
    announce,
    announced_all_now,
    announced_now,
    announcements_gathered,
)

SEND_TIMEOUT_SECONDS = 10


class ChannelLayerSender:
    """Channel-layer sends from synchronous code, through one event loop per process.

    `async_to_sync` called from a thread that no server event loop owns (a Celery worker,
    a management command) starts a new thread and event loop per call, and channels-redis
    opens its connections per loop: a new Redis connection for every message. This keeps
    one loop in a daemon thread (started again after a fork: Celery's prefork children) so
    the layer's connection pool lives as long as the process. Each send is waited for, so
    one thread's messages reach the group in the order they were sent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, name="channel-layer-sender", daemon=True).start()
            return self._loop

    def group_send(self, group: str, message: dict) -> None:
        self.group_send_many([(group, message)])

    def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """Send (group, message) pairs in one hop to the loop, each group's in the given order: through the Redis
        layer in two round trips for the whole batch (`speedtrade.channel_layer`), through another layer (the
        embedded default's in-memory one) group by group, the groups concurrently."""

        async def send_all() -> None:
            layer = get_channel_layer()
            if hasattr(layer, "group_send_many"):
                await layer.group_send_many(messages)
                return
            by_group: dict[str, list[dict]] = {}
            for group, message in messages:
                by_group.setdefault(group, []).append(message)

            async def send_in_order(group: str, queued: list[dict]) -> None:
                for message in queued:
                    await layer.group_send(group, message)

            await asyncio.gather(*(send_in_order(group, queued) for group, queued in by_group.items()))

        asyncio.run_coroutine_threadsafe(send_all(), self._running_loop()).result(SEND_TIMEOUT_SECONDS)


sender = ChannelLayerSender()


def user_group(user_id: uuid.UUID | str) -> str:
    return f"user.{uuid.UUID(str(user_id)).hex}"


def send_to_user_now(user_id, stream: str, data: dict) -> None:
    send_to_users_now([(user_id, stream, data)])


_gathering = threading.local()


@contextlib.contextmanager
def sends_gathered(handed_to: Callable[[Callable[[], None]], object] | None = None) -> Iterator[None]:
    """Pushes sent in this thread inside the block (after-commit hooks of the transactions it runs) go
    out together when it ends: one hop and one channel-layer batch for a batch of orders committed
    together (the order engine), instead of one per event. Just before, the block's announcements reach
    the subscribers together (`announcements_gathered`: one notification task per batch; what a subscriber
    pushes joins the batch). Only committed changes ever reach the hooks, so nothing gathered here can
    belong to a rollback. Nested blocks send with the outermost.

    With `handed_to`, the block ends by handing it the sending, one call to make later (the order engine makes
    it in a thread of its own and begins its next batch meanwhile): calls made in the order handed keep each
    user's pushes in the order committed."""
    if getattr(_gathering, "events", None) is not None:
        yield
        return
    announcements: list[Announcement] = []
    _gathering.events = []
    try:
        with announcements_gathered(announcements.extend):
            yield
    finally:
        events, _gathering.events = _gathering.events, None
        if events or announcements:
            sending = partial(_gathered_send, announcements, events)
            sending() if handed_to is None else handed_to(sending)


def _gathered_send(announcements: list[Announcement], events: list[tuple]) -> None:
    """The subscribers told of the block's announcements in one call (what they push joins `events`), then the
    pushes in one batch."""
    _gathering.events = events
    try:
        announced_all_now(announcements)
    finally:
        _gathering.events = None
    send_to_users_now(events)


def send_to_users_now(events: list[tuple]) -> None:
    gathered = getattr(_gathering, "events", None)
    if gathered is not None:
        gathered.extend(events)
        return
    sender.group_send_many(user_messages(events))


def user_messages(events: list[tuple]) -> list[tuple[str, dict]]:
    """(group, message) per user: one `user.event`, or one `user.events` carrying all of that user's events in
    order. Every channel-layer message costs its receiving server four Redis round trips, on one receive loop
    per process: an engine batch's pending_new, accepted, fill and account update of each order sent one by one
    queued up there (and past the channel's capacity, were dropped); bundled, a batch is one message per user."""
    by_user: dict = {}
    for user_id, stream, data in events:
        by_user.setdefault(user_id, []).append({"type": "user.event", "stream": stream, "data": data})
    return [
        (user_group(user_id), queued[0] if len(queued) == 1 else {"type": "user.events", "events": queued})
        for user_id, queued in by_user.items()
    ]


def user_events_of(message: dict) -> list[dict]:
    """The `user.event` messages a `user.event` or `user.events` message carries, in order."""
    return message["events"] if message["type"] == "user.events" else [message]


class UserEventsReceiver:
    """For consumers in a user's group: a bundle (`user.events`) is handled as its events one by one."""

    async def user_event(self, event: dict) -> None:
        raise NotImplementedError

    async def user_events(self, bundle: dict) -> None:
        for event in bundle["events"]:
            await self.user_event(event)


async def send_to_users_async(events: list[tuple]) -> None:
    """`send_to_users_now` from code running on an event loop (the lean path's order, past its commit), then the
    announcement subscribers as `publish_to_users` tells them: no thread, the layer's connections of this loop."""
    layer = get_channel_layer()
    messages = user_messages(events)
    if hasattr(layer, "group_send_many"):
        await layer.group_send_many(messages)
    else:
        for group, message in messages:
            await layer.group_send(group, message)
    _sent_announce(events)


def send_to_users_queue(pipeline, redis_url: str, events: list[tuple]) -> Callable[[list], None] | None:
    """`send_to_users_async` queued on the caller's pipeline to the Redis at `redis_url`, to go out with the caller's
    own commands (the lean path's order: its trade update with the engine's wake); the returned function takes the
    pipeline's replies and announces. None where the channel layer cannot send that way (another Redis, several,
    or encrypted messages): `send_to_users_async` then."""
    layer = get_channel_layer()
    if not getattr(layer, "group_sends_in_script", False) or layer.hosts[0].get("address") != redis_url:
        return None
    sent = layer.group_send_many_queue(pipeline, user_messages(events))

    def announce_sent(replies: list) -> None:
        sent(replies)
        _sent_announce(events)

    return announce_sent


def _sent_announce(events: list[tuple]) -> None:
    with announcements_gathered():  # no await inside: only these events' announcements are gathered
        for user_id, stream, data in events:
            announced_now(USER_PUSH, user_push_payload(user_id, stream, data))


def user_push_payload(user_id, stream: str, data: dict) -> dict:
    return {"user_id": str(user_id), "stream": stream, "data": data}


def publish_to_user(user_id, stream: str, data: dict) -> None:
    """Queue `data` for the user's sockets on `stream` once the current transaction commits."""
    publish_to_users([(user_id, stream, data)])


def publish_to_users(events: list[tuple]) -> None:
    """`publish_to_user` for a batch of (user_id, stream, data): sent together after commit, in one hop."""
    transaction.on_commit(lambda: send_to_users_now(events), robust=True)
    for user_id, stream, data in events:
        announce(USER_PUSH, user_push_payload(user_id, stream, data))


def sockets_group(user_id: uuid.UUID | str) -> str:
    """Every authenticated socket of the user, whatever it streams (speedtrade.consumers.GuardedSocket)."""
    return f"sockets.{uuid.UUID(str(user_id)).hex}"


def sockets_close(user_id, *, everything: bool = False, session_key: str | None = None, api_key_id: str | None = None):
    """Once the current transaction commits, close the user's sockets that this session or key authenticated
    (or all of them): a revoked credential must not keep streaming."""
    message = {
        "type": "credentials.revoked",
        "everything": everything,
        "session_key": session_key,
        "api_key_id": api_key_id,
    }
    transaction.on_commit(lambda: sender.group_send(sockets_group(user_id), message), robust=True)
