"""Timestamps are parsed by psycopg's compiled loader (speedtrade/db.py), and read back exactly as Django's own
loader reads them: same instant, same tzinfo."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from hypothesis import given
from hypothesis import strategies as st

from speedtrade.db import timestamptz_loader

pytestmark = pytest.mark.django_db

INSTANTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


def read_back(value: datetime, *, djangos_loader: bool) -> datetime:
    with connection.cursor() as cursor:
        if djangos_loader:
            register_tzloader(connection.timezone, cursor.cursor)
        cursor.execute("SELECT %s::timestamptz", [value])
        return cursor.fetchone()[0]


def test_connections_use_the_compiled_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is timestamptz_loader(connection.timezone)


@given(INSTANTS)
def test_a_timestamp_reads_back_as_djangos_loader_reads_it(value):
    ours, djangos = read_back(value, djangos_loader=False), read_back(value, djangos_loader=True)
    assert ours == djangos == value
    assert ours.tzinfo is djangos.tzinfo
