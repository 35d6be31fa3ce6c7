"""Web onboarding: contact → identity → disclosures → agreements → documents → review,
a status page, and the one checked door to KYC documents."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts import forms, selectors, services
from accounts.middleware import session_passed_mfa
from accounts.models import KYCApplication, KYCDocument
from speedtrade.errors import DomainError, InvalidInput
from speedtrade.forms import add_domain_error

FIELD_STEPS = {
    "contact": ("Contact", forms.ContactForm),
    "identity": ("Identity", forms.IdentityForm),
    "disclosures": ("Disclosures", forms.DisclosuresForm),
}
STEPS = [*FIELD_STEPS, "agreements", "documents", "review"]
STEP_TITLES = {
    **{slug: title for slug, (title, _) in FIELD_STEPS.items()},
    "agreements": "Agreements",
    "documents": "Documents",
    "review": "Review and submit",
}


def _application(user) -> KYCApplication | None:
    return KYCApplication.objects.filter(user=user).first()


def _posted(request):
    """The POST data when posted (an empty POST still binds the form, so it shows errors)."""
    return request.POST if request.method == "POST" else None


def _next_step(step: str) -> str:
    return STEPS[STEPS.index(step) + 1]


def _context(request, step: str, **extra) -> dict:
    return {
        "steps": [(slug, STEP_TITLES[slug]) for slug in STEPS],
        "step": step,
        "step_title": STEP_TITLES[step],
        "kyc": selectors.kyc_status(user=request.user),
        **extra,
    }


def _refuse_if_locked(request, application):
    if application is not None and not application.is_editable:
        messages.info(request, "Your application has been submitted; it can no longer be changed.")
        return redirect("onboarding:status")
    return None


@login_required
def status(request):
    application = _application(request.user)
    return render(
        request,
        "onboarding/status.html",
        {
            "application": application,
            "kyc": selectors.kyc_status(user=request.user),
            "missing": selectors.kyc_missing_items(application=application) if application else None,
            "decisions": application.status_changes.exclude(actor=None) if application else [],
            "document_labels": dict(KYCDocument.Type.choices),
            "first_step": STEPS[0],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def field_step(request, step: str):
    if step not in FIELD_STEPS:
        raise Http404
    application = _application(request.user)
    if refusal := _refuse_if_locked(request, application):
        return refusal
    form_class = FIELD_STEPS[step][1]
    application_or_blank = application or KYCApplication(user=request.user, email_address=request.user.email)
    form = form_class(_posted(request), application=application_or_blank)
    if request.method == "POST" and form.is_valid():
        changes = {name: value for name, value in form.cleaned_data.items() if not (name == "tax_id" and not value)}
        try:
            services.kyc_draft_save(user=request.user, changes=changes, request=request)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("onboarding:step", step=_next_step(step))
    return render(request, "onboarding/step.html", _context(request, step, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def agreements_step(request):
    application = _application(request.user)
    if refusal := _refuse_if_locked(request, application):
        return refusal
    application = application or KYCApplication(user=request.user)
    signed = set(application.agreements.values_list("agreement", flat=True)) if application.pk else set()
    required = selectors.kyc_required_agreements(application=application)
    form = forms.AgreementsForm(_posted(request), required=required, signed=signed)
    if request.method == "POST" and form.is_valid():
        services.kyc_draft_save(user=request.user, changes={}, agreements=form.accepted(), request=request)
        return redirect("onboarding:step", step="documents")
    return render(request, "onboarding/step.html", _context(request, "agreements", form=form))


@login_required
@require_http_methods(["GET", "POST"])
def documents_step(request):
    application = _application(request.user)
    if refusal := _refuse_if_locked(request, application):
        return refusal
    form = forms.DocumentUploadForm(_posted(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.kyc_document_upload(
                user=request.user,
                document_type=form.cleaned_data["document_type"],
                uploaded_file=form.cleaned_data["file"],
                request=request,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Document uploaded.")
            return redirect("onboarding:step", step="documents")
    documents = application.documents.all() if application else []
    return render(request, "onboarding/documents.html", _context(request, "documents", form=form, documents=documents))


@login_required
@require_http_methods(["GET", "POST"])
def review_step(request):
    application = _application(request.user)
    if refusal := _refuse_if_locked(request, application):
        return refusal
    errors: dict[str, list[str]] | None = {}
    if request.method == "POST":
        try:
            services.kyc_submit(user=request.user, request=request)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            messages.success(request, "Application submitted. We will email you when it has been reviewed.")
            return redirect("onboarding:status")
    return render(
        request,
        "onboarding/review.html",
        _context(
            request,
            "review",
            application=application,
            errors=errors,
            missing=selectors.kyc_missing_labels(selectors.kyc_missing_items(application=application))
            if application
            else [],
        ),
    )


@login_required
def document_download(request, document_id):
    """Stream a KYC document to its owner, or to staff allowed to view documents (audited)."""
    document = get_object_or_404(KYCDocument.objects.select_related("application__user"), pk=document_id)
    is_owner = document.application.user_id == request.user.pk
    is_reviewer = (
        request.user.is_staff and request.user.has_perm("accounts.view_kycdocument") and session_passed_mfa(request)
    )
    if not (is_owner or is_reviewer):
        raise Http404  # the same answer whether or not the document exists
    services.kyc_document_view_record(document=document, actor=request.user, request=request)
    response = FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        as_attachment=True,
        filename=f"{document.document_type}{_EXTENSIONS[document.content_type]}",
    )
    response["Cache-Control"] = "private, no-store"
    return response


_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
