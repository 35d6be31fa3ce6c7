"""CSV export of one customer's records over a date range, for any ModelAdmin.

Usage in another app's admin (orders, ledger entries, transfers...)::

    from accounts.admin_export import CsvExport, CsvExportAdminMixin

    @admin.register(Order)
    class OrderAdmin(CsvExportAdminMixin, admin.ModelAdmin):
        csv_export = CsvExport(
            name="orders",
            columns=[("id", lambda o: o.id), ("symbol", lambda o: o.symbol), ("created_at", lambda o: o.created_at)],
            rows=lambda user, start, end: Order.objects.filter(
                account__user=user, created_at__gte=start, created_at__lt=end
            ),
        )

The changelist gets an "Export CSV" button (template `admin/csv_export_change_list.html`)
leading to `<changelist>/export/`: staff with `accounts.export_records` choose a customer
and a date range (inclusive days, UTC) and download the file. Every export is audited
(`records.exported`). Cells that a spreadsheet would run as formulas are neutralised.
"""

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.models import User
from speedtrade.spreadsheet import csv_cell

if TYPE_CHECKING:
    # Only in django-stubs: what ModelAdmin's templates may be. Mixed into ModelAdmins, this class
    # must declare the attribute with exactly that type (mypy holds mutable attributes invariant).
    from django.template.response import _TemplateForResponseT

EXPORT_PERMISSION = "accounts.export_records"


@dataclass(frozen=True)
class CsvExport:
    name: str
    columns: list[tuple[str, Callable[[Any], Any]]]
    rows: Callable[[User, datetime, datetime], QuerySet]  # (user, start, end) → records in [start, end)


class ExportRangeForm(forms.Form):
    customer_email = forms.EmailField(label="Customer email")
    start = forms.DateField(label="From (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean_customer_email(self):
        user = User.objects.filter(email__iexact=self.cleaned_data["customer_email"]).first()
        if user is None:
            raise forms.ValidationError("No user with this email.")
        return user

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; None only from overrides that opt out
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", "The end date is before the start date.")
        return cleaned


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """Inclusive days → a half-open [start, end) interval of aware datetimes."""
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz)


def csv_response(*, filename: str, columns: list[tuple[str, Callable]], records: Iterable) -> HttpResponse:
    # Built in memory, not streamed: one customer's range is small, and a streamed
    # response would run its queries after the view returned (outside its thread under ASGI).
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow([header for header, _ in columns])
    for record in records:
        writer.writerow([csv_cell(value(record)) for _, value in columns])
    return response


def export_audit_record(request, *, export_name: str, user: User, start: date, end: date) -> None:
    """`records.exported`: who took which customer's records for which days, before a byte is sent."""
    with transaction.atomic():
        audit_event_record(
            action="records.exported",
            actor=request.user,
            target=user,
            subject_user=user,
            after={"export": export_name, "start": start.isoformat(), "end": end.isoformat()},
            request=request,
        )


def export_view(model_admin, request, export: CsvExport):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    form = ExportRangeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user, start, end = form.cleaned_data["customer_email"], form.cleaned_data["start"], form.cleaned_data["end"]
        export_audit_record(request, export_name=export.name, user=user, start=start, end=end)
        records = export.rows(user, *day_range(start, end)).iterator()
        filename = f"{export.name}-{user.pk}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return csv_response(filename=filename, columns=export.columns, records=records)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Export {export.name} as CSV",
        "form": form,
    }
    return TemplateResponse(request, "admin/csv_export_form.html", context)


if TYPE_CHECKING:  # admin mixins are only ever combined with ModelAdmin; this lets mypy see what they extend
    ModelAdminMixinBase = admin.ModelAdmin[Any]
else:
    ModelAdminMixinBase = object


class CsvExportAdminMixin(ModelAdminMixinBase):
    """Adds `<changelist>/export/` (and its button) for the admin's `csv_export`."""

    csv_export: CsvExport
    change_list_template: ClassVar["_TemplateForResponseT | None"] = "admin/csv_export_change_list.html"

    def get_urls(self):
        opts = self.model._meta
        export = path(
            "export/",
            self.admin_site.admin_view(lambda request: export_view(self, request, self.csv_export)),
            name=f"{opts.app_label}_{opts.model_name}_export",
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": request.user.has_perm(EXPORT_PERMISSION)}
        return super().changelist_view(request, extra_context)
