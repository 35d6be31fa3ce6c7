"""Ledger integrity in the database, ledger accounts for existing brokerage accounts,
and the staff groups' permissions on the portfolio models.

On PostgreSQL:
* journal entries and lines are append-only (UPDATE and DELETE raise; TRUNCATE stays
  possible for the table owner, which the test runner uses);
* deferred constraint triggers check, at commit, that every entry has at least two lines
  and that its lines sum to zero — so no code path, however buggy, can commit an
  unbalanced entry. They are named so a test can `SET CONSTRAINTS ... IMMEDIATE`.
"""

from django.db import migrations

from speedtrade.group_permissions import group_permissions_operation

CHECK_ENTRY = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
DECLARE
    line_count integer;
    line_total numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount), 0) INTO line_count, line_total
        FROM portfolios_journalline WHERE entry_id = NEW.{column};
    IF line_count < 2 OR line_total <> 0 THEN
        RAISE EXCEPTION 'journal entry % is unbalanced: % lines summing to %', NEW.{column}, line_count, line_total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER {trigger}
    AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
CREATE = (
    """
CREATE OR REPLACE FUNCTION portfolios_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only (% on % refused); post a reversal instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portfolios_journalentry_append_only
    BEFORE UPDATE OR DELETE ON portfolios_journalentry
    FOR EACH ROW EXECUTE FUNCTION portfolios_ledger_refuse_change();
CREATE TRIGGER portfolios_journalline_append_only
    BEFORE UPDATE OR DELETE ON portfolios_journalline
    FOR EACH ROW EXECUTE FUNCTION portfolios_ledger_refuse_change();
"""
    + CHECK_ENTRY.format(
        function="portfolios_journalline_check_balanced",
        column="entry_id",
        trigger="portfolios_journalline_balanced",
        table="portfolios_journalline",
    )
    + CHECK_ENTRY.format(
        function="portfolios_journalentry_check_balanced",
        column="id",
        trigger="portfolios_journalentry_balanced",
        table="portfolios_journalentry",
    )
)
DROP = """
DROP TRIGGER IF EXISTS portfolios_journalline_balanced ON portfolios_journalline;
DROP TRIGGER IF EXISTS portfolios_journalentry_balanced ON portfolios_journalentry;
DROP TRIGGER IF EXISTS portfolios_journalline_append_only ON portfolios_journalline;
DROP TRIGGER IF EXISTS portfolios_journalentry_append_only ON portfolios_journalentry;
DROP FUNCTION IF EXISTS portfolios_journalline_check_balanced();
DROP FUNCTION IF EXISTS portfolios_journalentry_check_balanced();
DROP FUNCTION IF EXISTS portfolios_ledger_refuse_change();
"""

PLATFORM_KINDS = ["bank", "venue_settlement", "fees", "adjustments"]
VIEW_MODELS = ["account", "ledgeraccount", "journalentry", "journalline", "position", "transfer", "cashadjustment",
               "equitysnapshot"]
GROUP_PERMISSIONS = {
    "Compliance": [f"view_{model}" for model in VIEW_MODELS] + ["add_cashadjustment", "approve_cashadjustment"],
    "Support": ["view_account", "view_position", "view_transfer"],
}


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def create_ledger_accounts(apps, schema_editor):
    LedgerAccount = apps.get_model("portfolios", "LedgerAccount")
    Account = apps.get_model("portfolios", "Account")
    for kind in PLATFORM_KINDS:
        LedgerAccount.objects.get_or_create(account=None, kind=kind, defaults={"allow_negative": True})
    for account in Account.objects.all():
        LedgerAccount.objects.get_or_create(
            account=account, kind="cash", defaults={"allow_negative": account.type == "margin"}
        )
        LedgerAccount.objects.get_or_create(account=account, kind="withdrawal_hold")


class Migration(migrations.Migration):
    dependencies = [("portfolios", "0002_ledger_positions_transfers"), ("accounts", "0002_staff_groups")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(create_ledger_accounts, migrations.RunPython.noop),
        group_permissions_operation("portfolios", GROUP_PERMISSIONS),
    ]
