from django.contrib import admin

from recurring.models import RecurringPlan, RecurringPlanEvent, RecurringRun
from speedtrade.admin import ReadOnlyAdmin, ReadOnlyAdminMixin


class RunInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RecurringRun
    fields = ("scheduled_date", "run_date", "status", "order", "skip_code", "skip_reason", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RecurringPlanEvent
    fields = ("created_at", "event", "from_status", "to_status", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(RecurringPlan)
class RecurringPlanAdmin(ReadOnlyAdmin):
    """Staff read plans and runs; customers change them, the scheduler writes runs."""

    list_display = ["symbol", "amount", "frequency", "status", "next_run_date", "runs_scheduled", "user"]
    list_filter = ["status", "frequency", "is_crypto"]
    search_fields = ["symbol", "user__email"]
    inlines = [RunInline, EventInline]


@admin.register(RecurringRun)
class RecurringRunAdmin(ReadOnlyAdmin):
    list_display = ["plan", "scheduled_date", "run_date", "status", "order", "skip_code"]
    list_filter = ["status", "skip_code"]
    search_fields = ["plan__symbol", "plan__user__email", "client_order_id"]
