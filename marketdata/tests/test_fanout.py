"""The per-process quote hub stops when its task is cancelled, whatever the channel layer swallowed."""

import asyncio

from channels.layers import get_channel_layer

from marketdata.fanout import QuoteHub


async def test_the_hub_stops_when_cancelled_even_if_joining_swallowed_the_cancellation(monkeypatch):
    # On Python 3.11 redis-py's wait_for can finish a command and drop the CancelledError that
    # arrived meanwhile: group_add then returns normally into a hub that must stop anyway.
    layer = get_channel_layer()
    entered = asyncio.Event()

    async def group_add_swallowing_the_cancellation(group, channel):
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return

    monkeypatch.setattr(layer, "group_add", group_add_swallowing_the_cancellation)
    hub = QuoteHub()
    listening = asyncio.create_task(hub._listen())
    await entered.wait()

    listening.cancel()
    done, _ = await asyncio.wait([listening], timeout=3)

    assert listening in done and listening.cancelled()
