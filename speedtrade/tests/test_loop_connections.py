"""The lean path's loop connections end with the server: a worker stopped cleanly leaves no PostgreSQL session or
Redis connection behind for the database to time out."""

import pytest
from asgiref.testing import ApplicationCommunicator

from speedtrade.asgi import application
from speedtrade.loop_connections import database_connection, loop_connections

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_lifespan_shutdown_closes_the_loops_database_pool_and_redis():
    async with database_connection() as connection:
        await connection.execute("SELECT 1")
    made = loop_connections()
    assert await made.redis.ping()

    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.startup.complete"}
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(timeout=10) == {"type": "lifespan.shutdown.complete"}

    assert made.pool.closed
    assert loop_connections() is not made  # the next use on this loop makes new ones
    await loop_connections().close()
