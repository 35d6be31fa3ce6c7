"""KYC: the customer's application (draft, documents, submission), compliance decisions along its
state machine, audited reads of the record, and re-encrypting tax ids after a key rotation."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import kyc_validation, selectors
from accounts.audit import audit_event_record, client_ip
from accounts.encryption import encrypt_text, rows_reencrypt
from accounts.models import KYCAgreement, KYCApplication, KYCDocument, KYCStatusChange, User
from accounts.services.common import require_not_own, require_permission, require_reason
from portfolios.services import accounts_activate
from speedtrade.auth_cache import credentials_revoke
from speedtrade.errors import Conflict, InvalidInput, full_clean


def _application_for_update(*, user: User) -> KYCApplication:
    """The user's application, created as a draft on first use, locked for this transaction."""
    application, created = KYCApplication.objects.get_or_create(user=user, defaults={"email_address": user.email})
    if created:
        audit_event_record(action="kyc.started", actor=user, target=application, subject_user=user)
    return KYCApplication.objects.select_for_update().get(pk=application.pk)


def _require_editable(application: KYCApplication) -> None:
    if not application.is_editable:
        raise Conflict(
            f"The application is {application.get_status_display().lower()} and can no longer be changed.",
            code="kyc_not_editable",
        )


@transaction.atomic
def kyc_draft_save(*, user: User, changes: dict, agreements: Sequence[str] = (), request=None) -> KYCApplication:
    """Save part of the user's application (any subset of KYCApplication.EDITABLE_FIELDS) and sign
    agreements. Formats are checked now; completeness only at submission."""
    application = _application_for_update(user=user)
    _require_editable(application)
    unknown = set(changes) - set(KYCApplication.EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({name: "Unknown field." for name in sorted(unknown)})
    changes = dict(changes)
    tax_id = changes.pop("tax_id", None)
    for name, value in changes.items():
        setattr(application, name, "" if value is None and name not in _NULLABLE_FIELDS else value)
    if tax_id:
        try:
            normalized = kyc_validation.normalize_tax_id(application.tax_id_type, tax_id)
        except ValidationError as exc:
            raise InvalidInput({"tax_id": exc.messages}) from exc
        application.tax_id_encrypted = encrypt_text(normalized)
        application.tax_id_last4 = normalized[-4:]
    full_clean(application)
    application.save()
    signed = _agreements_sign(application=application, agreements=agreements, request=request)
    audit_event_record(
        action="kyc.draft_saved",
        actor=user,
        target=application,
        subject_user=user,
        # Field names only: the audit trail must not become a second copy of personal data.
        after={"fields": sorted(changes) + (["tax_id"] if tax_id else []), "agreements_signed": signed},
        request=request,
    )
    return application


# Cleared to None rather than "" (the date of birth and the yes/no disclosures).
_NULLABLE_FIELDS = {
    name for name in KYCApplication.EDITABLE_FIELDS if name != "tax_id" and selectors.kyc_application_column(name).null
}


def _agreements_sign(*, application: KYCApplication, agreements, request) -> list[str]:
    known = set(KYCAgreement.Kind.values)
    if set(agreements) - known:
        raise InvalidInput({"agreements": f"Agreements are among: {', '.join(sorted(known))}."})
    already = set(application.agreements.values_list("agreement", flat=True))
    new = [kind for kind in dict.fromkeys(agreements) if kind not in already]
    for kind in new:
        KYCAgreement.objects.create(
            application=application,
            agreement=kind,
            signed_at=timezone.now(),
            ip_address=client_ip(request) if request is not None else None,
        )
    return new


@transaction.atomic
def kyc_document_upload(*, user: User, document_type: str, uploaded_file, request=None) -> KYCDocument:
    """Store an identity document. Its type is read from its bytes; the client's claim is ignored."""
    application = _application_for_update(user=user)
    _require_editable(application)
    if document_type not in KYCDocument.Type.values:
        raise InvalidInput({"document_type": f"Choose among: {', '.join(KYCDocument.Type.values)}."})
    try:
        content_type = kyc_validation.sniff_document_content_type(uploaded_file)
    except ValidationError as exc:
        raise InvalidInput({"file": exc.messages}) from exc
    document = KYCDocument(
        application=application,
        document_type=document_type,
        content_type=content_type,
        size=uploaded_file.size,
        original_name=(getattr(uploaded_file, "name", "") or "")[:200],
    )
    document.file.save(document.id.hex, uploaded_file, save=False)
    document.save()
    audit_event_record(
        action="kyc.document_uploaded",
        actor=user,
        target=document,
        subject_user=user,
        after={"document_type": document_type, "content_type": content_type, "size": document.size},
        request=request,
    )
    return document


@transaction.atomic
def kyc_submit(*, user: User, request=None) -> KYCApplication:
    """Send a complete application to the compliance queue (again, after action_required)."""
    application = _application_for_update(user=user)
    if application.status not in KYCApplication.EDITABLE_STATUSES:
        raise Conflict(
            f"The application is already {application.get_status_display().lower()}.", code="kyc_already_submitted"
        )
    missing = selectors.kyc_missing_items(application=application)
    errors: dict[str, list[str]] = {name: ["This field is required."] for name in missing["fields"]}
    if missing["documents"]:
        labels = [KYCDocument.Type(doc).label for doc in missing["documents"]]
        errors["documents"] = [f"Upload: {', '.join(labels)}."]
    if missing["agreements"]:
        labels = [KYCAgreement.Kind(kind).label for kind in missing["agreements"]]
        errors["agreements"] = [f"Accept: {', '.join(labels)}."]
    if errors:
        raise InvalidInput(errors)
    full_clean(application)
    application.submitted_at = timezone.now()
    _kyc_transition(application, to_status=KYCApplication.Status.SUBMITTED, actor=user, request=request)
    return application


def _kyc_transition(
    application: KYCApplication,
    *,
    to_status: str,
    actor: User | None,
    reason: str = "",
    requested_documents: Sequence[str] = (),
    requested_fields: Sequence[str] = (),
    request=None,
) -> KYCStatusChange:
    """Move a locked application along its state machine: history row + audit event."""
    from_status = application.status
    if to_status not in KYCApplication.ALLOWED_TRANSITIONS[from_status]:
        raise Conflict(
            f"A {KYCApplication.Status(from_status).label.lower()} application cannot become "
            f"{KYCApplication.Status(to_status).label.lower()}.",
            code="kyc_invalid_transition",
        )
    application.status = to_status
    application.save()
    change = KYCStatusChange.objects.create(
        application=application,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        requested_documents=list(requested_documents),
        requested_fields=list(requested_fields),
    )
    audit_event_record(
        action=f"kyc.{to_status}",
        actor=actor,
        target=application,
        subject_user=application.user,
        before={"status": from_status},
        after={
            "status": to_status,
            "kyc_level": application.kyc_level,
            "reason": reason,
            "requested_documents": list(requested_documents),
            "requested_fields": list(requested_fields),
        },
        request=request,
    )
    credentials_revoke(application.user_id, everything=True)  # who may trade changed: no process keeps the old view
    return change


def _locked_application(application: KYCApplication, *, actor: User | None) -> KYCApplication:
    """The application locked for a decision by `actor`, who may not be its applicant."""
    require_not_own(actor, application.user_id, "decide on your own KYC application")
    return KYCApplication.objects.select_for_update().select_related("user").get(pk=application.pk)


@transaction.atomic
def kyc_review_start(*, application: KYCApplication, actor: User, request=None) -> KYCApplication:
    """A compliance officer takes a submitted application into review."""
    require_permission(actor, "accounts.review_kycapplication")
    application = _locked_application(application, actor=actor)
    _kyc_transition(application, to_status=KYCApplication.Status.IN_REVIEW, actor=actor, request=request)
    return application


@transaction.atomic
def kyc_approve(
    *,
    application: KYCApplication,
    actor: User | None,
    reason: str,
    kyc_level: int = KYCApplication.Level.FULL,
    request=None,
) -> KYCApplication:
    """Approve: the user's onboarding accounts become active (and so may trade)."""
    require_permission(actor, "accounts.review_kycapplication")
    reason = require_reason(reason)
    if kyc_level not in (KYCApplication.Level.BASIC, KYCApplication.Level.FULL):
        raise InvalidInput({"kyc_level": "An approval grants level 1 (basic) or 2 (full)."})
    application = _locked_application(application, actor=actor)
    application.kyc_level = kyc_level
    application.decided_at = timezone.now()
    change = _kyc_transition(
        application, to_status=KYCApplication.Status.APPROVED, actor=actor, reason=reason, request=request
    )
    # Lock order: application, then the user's accounts (as restrictions lock accounts alone).
    accounts_activate(user=application.user, actor=actor, request=request)
    _decision_email_send_on_commit(change)
    return application


@transaction.atomic
def kyc_reject(*, application: KYCApplication, actor: User | None, reason: str, request=None) -> KYCApplication:
    """Reject: final; the accounts stay in onboarding and cannot trade."""
    require_permission(actor, "accounts.review_kycapplication")
    reason = require_reason(reason)
    application = _locked_application(application, actor=actor)
    application.kyc_level = KYCApplication.Level.NONE
    application.decided_at = timezone.now()
    change = _kyc_transition(
        application, to_status=KYCApplication.Status.REJECTED, actor=actor, reason=reason, request=request
    )
    _decision_email_send_on_commit(change)
    return application


@transaction.atomic
def kyc_request_action(
    *,
    application: KYCApplication,
    actor: User | None,
    reason: str,
    requested_documents: Sequence[str] = (),
    requested_fields: Sequence[str] = (),
    request=None,
) -> KYCApplication:
    """Send the application back to the customer naming exactly what is missing."""
    require_permission(actor, "accounts.review_kycapplication")
    reason = require_reason(reason)
    requested_documents = list(dict.fromkeys(requested_documents))
    requested_fields = list(dict.fromkeys(requested_fields))
    errors = {}
    if set(requested_documents) - set(KYCDocument.Type.values):
        errors["requested_documents"] = f"Documents are among: {', '.join(KYCDocument.Type.values)}."
    if set(requested_fields) - set(KYCApplication.EDITABLE_FIELDS):
        errors["requested_fields"] = "Unknown application field."
    if not requested_documents and not requested_fields and not errors:
        errors["requested_documents"] = "Name at least one missing document or field."
    if errors:
        raise InvalidInput(errors)
    application = _locked_application(application, actor=actor)
    change = _kyc_transition(
        application,
        to_status=KYCApplication.Status.ACTION_REQUIRED,
        actor=actor,
        reason=reason,
        requested_documents=requested_documents,
        requested_fields=requested_fields,
        request=request,
    )
    _decision_email_send_on_commit(change)
    return application


def _decision_email_send_on_commit(change: KYCStatusChange) -> None:
    from accounts.emails import kyc_decision_email_send

    transaction.on_commit(lambda: kyc_decision_email_send(change_id=change.pk))


@transaction.atomic
def kyc_record_view_record(*, application: KYCApplication, actor: User, request=None) -> None:
    """Staff read a customer's KYC record: reads of personal data are audited too."""
    if actor.pk != application.user_id:
        audit_event_record(
            action="kyc.record_viewed", actor=actor, target=application, subject_user=application.user, request=request
        )


@transaction.atomic
def kyc_document_view_record(*, document: KYCDocument, actor: User, request=None) -> None:
    owner = document.application.user
    if actor.pk != owner.pk:
        audit_event_record(
            action="kyc.document_viewed",
            actor=actor,
            target=document,
            subject_user=owner,
            after={"document_type": document.document_type},
            request=request,
        )


@transaction.atomic
def tax_ids_reencrypt() -> int:
    """Re-encrypt every stored tax id under the current key (after a key rotation)."""
    count = rows_reencrypt(KYCApplication.objects.all(), "tax_id_encrypted")
    if count:
        audit_event_record(action="kyc.tax_ids_reencrypted", after={"applications": count})
    return count
