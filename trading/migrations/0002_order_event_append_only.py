"""On PostgreSQL, make the order timeline append-only in the database itself (like the audit trail)."""

from django.db import migrations

from speedtrade.append_only import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]

    operations = [append_only_operation("trading_orderevent", "order events")]
