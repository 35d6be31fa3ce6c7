"""Compliance views of orders, their timelines and executions: read-only, filterable."""

from django.contrib import admin

from trading.models import Execution, Order, OrderEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "event", "from_status", "to_status", "qty", "price", "latency_us", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "symbol", "side", "type", "qty", "notional", "status", "filled_qty")
    list_filter = ("status", "side", "type", "time_in_force", "asset_class", "broker")
    search_fields = ("id", "client_order_id", "symbol", "account__account_number", "account__user__email")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    inlines = [OrderEventInline]


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "order", "event", "from_status", "to_status", "qty", "price", "latency_us")
    list_filter = ("event", "to_status")
    search_fields = ("order__id",)
    list_select_related = ("order",)


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ("executed_at", "order", "broker_exec_id", "qty", "price", "fee")
    search_fields = ("broker_exec_id", "order__id")
    date_hierarchy = "executed_at"
    list_select_related = ("order",)
