"""Compliance sees and resolves reconciliation cases; Support sees them."""

from django.db import migrations

from speedtrade.group_permissions import group_permissions_operation


class Migration(migrations.Migration):
    dependencies = [("trading", "0004_reconciliation_case"), ("accounts", "0006_staff_group_permissions")]

    operations = [
        group_permissions_operation(
            "trading",
            {
                "Compliance": ["view_reconciliationcase", "resolve_reconciliationcase"],
                "Support": ["view_reconciliationcase"],
            },
        )
    ]
