"""On PostgreSQL, make the order timeline append-only in the database itself (like the audit trail)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION trading_orderevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'order events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER trading_orderevent_append_only
    BEFORE UPDATE OR DELETE ON trading_orderevent
    FOR EACH ROW EXECUTE FUNCTION trading_orderevent_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS trading_orderevent_append_only ON trading_orderevent;
DROP FUNCTION IF EXISTS trading_orderevent_refuse_change();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
