"""The Redis channel layer keeps idle WebSocket consumers alive."""

from channels.layers import get_channel_layer


async def test_redis_reads_outlast_the_channel_layers_blocking_pop():
    # A consumer with nothing to receive sits in BZPOPMIN for `brpop_timeout` seconds; a
    # shorter socket read timeout turned that quiet wait into a TimeoutError that closed it.
    layer = get_channel_layer()
    pool = layer.connection(0).connection_pool
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout
