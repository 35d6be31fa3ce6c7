"""The engine's wake from the lean path's event loop (trading/queueing.py `EngineWaker`): every order committed
is followed by a wake sent after its commit, and the orders committed while one is on its way share one more."""

import asyncio
import uuid

from django.conf import settings
from redis import asyncio as aioredis

from trading.queueing import ENGINE_WAKE_CHANNEL, EngineWaker


async def _received(wakes) -> int:
    count = 0
    while await wakes.get_message(timeout=0.5) is not None:
        count += 1
    return count


def test_orders_committed_while_a_wake_is_on_its_way_share_one_more():
    async def run() -> tuple[int, int]:
        client, listener = aioredis.Redis.from_url(settings.REDIS_URL), aioredis.Redis.from_url(settings.REDIS_URL)
        wakes = listener.pubsub()
        await wakes.subscribe(ENGINE_WAKE_CHANNEL)
        assert (await wakes.get_message(timeout=5))["type"] == "subscribe"
        try:
            waker = EngineWaker()
            await asyncio.gather(*(waker.wake(client) for _ in range(50)))  # fifty orders committed at once
            burst = await _received(wakes)
            await waker.wake(client)  # one more, once the engine has been woken
            return burst, await _received(wakes)
        finally:
            await wakes.aclose()
            await client.aclose()
            await listener.aclose()

    burst, later = asyncio.run(run())
    # The first order's wake, then one sent after it for the 49 committed while it was on its way (one of them
    # may have been sent before their commits); a later order gets its own.
    assert (burst, later) == (2, 1)


def test_a_wake_goes_out_with_the_callers_commands_and_still_covers_the_orders_committed_meanwhile():
    """The lean order's trade update rides in the wake's round trip: every order's commands are executed once and
    their replies handed back (without the wake's), and the wakes are counted as without them."""

    async def run() -> tuple[list, int, int, int]:
        client, listener = aioredis.Redis.from_url(settings.REDIS_URL), aioredis.Redis.from_url(settings.REDIS_URL)
        wakes = listener.pubsub()
        await wakes.subscribe(ENGINE_WAKE_CHANNEL)
        assert (await wakes.get_message(timeout=5))["type"] == "subscribe"
        counter = f"test:wake-with:{uuid.uuid4().hex}"
        try:
            waker = EngineWaker()

            async def order_committed() -> list | None:
                pipeline = client.pipeline(transaction=False)
                pipeline.incr(counter)
                return await waker.wake(client, with_commands=pipeline)

            replies = await asyncio.gather(*(order_committed() for _ in range(50)))
            burst = await _received(wakes)
            await order_committed()
            return replies, burst, await _received(wakes), int(await client.get(counter))
        finally:
            await client.delete(counter)
            await wakes.aclose()
            await client.aclose()
            await listener.aclose()

    replies, burst, later, executed = asyncio.run(run())
    assert sorted(reply[0] for reply in replies) == list(range(1, 51)) and all(len(reply) == 1 for reply in replies)
    assert (burst, later, executed) == (2, 1, 51)
