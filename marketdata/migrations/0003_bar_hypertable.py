"""Turn the bars table into a TimescaleDB hypertable when the extension is there.

Plain PostgreSQL and SQLite keep the ordinary table: this migration checks
`pg_extension` (installed) and `pg_available_extensions` (installable) and logs why
it skipped. The bar's primary key (asset, timeframe, timestamp) already contains the
time column, as a hypertable's unique indexes must.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger("marketdata.migrations")

BARS_TABLE = "marketdata_bar"
CHUNK_INTERVAL = "7 days"


def _timescale_ready(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if cursor.fetchone():
        return True
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if not cursor.fetchone():
        logger.info("TimescaleDB is not available; %s stays a plain table.", BARS_TABLE)
        return False
    try:
        with transaction.atomic():  # a savepoint: a refused CREATE EXTENSION must not break the migration
            cursor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except DatabaseError as exc:
        logger.warning("TimescaleDB is available but could not be enabled (%s); %s stays a plain table.", exc, BARS_TABLE)
        return False
    return True


def make_hypertable(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if not _timescale_ready(cursor):
            return
        cursor.execute(
            "SELECT create_hypertable(%s, 'timestamp', chunk_time_interval => %s::interval,"
            " migrate_data => true, if_not_exists => true)",
            [BARS_TABLE, CHUNK_INTERVAL],
        )
        logger.info("%s is now a TimescaleDB hypertable.", BARS_TABLE)


class Migration(migrations.Migration):
    dependencies = [("marketdata", "0002_bar")]

    operations = [migrations.RunPython(make_hypertable, migrations.RunPython.noop, elidable=False)]
