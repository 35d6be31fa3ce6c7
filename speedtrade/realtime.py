"""Pushing events to users over WebSockets.

Every message is sent only after the database transaction that caused it commits,
so a rolled-back change never announces anything.
"""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: uuid.UUID | str) -> str:
    return f"user.{uuid.UUID(str(user_id)).hex}"


def send_to_user_now(user_id, stream: str, data: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(
        user_group(user_id), {"type": "user.event", "stream": stream, "data": data}
    )


def publish_to_user(user_id, stream: str, data: dict) -> None:
    """Queue `data` for the user's sockets on `stream` once the current transaction commits."""
    transaction.on_commit(lambda: send_to_user_now(user_id, stream, data), robust=True)
