"""Compliance's view of account documents (read-only, per customer) and the two-person correction.

Documents are never changed or deleted here (nor anywhere: the table is append-only in PostgreSQL). A correction
is requested on the correction's add form (document + reason) and approved or rejected by a different officer
with the list actions; approval issues the corrected document. Each step goes through `documents.services`,
which checks the permissions, the four eyes and the officer's own account, and audits it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from documents import services
from documents.models import AccountDocument, DocumentCorrection
from documents.views import attachment
from speedtrade.admin import ReadOnlyAdmin
from speedtrade.errors import DomainError, Unavailable

DOWNLOAD_PERMISSION = "documents.download_accountdocument"


@admin.register(AccountDocument)
class AccountDocumentAdmin(ReadOnlyAdmin):
    list_display = ("title", "account", "kind", "period_start", "period_end", "issued_at", "corrects")
    list_filter = ("kind", "issued_at")
    search_fields = ("account__account_number", "account__user__email", "title", "=id")
    date_hierarchy = "issued_at"
    list_select_related = ("account", "corrects")
    fields = (
        "id", "account", "kind", "title", "period_start", "period_end", "order", "issued_at", "content_type", "size",
        "sha256", "download", "corrects", "data",
    )  # fmt: skip
    readonly_fields = ("download",)

    @admin.display(description="File")
    def download(self, document: AccountDocument) -> str:
        """Compliance reads the file through the same digest check and audit as the customer."""
        url = reverse("admin:documents_accountdocument_download", args=[document.pk])
        return format_html('<a href="{}">Download {}</a>', url, document.filename)

    def get_urls(self):
        download = path(
            "<uuid:object_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="documents_accountdocument_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request, object_id) -> HttpResponse:
        if not request.user.has_perm(DOWNLOAD_PERMISSION):
            raise PermissionDenied
        document = get_object_or_404(AccountDocument.objects.select_related("account__user"), pk=object_id)
        try:
            content = services.document_content_verified(document=document, actor=request.user, request=request)
        except Unavailable as refused:
            return HttpResponse(refused.message, status=503, content_type="text/plain; charset=utf-8")
        return attachment(document, content)


class DocumentCorrectionForm(forms.ModelForm):
    class Meta:
        model = DocumentCorrection
        fields = ["document", "reason"]
        widgets = {"reason": forms.Textarea}


@admin.register(DocumentCorrection)
class DocumentCorrectionAdmin(admin.ModelAdmin):
    form = DocumentCorrectionForm
    list_display = ("document", "status", "requested_by", "decided_by", "issued", "created_at", "decided_at")
    list_filter = ("status", "created_at")
    search_fields = ("document__account__account_number", "document__account__user__email", "reason")
    raw_id_fields = ("document",)
    actions = ["approve", "reject"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return request.user.has_perm("documents.approve_documentcorrection")

    def save_model(self, request, obj, form, change):
        """Requesting goes through the service (permissions, audit); nothing is issued yet."""
        try:
            requested = services.document_correction_request(
                document=obj.document, reason=obj.reason, requested_by=request.user, request=request
            )
        except DomainError as refusal:
            raise PermissionDenied(refusal.message) from refusal
        obj.pk = requested.pk

    def _decide(self, request, queryset, decide, verb: str):
        for correction in queryset:
            try:
                decide(correction)
            except DomainError as refusal:
                self.message_user(request, f"{correction}: {refusal.message}", messages.ERROR)
            else:
                self.message_user(request, f"{correction}: {verb}.", messages.SUCCESS)

    @admin.action(description="Approve (issues the corrected document)", permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda c: services.document_correction_approve(correction=c, approved_by=request.user, request=request),
            "approved, corrected document issued",
        )

    @admin.action(description="Reject", permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda c: services.document_correction_reject(correction=c, rejected_by=request.user, request=request),
            "rejected",
        )
