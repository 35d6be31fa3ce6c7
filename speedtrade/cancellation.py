"""Stopping asyncio tasks for sure (feeds, venue streams, channel-layer receives), even when a library
swallows the cancellation.

On Python 3.11, `asyncio.wait_for` drops a cancellation that arrives while the
operation it waits for has just finished (CPython gh-86296, fixed in 3.12 where
`wait_for` is built on `asyncio.timeout`). redis-py sends every command through
`wait_for` (its default `socket_timeout` is 5 s), so a task cancelled while
publishing a tick through channels-redis often never sees the CancelledError and
keeps streaming: one `task.cancel()` and an `await` can then hang forever. We
repeat the cancellation until the task has really ended.
"""

import asyncio
from collections.abc import Iterable

# How long a cancelled task gets to unwind before it is cancelled again.
RECANCEL_AFTER_SECONDS = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel the tasks and return once every one has ended (results and exceptions are discarded)."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_AFTER_SECONDS)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
