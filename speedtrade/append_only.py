"""Append-only tables enforced by PostgreSQL itself: a trigger refuses UPDATE and DELETE.

Used from migrations (`append_only_operation("accounts_auditevent", "audit events")`), so
a bug in Python can never rewrite history. Other databases (the SQLite demo) rely on the
application, which offers no update or delete on these tables.

`updatable` names the columns an UPDATE may still change (a tax lot's open quantity and basis);
an UPDATE that changes any other column is refused, and so is every DELETE.
"""

from django.db import migrations


def append_only_operation(table: str, what: str, updatable: tuple[str, ...] = ()) -> migrations.RunPython:
    function = f"{table}_refuse_change"
    allowed = ""
    if updatable:
        unchanged = " - ".join(["to_jsonb({row})", *(f"'{column}'" for column in updatable)])
        allowed = f"""
    IF TG_OP = 'UPDATE' AND ({unchanged.format(row="NEW")}) = ({unchanged.format(row="OLD")}) THEN
        RETURN NEW;
    END IF;"""
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN{allowed}
    RAISE EXCEPTION '{what} are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    drop = f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP FUNCTION IF EXISTS {function}();
"""

    def run(sql):
        def operation(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(sql, params=None)

        return operation

    return migrations.RunPython(run(create), run(drop))
