"""Migration SQL that only PostgreSQL runs: PL/pgSQL functions and triggers, which the embedded default's
SQLite has no equivalent for (its code takes the ORM path instead, e.g. `trading/order_writer.py`)."""

from django.db import migrations


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """`RunSQL` skipped on other databases. Give each statement as one list item: a PL/pgSQL body is not
    split on its semicolons then."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
