"""Permissions for the staff groups now that the KYC models exist.

Compliance: view everything in accounts (and brokerage accounts), review KYC, restrict
accounts, export records. Support: view only. Later apps add their financial models'
view permissions to both groups in their own migrations.
"""

from django.db import migrations

ACCOUNTS_MODELS = ["user", "customer", "auditevent", "kycapplication", "kycagreement", "kycdocument",
                   "kycstatuschange", "accountrestriction"]
VIEW = [f"view_{model}" for model in ACCOUNTS_MODELS]
GROUP_PERMISSIONS = {
    "Compliance": {
        "accounts": VIEW + ["review_kycapplication", "restrict_account", "export_records"],
        "portfolios": ["view_account"],
    },
    "Support": {"accounts": VIEW, "portfolios": ["view_account"]},
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, by_app in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codenames in by_app.items():
            permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            missing = set(codenames) - set(permissions.values_list("codename", flat=True))
            assert not missing, f"permissions not found: {missing}"
            group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, by_app in GROUP_PERMISSIONS.items():
        for group in Group.objects.filter(name=name):
            for app_label, codenames in by_app.items():
                group.permissions.remove(
                    *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
                )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_kyc"), ("portfolios", "0001_initial")]

    operations = [migrations.RunPython(grant, revoke)]
