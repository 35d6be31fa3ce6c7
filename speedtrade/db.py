"""PostgreSQL connection tuning that Django leaves to the project."""

from datetime import tzinfo
from functools import lru_cache

from django.db.backends.signals import connection_created

try:
    import psycopg
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
except ImportError:  # SQLite-only installs (the embedded default works without psycopg)
    psycopg = None  # type: ignore[assignment]  # checked before any use below

# psycopg's compiled loader when psycopg[binary] / psycopg[c] is installed, else its pure-Python one.
_COMPILED_TIMESTAMPTZ = (
    psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, psycopg.pq.Format.TEXT) if psycopg else None
)


@lru_cache
def timestamptz_loader(timezone: tzinfo | None) -> type:
    """Django's timestamptz loader (aware in the connection's time zone, or naive without USE_TZ), parsing in C.

    Django's loader subclasses psycopg's pure-Python one: ~8 µs a value, 12 ms of the 500 orders of
    `GET /orders` (three timestamps each). This one hands the text to psycopg's compiled loader (the
    session's time zone is the connection's, Django sets it) and only swaps the tzinfo as Django does.
    """

    class TimestamptzLoader(BaseTzLoader):
        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._parse = _COMPILED_TIMESTAMPTZ(oid, context).load  # type: ignore[misc]  # set whenever psycopg is

        def load(self, data):
            return self._parse(data).replace(tzinfo=self.timezone)

    TimestamptzLoader.timezone = timezone  # what Django's create_cursor compares with the connection's
    return TimestamptzLoader


def compiled_timestamps(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql" and psycopg and connection.connection.adapters is not None:
        connection.connection.adapters.register_loader("timestamptz", timestamptz_loader(connection.timezone))


connection_created.connect(compiled_timestamps, dispatch_uid="speedtrade.db.compiled_timestamps")
