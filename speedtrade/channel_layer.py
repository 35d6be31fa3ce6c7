"""The Redis channel layer, with a `receive` that always ends when its task is cancelled.

channels-redis receives in a loop of 5 s blocking pops (`receive_single`). On Python 3.11 a
cancellation that lands while redis-py's `asyncio.wait_for` finishes a command is swallowed
(see speedtrade/cancellation.py): the loop then pops again, and again, forever. Every
consumer's channel and the quote hub's listener wait in that loop, so one lost cancellation
left a server's shutdown — or pytest-asyncio closing a test's event loop — waiting forever.
Here the receive runs in its own task and a cancellation of the caller is repeated on that task
until it has really ended — even when the caller is cancelled again meanwhile.
"""

import asyncio

from channels_redis.core import RedisChannelLayer

from speedtrade.cancellation import cancel_and_wait


class CancellableRedisChannelLayer(RedisChannelLayer):
    async def receive(self, channel):
        receiving = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(receiving)
        except asyncio.CancelledError:
            # A message the receive had already taken stays in channels-redis's backup queue.
            while not receiving.done():
                try:
                    await cancel_and_wait([receiving])
                except asyncio.CancelledError:
                    # Cancelled again while waiting (channels' await_many_dispatch cancels its tasks once
                    # more on the way out): the inner receive must still end before this does.
                    continue
            raise
