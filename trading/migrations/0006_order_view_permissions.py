"""Both staff groups read orders, their timelines and executions in the admin (issue 6: read-only for
everyone there). Exporting them stays Compliance's alone, through `accounts.export_records`."""

from django.db import migrations

from speedtrade.group_permissions import group_permissions_operation

CODENAMES = ["view_order", "view_orderevent", "view_execution"]


class Migration(migrations.Migration):
    dependencies = [("trading", "0005_reconciliation_case_permissions")]

    operations = [group_permissions_operation("trading", {"Compliance": CODENAMES, "Support": CODENAMES})]
