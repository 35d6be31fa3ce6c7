"""After-commit subscribers to what the apps already announce.

Two announcements exist: a push to a user's sockets (`realtime.publish_to_user`: trade and
account updates) and an audit event (`accounts.audit.audit_event_record`). Apps that react
to them (notifications) are listed in `ANNOUNCEMENT_SUBSCRIBERS` and called with
`(kind, payload)` once the announcing transaction commits — never inside it, so a failing
subscriber can neither roll back nor slow the change it hears about (robust: its exception is
logged, not raised).
"""

import logging
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

USER_PUSH = "user_push"  # payload: {"user_id", "stream", "data"}
AUDIT_EVENT = "audit_event"  # payload: {"action", "subject_user_id", "target_type", "target_id", "after", "actor_type"}


@cache
def _subscribers(paths: tuple[str, ...]) -> tuple:
    return tuple(import_string(path) for path in paths)


def announced_now(kind: str, payload: dict) -> None:
    """`announce` for a caller already past its commit (the lean path's order, written on its own connection): every
    subscriber now, each one's error logged as a robust on-commit callback's is, never raised."""
    for subscriber in _subscribers(tuple(settings.ANNOUNCEMENT_SUBSCRIBERS)):
        try:
            subscriber(kind, payload)
        except Exception as error:
            logger.exception("Error calling %s after commit (%s).", subscriber.__qualname__, error)


def announce(kind: str, payload: dict) -> None:
    """Call every subscriber with (kind, payload) after the current transaction commits."""
    for subscriber in _subscribers(tuple(settings.ANNOUNCEMENT_SUBSCRIBERS)):
        # A plain function, not functools.partial: a robust callback's error log names it by __qualname__.
        def call(subscriber=subscriber) -> None:
            subscriber(kind, payload)

        transaction.on_commit(call, robust=True)
