"""The Redis channel layer as the web process builds it."""

from channels.layers import get_channel_layer


def test_an_idle_socket_outlasts_the_layers_blocking_wait_for_messages():
    """channels-redis waits `brpop_timeout` seconds in BZPOPMIN for the next message; a client read
    timeout no longer than that (redis-py 8 defaults to 5 s) tears down every idle WebSocket (1011)."""
    layer = get_channel_layer()
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout
