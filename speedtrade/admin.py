"""Admin pieces shared by every app's admin."""

from django.contrib import admin


class ReadOnlyAdminMixin:
    """View-only: no add, change or delete, whatever the user's permissions. Services write;
    financial records and the audit trail are append-only in the database too."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass
