"""The Redis channel layer, with a `receive` that always ends when its task is cancelled.

channels-redis receives in a loop of 5 s blocking pops (`receive_single`). On Python 3.11 a
cancellation that lands while redis-py's `asyncio.wait_for` finishes a command is swallowed
(see speedtrade/cancellation.py): the loop then pops again, and again, forever. Every
consumer's channel and the quote hub's listener wait in that loop, so one lost cancellation
left a server's shutdown — or pytest-asyncio closing a test's event loop — waiting forever.
Here the receive runs in its own task and a cancellation of the caller is repeated on that task
until it has really ended — even when the caller is cancelled again meanwhile.

A process's channel — every socket of a server process and its quote hub share it — is read in batches: all the
messages waiting in one round trip, instead of four round trips per message (`_brpop_with_clean`).

Group members expire `group_expiry` after they last joined (CHANNEL_LAYER_GROUP_EXPIRY_SECONDS, 60 s, not
channels-redis's day): each event loop joins its members again every third of that (`_memberships_refresh`), so
only the channels of a process that died without leaving its groups drop out — and every push to their groups
stops being written to the dead process's channel key within a minute, not a day. A consumer that ends without
leaving its groups (an exception) is forgotten (`channel_forget`) and drops out alike.
"""

import asyncio
import functools
import logging
import random
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import msgpack
from channels_redis.core import RedisChannelLayer

from speedtrade.cancellation import cancel_and_wait

logger = logging.getLogger(__name__)

# channels-redis 4.3's group_send script (a local string there): push to each channel key under its capacity.
GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""

# A group send in Redis (`group_send_many_queue`): the group's members (expired ones out first), grouped by channel key
# (a process-specific channel's key is its name up to its "!"), then to each key, under its capacity, the message as
# channels-redis serializes it for that key (`_map_channel_keys_to_connection`): ARGV[2] (random prefix and the map's
# header), ARGV[3] (the message's entries), then `__asgi_channel__` and the key's channels, in msgpack. A channel's
# capacity is that of the first name prefix in ARGV[9], ARGV[11]… it starts with, else ARGV[8]. Returns how many
# keys were over capacity.
GROUP_PUSH_LUA = """
    local prefix, head, entries, score = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
    redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[5])
    local keys, channels = {}, {}
    for _, channel in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
        local bang = string.find(channel, '!', 1, true)
        local key = prefix .. (bang and string.sub(channel, 1, bang) or channel)
        if channels[key] == nil then
            channels[key] = {}
            keys[#keys + 1] = key
        end
        table.insert(channels[key], channel)
    end
    local over_capacity = 0
    for _, key in ipairs(keys) do
        local first = channels[key][1]
        local capacity = tonumber(ARGV[8])
        for i = 9, #ARGV, 2 do
            if string.sub(first, 1, #ARGV[i]) == ARGV[i] then
                capacity = tonumber(ARGV[i + 1])
                break
            end
        end
        redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[6])
        if redis.call('ZCOUNT', key, '-inf', '+inf') < capacity then
            local message = head .. entries .. cmsgpack.pack('__asgi_channel__') .. cmsgpack.pack(channels[key])
            redis.call('ZADD', key, score, message)
            redis.call('EXPIRE', key, ARGV[7])
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""

# A process's channel (`specific.<process>!`): what `_brpop_with_clean` does first — put back the messages of a receive
# that was cancelled (its backup) — then up to ARGV[3] messages already waiting, in order, in the same round trip.
POP_WAITING_LUA = """
    local backed_up = redis.call('ZRANGE', ARGV[2], 0, -1, 'WITHSCORES')
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', ARGV[1], backed_up[i], backed_up[i - 1])
    end
    redis.call('DEL', ARGV[2])
    return redis.call('ZPOPMIN', ARGV[1], ARGV[3])
"""
# How many waiting messages one round trip takes off a process's channel.
RECEIVE_BATCH = 100


def _keep_popped(popped: deque[bytes], fetch: asyncio.Future) -> None:
    if not fetch.cancelled() and fetch.exception() is None:
        popped.extend(fetch.result()[0::2])  # member, score, member, score…


class CancellableRedisChannelLayer(RedisChannelLayer):
    """Also receives a process's messages in batches (`_brpop_with_clean`)."""

    def __init__(self, *args, channel_capacity=None, **kwargs) -> None:
        super().__init__(*args, channel_capacity=channel_capacity, **kwargs)
        self._channel_capacity_given = dict(channel_capacity or {})
        self._popped: defaultdict[str, deque[bytes]] = defaultdict(deque)  # per channel key: taken, not yet handed out
        self._unbacked: set[str] = set()  # channel keys whose last message handed out was never in the backup queue
        # Per event loop (its connections and its consumers): group -> channels it joined and has not left, and the
        # task that joins them again before they expire.
        self._memberships: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, defaultdict[str, set[str]]] = (
            weakref.WeakKeyDictionary()
        )
        self._refreshers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = (
            weakref.WeakKeyDictionary()
        )

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        loop = asyncio.get_running_loop()
        self._memberships.setdefault(loop, defaultdict(set))[group].add(channel)
        if loop not in self._refreshers:
            self._refreshers[loop] = loop.create_task(self._memberships_refresh(), name="channel-layer-groups")

    async def group_discard(self, group, channel):
        for memberships in self._memberships.values():
            memberships.get(group, set()).discard(channel)
        await super().group_discard(group, channel)

    def channel_forget(self, channel: str) -> None:
        """Stop joining `channel` to its groups again: its consumer has ended (it expires from them)."""
        for memberships in self._memberships.values():
            for channels in memberships.values():
                channels.discard(channel)

    async def _memberships_refresh(self) -> None:
        """Every third of `group_expiry`, join this loop's channels to their groups again (one pipeline per Redis
        host). A round that fails (Redis away) is retried at the next."""
        memberships = self._memberships[asyncio.get_running_loop()]
        while True:
            await asyncio.sleep(self.group_expiry / 3)
            by_connection: defaultdict[int, list[tuple[str, set[str]]]] = defaultdict(list)
            for group, channels in list(memberships.items()):
                if channels:
                    by_connection[self.consistent_hash(group)].append((group, set(channels)))
                else:
                    del memberships[group]
            now = time.time()
            for index, joined in by_connection.items():
                pipe = self.connection(index).pipeline(transaction=False)
                for group, channels in joined:
                    pipe.zadd(self._group_key(group), dict.fromkeys(channels, now))
                    pipe.expire(self._group_key(group), self.group_expiry)
                try:
                    await pipe.execute()
                    # A channel that left meanwhile (its ZREM may have run before these ZADDs) leaves again.
                    left = [(group, channels - memberships.get(group, set())) for group, channels in joined]
                    if any(channels for _, channels in left):
                        pipe = self.connection(index).pipeline(transaction=False)
                        for group, channels in left:
                            if channels:
                                pipe.zrem(self._group_key(group), *channels)
                        await pipe.execute()
                except Exception:
                    logger.exception("Could not join %s groups again; retrying.", len(joined))

    async def _brpop_with_clean(self, index, channel, timeout):
        """channels-redis takes one message per four round trips (put back the backup, BZPOPMIN, back the message up,
        and after it is handed out, drop its backup), one message at a time per process, whatever the number of
        sockets: a busy server's channel then filled to its capacity and further messages (fills) were dropped.
        Here every message already waiting comes in one round trip and is handed out from memory; only an empty
        channel waits in the blocking pop (with its backup, as before). A message taken here is lost only with its
        process — like every message channels-redis has already handed to its in-process receive buffers."""
        if not channel.endswith("!"):  # a channel other processes may read too: one message at a time, as before
            return await super()._brpop_with_clean(index, channel, timeout)
        popped = self._popped[channel]
        if not popped:
            fetch = asyncio.ensure_future(
                self.connection(index).eval(
                    POP_WAITING_LUA, 0, channel, self._backup_channel_name(channel), RECEIVE_BATCH
                )
            )
            # Kept even when this receive is cancelled meanwhile: the next one hands them out.
            fetch.add_done_callback(functools.partial(_keep_popped, popped))
            await asyncio.shield(fetch)
        if popped:
            self._unbacked.add(channel)
            return popped.popleft()
        self._unbacked.discard(channel)
        return await super()._brpop_with_clean(index, channel, timeout)

    async def _clean_receive_backup(self, index, channel):
        if channel in self._unbacked:
            return  # handed out from memory: it has no backup to drop
        await super()._clean_receive_backup(index, channel)

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

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """`group_send` of each (group, message), each group's in the given order: in one round trip for the whole
        batch (`group_send_many_queue`) where the layer has one Redis and its capacities are by name prefix, else
        in two per Redis host (every group's members in one pipeline, then every push in another).
        channels-redis's `group_send` costs four round trips per message (a tick batch's fired alerts:
        speedtrade.realtime.send_to_users_now). Built on channels-redis's own key mapping and serializer."""
        if self.group_sends_in_script:
            pipe = self.connection(0).pipeline(transaction=False)
            sent = self.group_send_many_queue(pipe, messages)
            sent(await pipe.execute())
            return
        groups_by_connection: defaultdict[int, list[str]] = defaultdict(list)
        for group in dict.fromkeys(group for group, _ in messages):
            assert self.require_valid_group_name(group), "Group name not valid"
            groups_by_connection[self.consistent_hash(group)].append(group)
        members: dict[str, list[str]] = {}
        for index, groups in groups_by_connection.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group in groups:
                pipe.zremrangebyscore(self._group_key(group), min=0, max=int(time.time()) - self.group_expiry)
                pipe.zrange(self._group_key(group), 0, -1)
            replies = await pipe.execute()
            for group, names in zip(groups, replies[1::2], strict=True):
                members[group] = [name.decode("utf8") for name in names]
        pushes: dict[int, Any] = {}  # redis-py's async Pipeline, per connection index
        is_push: defaultdict[int, list[bool]] = defaultdict(list)
        now = time.time()
        for n, (group, message) in enumerate(messages):
            # A channel's messages are a sorted set by time: each message its own, later score keeps their order
            # (equal scores would sort by the serialized bytes, which start with a random prefix).
            score = now + n * 1e-6
            to_connection, serialized, capacity = self._map_channel_keys_to_connection(members[group], message)
            for index, keys in to_connection.items():
                if index not in pushes:
                    pushes[index] = self.connection(index).pipeline(transaction=False)
                pipe = pushes[index]
                for key in keys:  # expired messages out first, as group_send does
                    pipe.zremrangebyscore(key, min=0, max=int(now) - int(self.expiry))
                args = [serialized[key] for key in keys] + [capacity[key] for key in keys] + [score, self.expiry]
                pipe.eval(GROUP_SEND_LUA, len(keys), *keys, *args)
                is_push[index] += [False] * len(keys) + [True]
        for index, pipe in pushes.items():
            replies = await pipe.execute()
            over_capacity = sum(reply for reply, push in zip(replies, is_push[index], strict=True) if push)
            _over_capacity_log(over_capacity, len(messages))

    def group_send_many_queue(self, pipeline, messages: list[tuple[str, dict]]) -> Callable[[list], None]:
        """`group_send_many`'s work queued on the caller's pipeline to this layer's one Redis (one script per message:
        its group's members and the pushes to them, in Redis), so that other commands share its round trip; the
        returned function takes the pipeline's replies (all of them, the caller's too). Only where
        `group_sends_in_script`."""
        assert self.group_sends_in_script
        first = len(pipeline)
        now = time.time()
        packer = msgpack.Packer()
        capacities = [arg for prefix, capacity in self._capacity_prefixes or [] for arg in (prefix, capacity)]
        for n, (group, message) in enumerate(messages):
            assert self.require_valid_group_name(group), "Group name not valid"
            # The message as channels-redis serializes it for a channel key, less the `__asgi_channel__` entry the
            # script appends (the channels of that key): the map's header counts it; the random prefix keeps
            # equal messages apart in a channel's sorted set.
            packed = b"".join(packer.pack(key) + packer.pack(value) for key, value in message.items())
            pipeline.eval(
                GROUP_PUSH_LUA,
                1,
                self._group_key(group),
                self.prefix,
                # A unique prefix, not a secret (channels-redis's serializer uses `random` too).
                random.randbytes(self._serializer.random_prefix_length)  # noqa: S311
                + packer.pack_map_header(len(message) + 1),
                packed,
                repr(now + n * 1e-6),  # a later score for a later message keeps a channel's messages in order
                int(now) - self.group_expiry,
                int(now) - int(self.expiry),
                self.expiry,
                self.capacity,
                *capacities,
            )
        count = len(messages)

        def sent(replies: list) -> None:
            _over_capacity_log(sum(replies[first : first + count]), count)

        return sent

    @functools.cached_property
    def group_sends_in_script(self) -> bool:
        """Whether `group_send_many_queue` can do a group send in Redis: one host (the group's key and its members'
        channel keys on it), messages not encrypted, and each channel's capacity decided by a prefix of its name."""
        return (
            self.ring_size == 1
            and self._serializer.crypter is None
            and self._capacity_prefixes is not None
            and self.serialize({"a": 1})[self._serializer.random_prefix_length :] == msgpack.packb({"a": 1})
        )

    @functools.cached_property
    def _capacity_prefixes(self) -> list[tuple[str, int]] | None:
        """`channel_capacity` as (name prefix, capacity) in its order (a glob "specific.*" is the prefix
        "specific."), or None when a pattern is something else."""
        prefixes = []
        for pattern, capacity in self._channel_capacity_given.items():
            if not isinstance(pattern, str) or not pattern.endswith("*") or any(c in pattern[:-1] for c in "*?[]"):
                return None
            prefixes.append((pattern[:-1], capacity))
        return prefixes


def _over_capacity_log(over_capacity: int, messages: int) -> None:
    if over_capacity:
        logger.info("%s channels over capacity in a batch of %s group messages", over_capacity, messages)
