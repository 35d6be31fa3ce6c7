"""Staff groups' permissions granted by migrations.

Used from migrations (`group_permissions_operation("trading", {"Compliance": [...], "Support": [...]})`):
each group (created if missing) gets those permissions of the one app; reversing the
migration takes them away again and leaves the groups.
"""

from django.db import migrations


def group_permissions_operation(app_label: str, group_codenames: dict[str, list[str]]) -> migrations.RunPython:
    def permissions(apps, codenames: list[str]):
        return apps.get_model("auth", "Permission").objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )

    def grant(apps, schema_editor):
        from django.contrib.auth.management import create_permissions

        # Django creates permissions only after the whole migrate run (post_migrate); the grant needs them now.
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
        Group = apps.get_model("auth", "Group")
        for name, codenames in group_codenames.items():
            group, _ = Group.objects.get_or_create(name=name)
            group.permissions.add(*permissions(apps, codenames))

    def revoke(apps, schema_editor):
        for name, codenames in group_codenames.items():
            for group in apps.get_model("auth", "Group").objects.filter(name=name):
                group.permissions.remove(*permissions(apps, codenames))

    return migrations.RunPython(grant, revoke)
