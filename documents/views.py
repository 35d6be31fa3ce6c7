"""The Documents page: the customer's statements, confirmations and tax reports, filtered, and their downloads."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render

from documents import selectors, services
from documents.models import AccountDocument, DocumentKind
from speedtrade.errors import NotFound, Unavailable


class DocumentFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "All documents"), *DocumentKind.choices], required=False, label="Type")
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", "The end date is before the start date.")
        return cleaned


def attachment(document: AccountDocument, content: bytes) -> HttpResponse:
    """The verified bytes as a download, never cached by a shared cache."""
    response = HttpResponse(content, content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = document.sha256
    return response


@login_required
def documents_page(request):
    form = DocumentFilterForm(request.GET or None)
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    documents = selectors.document_list(user=request.user, **filters)
    page = Paginator(documents, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "documents/documents.html", {"form": form, "page": page, "query": query.urlencode()})


@login_required
def document_download(request, document_id):
    try:
        document = selectors.document_get(user=request.user, document_id=document_id)
    except NotFound as missing:
        raise Http404 from missing  # the same answer whether it does not exist or is another customer's
    try:
        content = services.document_content_verified(document=document, actor=request.user, request=request)
    except Unavailable as refused:
        return render(request, "documents/unavailable.html", {"message": refused.message}, status=503)
    return attachment(document, content)
