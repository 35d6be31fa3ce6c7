"""Compliance no longer changes users (issue 16, item 2): with `change_user` an officer could tick
"Superuser status" on themselves, set a customer's password and log in as them, or give a
second login Compliance rights. Users' privileges and passwords are superusers' alone; both
staff groups may instead send a customer a password reset email."""

from django.db import migrations

from speedtrade.group_permissions import group_permissions_operation

# Granted to Compliance by 0002; taking it away is that grant run backwards.
_COMPLIANCE_CHANGE_USER = group_permissions_operation("accounts", {"Compliance": ["change_user"]})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_support_sees_kyc_status_only")]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "permissions": [
                    ("restrict_account", "Can block/unblock trading, transfers or the whole account"),
                    ("export_records", "Can export a customer's records as CSV"),
                    ("send_password_reset", "Can send a customer a password reset email"),
                ]
            },
        ),
        migrations.RunPython(_COMPLIANCE_CHANGE_USER.reverse_code, _COMPLIANCE_CHANGE_USER.code),
        group_permissions_operation(
            "accounts", {"Compliance": ["send_password_reset"], "Support": ["send_password_reset"]}
        ),
    ]
