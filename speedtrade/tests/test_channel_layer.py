"""The Redis channel layer keeps idle WebSocket consumers alive."""

import time

from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st


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


async def test_a_batch_reaches_each_users_sockets_in_order_in_one_send():
    """A tick batch's fired alerts: every user's messages in the order given, the users concurrently, each
    user's as one channel-layer message (its socket's server pays Redis round trips per message)."""
    import asyncio
    import uuid

    from speedtrade.realtime import send_to_users_now, user_events_of, user_group

    layer = get_channel_layer()
    users = [uuid.uuid4() for _ in range(3)]
    channels = {}
    for user_id in users:
        channels[user_id] = await layer.new_channel()
        await layer.group_add(user_group(user_id), channels[user_id])

    await asyncio.to_thread(
        send_to_users_now, [(user_id, "notifications", {"sequence": n}) for n in range(10) for user_id in users]
    )

    for user_id in users:
        bundle = await layer.receive(channels[user_id])
        assert [event["data"]["sequence"] for event in user_events_of(bundle)] == list(range(10))


async def _receive_swallowing_two_cancellations(self, channel):
    """channels-redis's receive as it behaves when redis-py's `wait_for` swallows cancellations (Python 3.11)."""
    import asyncio

    swallowed = 0
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed == 2:
                raise
            swallowed += 1


async def test_a_cancelled_receive_ends_even_when_redis_py_swallows_the_cancellation(monkeypatch):
    # Every consumer and the quote hub wait in receive(); one lost cancellation used to leave a
    # server shutdown (or pytest-asyncio closing a test's loop) waiting forever.
    import asyncio

    from channels_redis.core import RedisChannelLayer

    monkeypatch.setattr(RedisChannelLayer, "receive", _receive_swallowing_two_cancellations)
    layer = get_channel_layer()
    receiving = asyncio.create_task(layer.receive(await layer.new_channel()))
    await asyncio.sleep(0.05)

    receiving.cancel()
    done, _ = await asyncio.wait([receiving], timeout=3)

    assert receiving in done and receiving.cancelled()


async def test_a_receive_cancelled_twice_still_waits_for_the_inner_receive_to_end(monkeypatch):
    # What closing a test's loop does to a consumer: every task is cancelled once, then channels'
    # await_many_dispatch cancels its channel receive again on the way out. The first version gave up
    # on the second cancellation and left the inner receive running: pytest-asyncio then waited forever.
    import asyncio

    from channels_redis.core import RedisChannelLayer

    monkeypatch.setattr(RedisChannelLayer, "receive", _receive_swallowing_two_cancellations)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    before = asyncio.all_tasks()
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)

    receiving.cancel()
    await asyncio.sleep(0.01)
    receiving.cancel()
    done, _ = await asyncio.wait([receiving], timeout=3)

    assert receiving in done and receiving.cancelled()
    assert {task for task in asyncio.all_tasks() - before if not task.done()} == set()  # the inner receive too


async def test_a_processs_waiting_messages_reach_each_of_its_sockets_in_order():
    """A server process's sockets share one Redis channel, read in batches: every message still goes to its
    own socket, each socket's in the order sent, including those sent while earlier ones were being handed out."""
    layer = get_channel_layer()
    sockets = [await layer.new_channel() for _ in range(3)]
    for n in range(30):
        await layer.send(sockets[n % 3], {"type": "user.event", "n": n})
    received = {socket: [] for socket in sockets}
    for _ in range(10):
        for socket in sockets:
            received[socket].append((await layer.receive(socket))["n"])
    await layer.send(sockets[0], {"type": "user.event", "n": 30})
    assert (await layer.receive(sockets[0]))["n"] == 30
    assert received == {socket: list(range(i, 30, 3)) for i, socket in enumerate(sockets)}


async def test_group_members_of_a_killed_process_or_an_ended_consumer_expire_while_live_ones_stay(settings):
    """A web process killed without closing its sockets leaves their channels in `user.*` groups: every push to
    the user was still written to the dead process's channel key for a day. Live processes now join their
    channels again every third of `group_expiry`, so only the dead (and consumers that ended without leaving)
    drop out."""
    import asyncio
    import uuid

    from speedtrade.channel_layer import CancellableRedisChannelLayer

    def process_layer() -> CancellableRedisChannelLayer:  # one per server process, a short expiry for the test
        return CancellableRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=f"t{uuid.uuid4().hex}", group_expiry=2)

    live = process_layer()
    killed = process_layer()
    killed.prefix = live.prefix  # the same deployment: the same keys
    group = f"user.{uuid.uuid4().hex}"
    socket, ended = await live.new_channel(), await live.new_channel()
    await live.group_add(group, socket)
    await live.group_add(group, ended)
    live.channel_forget(ended)  # its consumer ended in an exception, before leaving the group
    orphan = await killed.new_channel()
    # Joined on a loop that ends with the call, as the process's does when it is killed: nobody joins it again.
    await asyncio.to_thread(asyncio.run, killed.group_add(group, orphan))

    await live.group_send(group, {"type": "user.event", "n": 1})
    assert [
        (await layer.receive(channel))["n"] for layer, channel in ((live, socket), (live, ended), (killed, orphan))
    ] == [1, 1, 1]

    await asyncio.sleep(3 * live.group_expiry)  # past the expiry: the live socket has been joined again meanwhile
    await live.group_send(group, {"type": "user.event", "n": 2})

    assert (await asyncio.wait_for(live.receive(socket), 30))["n"] == 2  # (without the refresh it had expired too)
    for layer, channel in ((live, ended), (killed, orphan)):
        waiting = await layer.connection(0).zcard(layer.prefix + layer.non_local_name(channel))
        assert waiting == 0  # nothing more was written for them


_message_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=40) | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(
    members=st.lists(
        st.tuples(
            st.sampled_from(["specific.p1!", "specific.p2!", "plain."]), st.text("abcdef", min_size=1, max_size=6)
        ),
        max_size=8,
        unique=True,
    ),
    waiting=st.integers(0, 4),
    messages=st.lists(
        st.tuples(
            st.sampled_from(["user.a", "user.b"]),
            st.dictionaries(st.text("xyz_", min_size=1, max_size=6), _message_values, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_group_send_in_one_script_stores_what_channels_redis_stores(members, waiting, messages):
    """`group_send_many` in one Redis script (`group_send_many_queue`) against channels-redis's own `group_send`,
    message by message: the same bytes (less the random prefix) in each member's channel key, in the same order,
    the same capacities by name (`specific.*` and the default) and expired messages dropped alike."""
    import asyncio
    import uuid

    from speedtrade.channel_layer import CancellableRedisChannelLayer

    def layer() -> CancellableRedisChannelLayer:
        return CancellableRedisChannelLayer(
            hosts=[django_settings.REDIS_URL],
            prefix=f"t{uuid.uuid4().hex}",
            capacity=2,
            channel_capacity={"specific.*": 3},
        )

    async def stored(layer: CancellableRedisChannelLayer, send) -> dict[str, list[bytes]]:
        client = layer.connection(0)
        channels = [f"{kind}{name}" for kind, name in members]
        for group in ("user.a", "user.b"):
            for channel in channels:
                await layer.group_add(group, channel)
        keys = {layer.prefix + layer.non_local_name(channel) for channel in channels}
        for n, key in enumerate(sorted(keys)):  # some waiting already, one of them expired
            for k in range(waiting):
                await client.zadd(key, {f"waiting{k}".encode(): time.time() - (layer.expiry + 5 if k == n else 0)})
        await send(layer)
        found = {
            key.removeprefix(layer.prefix): [
                message if message.startswith(b"waiting") else message[layer._serializer.random_prefix_length :]
                for message in await client.zrange(key, 0, -1)
            ]
            for key in keys
        }
        await client.delete(*keys, *(layer._group_key(group) for group in ("user.a", "user.b")))
        await layer.connection(0).aclose()
        return found

    async def one_by_one(layer) -> None:
        for group, message in messages:
            await layer.group_send(group, {"type": "user.event", **message})

    async def in_script(layer) -> None:
        assert layer.group_sends_in_script
        await layer.group_send_many([(group, {"type": "user.event", **message}) for group, message in messages])

    assert asyncio.run(stored(layer(), in_script)) == asyncio.run(stored(layer(), one_by_one))
