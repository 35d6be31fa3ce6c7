from django.contrib import admin

from alerts.models import PriceAlert
from speedtrade.admin import ReadOnlyAdmin


@admin.register(PriceAlert)
class PriceAlertAdmin(ReadOnlyAdmin):
    """Read-only for staff: customers manage their alerts themselves."""

    list_display = ["symbol", "condition", "value", "status", "repeat", "trigger_count", "last_triggered_at", "user"]
    list_filter = ["status", "condition", "repeat"]
    search_fields = ["symbol", "user__email"]
    readonly_fields = [f.name for f in PriceAlert._meta.fields]
