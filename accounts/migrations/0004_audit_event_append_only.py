"""On PostgreSQL, make the audit trail append-only in the database itself.

TRUNCATE stays possible: it needs table-owner rights, which the application role
should not have in production, and the test runner flushes tables with it.
"""

from django.db import migrations

from speedtrade.append_only import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_audit_event")]

    operations = [append_only_operation("accounts_auditevent", "audit events")]
