"""PostgreSQL connection tuning that Django leaves to the project."""

from collections.abc import Sequence
from datetime import tzinfo
from functools import lru_cache
from typing import cast

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model

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


def statements_prepared() -> bool:
    """Statements are prepared once per connection, except behind PgBouncer in transaction mode, where the next
    transaction may run on another server connection (docs/notes/scaling.md)."""
    return not settings.DB_TRANSACTION_POOLER


if psycopg is not None:

    class _PreparedCursor(psycopg.Cursor):
        """Server-side binding, and each statement prepared as `statements_prepared` says (Django's cursors bind
        client-side and never prepare)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=statements_prepared(), binary=binary)


def prepared_cursor() -> CursorWrapper:
    """A cursor on Django's PostgreSQL connection for hand-written hot statements, parsed and planned once per
    connection instead of per request. Wrapped in Django's cursor wrapper: logged, counted and in the request's
    transaction like any ORM query."""
    connection.ensure_connection()
    raw = _PreparedCursor(connection.connection)
    # django-stubs type these as taking Django's wrapper; they take the database driver's cursor and wrap it.
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return wrap(raw)  # type: ignore[arg-type]


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Save `fields` of many rows of one model in one statement (their primary keys pick the rows).

    PostgreSQL: `UPDATE … FROM (VALUES …)`, each value cast to its column's type. Django's `bulk_update` builds a
    `CASE WHEN pk = … THEN …` per field and row, whose compilation cost grows with both: it was most of the order
    engine's CPU per batch (docs/notes/bench.md, "the batch's fills set-based"). Other databases (SQLite, the
    embedded default) take `bulk_update`.
    """
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, fields)
        return
    meta = model._meta
    key = meta.pk
    columns = [cast(Field, meta.get_field(name)) for name in fields]  # concrete columns: the caller names them
    quote = connection.ops.quote_name
    row = "(" + ", ".join(f"%s::{column.db_type(connection)}" for column in (key, *columns)) + ")"
    params = [
        column.get_db_prep_save(getattr(instance, column.attname), connection)
        for instance in rows
        for column in (key, *columns)
    ]
    names = ", ".join(quote(column.column) for column in (key, *columns))
    sets = ", ".join(f"{quote(column.column)} = v.{quote(column.column)}" for column in columns)
    table, pk = quote(meta.db_table), quote(key.column)
    # Names from the model's metadata, quoted; every value a parameter.
    sql = f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(rows))}) AS v({names}) "  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql + f"WHERE {table}.{pk} = v.{pk}", params)
