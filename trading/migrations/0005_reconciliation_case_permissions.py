"""Compliance sees and resolves reconciliation cases; Support sees them."""

from django.db import migrations

GROUP_PERMISSIONS = {
    "Compliance": ["view_reconciliationcase", "resolve_reconciliationcase"],
    "Support": ["view_reconciliationcase"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("trading")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="trading", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="trading", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("trading", "0004_reconciliation_case"), ("accounts", "0006_staff_group_permissions")]

    operations = [migrations.RunPython(grant, revoke)]
