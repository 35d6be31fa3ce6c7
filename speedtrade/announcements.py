"""After-commit subscribers to what the apps already announce.

Two announcements exist: a push to a user's sockets (`realtime.publish_to_user`: trade and
account updates) and an audit event (`accounts.audit.audit_event_record`). Apps that react
to them (notifications) are listed in `ANNOUNCEMENT_SUBSCRIBERS` and called with a list of
`(kind, payload)` once the announcing transaction commits — never inside it, so a failing
subscriber can neither roll back nor slow the change it hears about (its exception is logged,
not raised). Usually the list holds one announcement; inside `announcements_gathered()` (the
order engine's batch) it holds every announcement the block's commits made, so a subscriber
can answer a batch of fills with one task instead of one per fill.
"""

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

USER_PUSH = "user_push"  # payload: {"user_id", "stream", "data"}
AUDIT_EVENT = "audit_event"  # payload: {"action", "subject_user_id", "target_type", "target_id", "after", "actor_type"}

Announcement = tuple[str, dict]  # (kind, payload)

_gathering = threading.local()


@cache
def _subscribers(paths: tuple[str, ...]) -> tuple:
    return tuple(import_string(path) for path in paths)


@contextlib.contextmanager
def announcements_gathered(handed_to: Callable[[list[Announcement]], object] | None = None) -> Iterator[None]:
    """Announcements whose transactions commit in this thread inside the block reach the subscribers together
    when it ends, in one call (or go to `handed_to`, to be announced later: `realtime.sends_gathered`). Only
    committed ones are gathered (the commit hooks gather them), so nothing here belongs to a rollback. Nested
    blocks deliver with the outermost."""
    if getattr(_gathering, "announcements", None) is not None:
        yield
        return
    _gathering.announcements = []
    try:
        yield
    finally:
        announcements, _gathering.announcements = _gathering.announcements, None
        if announcements:
            (handed_to or _deliver)(announcements)


def _deliver(announcements: list[Announcement]) -> None:
    gathered = getattr(_gathering, "announcements", None)
    if gathered is not None:
        gathered.extend(announcements)
        return
    for subscriber in _subscribers(tuple(settings.ANNOUNCEMENT_SUBSCRIBERS)):
        try:
            subscriber(announcements)
        except Exception as error:
            logger.exception("Error calling %s after commit (%s).", subscriber.__qualname__, error)


def announced_now(kind: str, payload: dict) -> None:
    """`announce` for a caller already past its commit (the lean path's order, written on its own connection): the
    subscribers now (or at the end of the gathering block), each one's error logged, never raised."""
    announced_all_now([(kind, payload)])


def announced_all_now(announcements: list[Announcement]) -> None:
    """`announced_now` for several: each subscriber called once with all of them."""
    _deliver(announcements)


def announce(kind: str, payload: dict) -> None:
    """Tell every subscriber (kind, payload) after the current transaction commits."""
    transaction.on_commit(lambda: _deliver([(kind, payload)]), robust=True)
