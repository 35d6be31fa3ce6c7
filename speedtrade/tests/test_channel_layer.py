"""The Redis channel layer keeps idle WebSocket consumers alive."""

from channels.layers import get_channel_layer


async def test_redis_reads_outlast_the_channel_layers_blocking_pop():
    # A consumer with nothing to receive sits in BZPOPMIN for `brpop_timeout` seconds; a
    # shorter socket read timeout turned that quiet wait into a TimeoutError that closed it.
    layer = get_channel_layer()
    pool = layer.connection(0).connection_pool
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout


async def test_sync_code_reaches_a_users_sockets_in_the_order_it_sent():
    """What a Celery worker does after each commit: many sends from plain threads, one loop and pool between them."""
    import asyncio
    import uuid

    from speedtrade.realtime import send_to_user_now, sender, user_group

    layer = get_channel_layer()
    user_id = uuid.uuid4()
    channel = await layer.new_channel()
    await layer.group_add(user_group(user_id), channel)

    def worker_sends():
        for sequence in range(30):
            send_to_user_now(user_id, "trade_updates", {"sequence": sequence})

    await asyncio.to_thread(worker_sends)
    received = [(await layer.receive(channel))["data"]["sequence"] for _ in range(30)]
    assert received == list(range(30))
    loop_before = sender._running_loop()
    await asyncio.to_thread(send_to_user_now, user_id, "trade_updates", {"sequence": 30})
    assert sender._running_loop() is loop_before  # the same loop (and its Redis pool) for every send
    assert (await layer.receive(channel))["data"]["sequence"] == 30


async def _receive_swallowing_one_cancellation(self, channel):
    """channels-redis's receive as it behaves when redis-py's `wait_for` swallows a cancellation (Python 3.11)."""
    import asyncio

    swallowed = False
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True


async def test_a_cancelled_receive_ends_even_when_redis_py_swallows_the_cancellation(monkeypatch):
    # Every consumer and the quote hub wait in receive(); one lost cancellation used to leave a
    # server shutdown (or pytest-asyncio closing a test's loop) waiting forever.
    import asyncio

    from channels_redis.core import RedisChannelLayer

    monkeypatch.setattr(RedisChannelLayer, "receive", _receive_swallowing_one_cancellation)
    layer = get_channel_layer()
    receiving = asyncio.create_task(layer.receive(await layer.new_channel()))
    await asyncio.sleep(0.05)

    receiving.cancel()
    done, _ = await asyncio.wait([receiving], timeout=3)

    assert receiving in done and receiving.cancelled()
