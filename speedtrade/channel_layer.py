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
import logging
import time
from collections import defaultdict
from typing import Any

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

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """`group_send` of each (group, message), each group's in the given order, in two round trips per Redis
        host for the whole batch: every group's members in one pipeline, then every push in another.
        channels-redis's `group_send` costs four round trips per message (a tick batch's fired alerts:
        speedtrade.realtime.send_to_users_now). Built on channels-redis's own key mapping and serializer."""
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
            if over_capacity:
                logger.info("%s channels over capacity in a batch of %s group messages", over_capacity, len(messages))
