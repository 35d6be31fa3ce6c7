"""Both staff groups read orders, their timelines and executions in the admin (issue 6: read-only for
everyone there). Exporting them stays Compliance's alone, through `accounts.export_records`."""

from django.db import migrations

CODENAMES = ["view_order", "view_orderevent", "view_execution"]
GROUPS = ["Compliance", "Support"]


def _permissions(apps):
    return apps.get_model("auth", "Permission").objects.filter(content_type__app_label="trading", codename__in=CODENAMES)


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("trading")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None
    for name in GROUPS:
        group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=name)
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [("trading", "0005_reconciliation_case_permissions")]

    operations = [migrations.RunPython(grant, revoke)]
