"""Compliance views of orders, their timelines and executions: read-only, filterable.

Reconciliation cases are read-only too; compliance resolves one through its own form
(`trading.services.reconciliation_case_resolve`, audited), never by editing fields.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_export import CsvExport, CsvExportAdminMixin
from speedtrade.admin import ReadOnlyAdmin
from speedtrade.errors import DomainError
from trading import services
from trading.models import Execution, Order, OrderEvent, ReconciliationCase
from trading.serialization import decimal_string

RESOLVE_PERMISSION = "trading.resolve_reconciliationcase"


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "event", "from_status", "to_status", "qty", "price", "latency_us", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    list_display = ("created_at", "account", "symbol", "side", "type", "qty", "notional", "status", "filled_qty")
    list_filter = ("status", "side", "type", "time_in_force", "asset_class", "broker")
    search_fields = ("id", "client_order_id", "symbol", "account__account_number", "account__user__email")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    inlines = [OrderEventInline]
    csv_export = CsvExport(
        name="orders",
        columns=[
            ("created_at", lambda o: o.created_at.isoformat()),
            ("id", lambda o: o.id),
            ("client_order_id", lambda o: o.client_order_id),
            ("account_number", lambda o: o.account.account_number),
            ("symbol", lambda o: o.symbol),
            ("side", lambda o: o.side),
            ("type", lambda o: o.type),
            ("time_in_force", lambda o: o.time_in_force),
            ("qty", lambda o: decimal_string(o.qty)),
            ("notional", lambda o: decimal_string(o.notional)),
            ("limit_price", lambda o: decimal_string(o.limit_price)),
            ("stop_price", lambda o: decimal_string(o.stop_price)),
            ("status", lambda o: o.status),
            ("filled_qty", lambda o: decimal_string(o.filled_qty)),
            ("filled_avg_price", lambda o: decimal_string(o.filled_avg_price)),
            ("replaces", lambda o: o.replaces_id),
        ],
        rows=lambda user, start, end: (
            Order.objects.filter(account__user=user, created_at__gte=start, created_at__lt=end)
            .select_related("account")
            .order_by("created_at", "id")
        ),
    )


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "order", "event", "from_status", "to_status", "qty", "price", "latency_us")
    list_filter = ("event", "to_status")
    search_fields = ("order__id",)
    list_select_related = ("order",)


@admin.register(Execution)
class ExecutionAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    list_display = ("executed_at", "order", "broker_exec_id", "qty", "price", "fee")
    search_fields = ("broker_exec_id", "order__id")
    date_hierarchy = "executed_at"
    list_select_related = ("order",)
    csv_export = CsvExport(
        name="executions",
        columns=[
            ("executed_at", lambda e: e.executed_at.isoformat()),
            ("id", lambda e: e.id),
            ("broker_exec_id", lambda e: e.broker_exec_id),
            ("order_id", lambda e: e.order_id),
            ("account_number", lambda e: e.order.account.account_number),
            ("symbol", lambda e: e.order.symbol),
            ("side", lambda e: e.order.side),
            ("qty", lambda e: decimal_string(e.qty)),
            ("price", lambda e: decimal_string(e.price)),
            ("fee", lambda e: decimal_string(e.fee)),
        ],
        rows=lambda user, start, end: (
            Execution.objects.filter(order__account__user=user, executed_at__gte=start, executed_at__lt=end)
            .select_related("order__account")
            .order_by("executed_at", "id")
        ),
    )


class ResolutionForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea, help_text="What was found and what was done about it.")


@admin.register(ReconciliationCase)
class ReconciliationCaseAdmin(ReadOnlyAdmin):
    list_display = ("opened_at", "venue", "kind", "client_order_id", "status", "resolved_by", "resolved_at")
    list_filter = ("status", "venue", "kind")
    search_fields = ("client_order_id", "order__id", "order__account__account_number")
    date_hierarchy = "opened_at"
    list_select_related = ("resolved_by",)
    fields = (
        "venue",
        "kind",
        "status",
        "order",
        "client_order_id",
        "details",
        "opened_at",
        "resolved_by",
        "resolved_at",
        "resolution",
        "resolve_link",
    )
    readonly_fields = fields

    @admin.display(description="Resolve")
    def resolve_link(self, case):
        if case.status != ReconciliationCase.Status.OPEN:
            return "—"
        return format_html(
            '<a class="button" href="{}">Resolve this case</a>',
            reverse("admin:trading_reconciliationcase_resolve", args=[case.pk]),
        )

    def get_urls(self):
        resolve = path(
            "<int:case_id>/resolve/",
            self.admin_site.admin_view(self.resolve_view),
            name="trading_reconciliationcase_resolve",
        )
        return [resolve, *super().get_urls()]

    def resolve_view(self, request, case_id):
        if not request.user.has_perm(RESOLVE_PERMISSION):
            raise PermissionDenied
        case = get_object_or_404(ReconciliationCase, pk=case_id)
        change_url = reverse("admin:trading_reconciliationcase_change", args=[case.pk])
        form = ResolutionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.reconciliation_case_resolve(
                    case_id=case.pk, staff=request.user, resolution=form.cleaned_data["resolution"], request=request
                )
            except DomainError as refused:
                messages.error(request, refused.message)
            else:
                messages.success(request, f"Case {case.pk} resolved; {case.venue} reopens at the next reconciliation.")
            return redirect(change_url)
        return TemplateResponse(
            request,
            "admin/accounts/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Resolve reconciliation case {case.pk}",
                "subject": str(case),
                "form": form,
                "submit_label": "Resolve",
                "cancel_url": change_url,
            },
        )
