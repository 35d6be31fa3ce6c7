import hashlib
import hmac
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import kyc_validation, selectors
from accounts.audit import audit_event_record, client_ip
from accounts.emails import security_email_send_on_commit
from accounts.encryption import encrypt_text, rows_reencrypt
from accounts.models import AccountRestriction, ApiKey, KYCAgreement, KYCApplication, KYCDocument, KYCStatusChange, User
from portfolios.services import account_restriction_apply, accounts_activate
from speedtrade.errors import Conflict, DomainError, InvalidInput, NotPermitted, full_clean
from speedtrade.realtime import sockets_close


@transaction.atomic
def user_update_profile(
    *, user: User, first_name: str | None = None, last_name: str | None = None, time_zone: str | None = None
) -> User:
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    if time_zone is not None:
        user.time_zone = time_zone
    full_clean(user)
    user.save(update_fields=["first_name", "last_name", "time_zone"])
    return user


def user_chart_indicators_set(*, user: User, names: list[str]) -> User:
    """Remember which indicators this user's trade chart shows; unknown names are refused, nothing saved."""
    from marketdata.indicators import INDICATOR_NAMES

    unknown = sorted(set(names) - set(INDICATOR_NAMES))
    if unknown:
        raise InvalidInput(
            {"indicators": f"Unknown indicator {unknown[0]!r}; choose among {', '.join(INDICATOR_NAMES)}."}
        )
    user.chart_indicators = [name for name in INDICATOR_NAMES if name in names]
    user.save(update_fields=["chart_indicators"])
    return user


# --- KYC ---------------------------------------------------------------------------------


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
def kyc_draft_save(*, user: User, changes: dict, agreements: list[str] = (), request=None) -> KYCApplication:
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
    name for name in KYCApplication.EDITABLE_FIELDS if name != "tax_id" and KYCApplication._meta.get_field(name).null
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
    requested_documents: list[str] = (),
    requested_fields: list[str] = (),
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
    return change


def _require_permission(actor: User | None, permission: str) -> None:
    """Staff act only with the permission; `actor=None` is the system (operator commands)."""
    if actor is not None and not actor.has_perm(permission):
        raise NotPermitted(f"You lack the permission {permission}.")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": "A reason is required."})
    return reason


def _locked_application(application: KYCApplication, *, actor: User | None) -> KYCApplication:
    """The application locked for a decision by `actor`, who may not be its applicant."""
    _require_not_own(actor, application.user_id, "decide on your own KYC application")
    return KYCApplication.objects.select_for_update().select_related("user").get(pk=application.pk)


@transaction.atomic
def kyc_review_start(*, application: KYCApplication, actor: User, request=None) -> KYCApplication:
    """A compliance officer takes a submitted application into review."""
    _require_permission(actor, "accounts.review_kycapplication")
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
    _require_permission(actor, "accounts.review_kycapplication")
    reason = _require_reason(reason)
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
    _require_permission(actor, "accounts.review_kycapplication")
    reason = _require_reason(reason)
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
    requested_documents: list[str] = (),
    requested_fields: list[str] = (),
    request=None,
) -> KYCApplication:
    """Send the application back to the customer naming exactly what is missing."""
    _require_permission(actor, "accounts.review_kycapplication")
    reason = _require_reason(reason)
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


# --- Staff acting for customers ------------------------------------------------------


def _require_not_own(actor: User | None, user_id, what: str) -> None:
    """Staff never act on their own records (`what`: "decide on your own KYC application")."""
    if actor is not None and actor.pk == user_id:
        raise DomainError(f"You cannot {what}: ask another Compliance officer to do it.", code="own_record")


def customer_password_reset_send(*, customer: User, actor: User, request) -> None:
    """Staff help a customer who cannot log in: allauth's reset email goes to the customer's own
    address (staff never learn or set the password). Audited `account.password_reset_sent`.

    Sent while the request is at hand (allauth builds the link from it), after the audit row is
    committed: an email is never sent without its record.
    """
    from allauth.account.forms import ResetPasswordForm

    _require_permission(actor, "accounts.send_password_reset")
    if customer.is_staff:
        raise DomainError("Staff reset their own passwords from the login page.", code="not_a_customer")
    form = ResetPasswordForm(data={"email": customer.email})
    if not form.is_valid():
        raise DomainError(
            "This customer has no active login with a verified email to send a reset to.", code="no_reset_address"
        )
    with transaction.atomic():
        audit_event_record(
            action="account.password_reset_sent", actor=actor, target=customer, subject_user=customer, request=request
        )
    form.save(request)


# --- Account restrictions --------------------------------------------------------------


@transaction.atomic
def account_restriction_set(
    *,
    account,
    kind: str,
    blocked: bool,
    actor: User | None,
    reason: str,
    customer_message: str = "",
    request=None,
) -> AccountRestriction:
    """Block or unblock trading, transfers or the whole account, with an internal note (`reason`)
    and, when blocking, the message the customer is shown (`AccountRestriction.CustomerMessage`).

    Staff decide here (permission, reason, the customer's message, never their own account);
    `portfolios.services.account_restriction_apply` changes the account and records it.
    """
    _require_permission(actor, "accounts.restrict_account")
    reason = _require_reason(reason)
    if kind not in AccountRestriction.Kind.values:
        raise InvalidInput({"kind": f"Choose among: {', '.join(AccountRestriction.Kind.values)}."})
    if blocked and customer_message not in AccountRestriction.CustomerMessage.values:
        raise InvalidInput({"customer_message": "Choose the message the customer will see."})
    _require_not_own(actor, account.user_id, "restrict or lift your own account")
    return account_restriction_apply(
        account=account,
        kind=kind,
        blocked=blocked,
        actor=actor,
        reason=reason,
        customer_message=customer_message,
        request=request,
    )


# --- API keys --------------------------------------------------------------------------
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
# last_used_at is a hint for the key list, not an access log: written at most this often.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyInvalid(Exception):
    """Unknown key id, wrong secret, or a revoked key: all look the same to the caller."""


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, user: User, label: str = "", scope: str = ApiKey.Scope.TRADING, request=None
) -> tuple[ApiKey, str]:
    """A new key pair; the secret is returned here once and never stored in clear."""
    if scope not in ApiKey.Scope.values:
        raise InvalidInput({"scope": f"Choose among: {', '.join(ApiKey.Scope.values)}."})
    # The user's row lock serialises concurrent creations, so the limit holds.
    User.objects.select_for_update().only("pk").get(pk=user.pk)
    limit = settings.API_KEYS_MAX_ACTIVE
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= limit:
        raise DomainError(
            f"You already have {limit} active API keys, the most allowed: revoke one first.",
            code="api_key_limit_reached",
        )
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    key = ApiKey(
        user=user,
        key_id="PK" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(18)),
        secret_sha256=_secret_digest(secret),
        label=label.strip(),
        scope=scope,
    )
    full_clean(key)
    key.save()
    audit_event_record(
        action="api_key.created",
        actor=user,
        target=key,
        after={"key_id": key.key_id, "label": key.label, "scope": key.scope},
        request=request,
    )
    security_email_send_on_commit(user=user, template="api_key_created", context={"key": key}, request=request)
    return key, secret


def user_identity_confirm(*, user: User, password_or_code: str) -> None:
    """The person at the keyboard proves again that they are the user: their password, or a current code
    of their authenticator app. NotPermitted otherwise."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    answer = (password_or_code or "").strip()
    if answer and user.check_password(answer):
        return
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if answer and totp is not None and TOTP(totp).validate_code(answer):
        return
    raise NotPermitted("Confirm with your password (or your authenticator code).", code="reauthentication_failed")


def api_key_create_confirmed(
    *, user: User, password_or_code: str, label: str = "", scope: str = ApiKey.Scope.TRADING, request=None
) -> tuple[ApiKey, str]:
    """A key asked for by a person (dashboard, API): only after they confirm who they are again."""
    user_identity_confirm(user=user, password_or_code=password_or_code)
    return api_key_create(user=user, label=label, scope=scope, request=request)


def _api_key_revoked_record(*, key: ApiKey, actor: User, reason: str, request=None) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_event_record(
        action="api_key.revoked",
        actor=actor,
        target=key,
        before={"key_id": key.key_id, "revoked_at": None},
        after={"key_id": key.key_id, "revoked_at": key.revoked_at.isoformat(), "reason": reason},
        request=request,
    )
    sockets_close(key.user_id, api_key_id=key.key_id)


@transaction.atomic
def api_key_revoke(*, user: User, key_id: str, request=None) -> ApiKey:
    """Revoke one of the user's keys; the next request made with it is refused, its sockets close.

    Raises ApiKey.DoesNotExist for a key that is not the user's. Revoking twice is harmless.
    """
    key = ApiKey.objects.select_for_update().get(user=user, key_id=key_id)
    if key.revoked_at is None:
        _api_key_revoked_record(key=key, actor=user, reason="revoked_by_owner", request=request)
        security_email_send_on_commit(user=user, template="api_key_revoked", context={"key": key}, request=request)
    return key


@transaction.atomic
def user_credentials_changed(*, user: User, reason: str, request=None) -> list[ApiKey]:
    """The user's password or MFA changed: every API key is revoked and every socket closes.

    Whoever had the old password (or a stolen session) may have made keys; they end with it. Returns the
    keys revoked (the user is told by email: allauth mails the change itself, this mails the keys).
    """
    keys = list(ApiKey.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    for key in keys:
        _api_key_revoked_record(key=key, actor=user, reason=reason, request=request)
    sockets_close(user.pk, everything=True)
    if keys:
        security_email_send_on_commit(user=user, template="api_keys_revoked", context={"keys": keys}, request=request)
    return keys


def user_logged_out_sockets_close(*, user: User, session_key: str | None) -> None:
    """A logout ends the sockets its session (cookie or access token) opened."""
    if session_key:
        sockets_close(user.pk, session_key=session_key)


def api_key_authenticate(*, key_id: str, secret: str) -> ApiKey:
    """The active key (with its user) that this id and secret name, or ApiKeyInvalid."""
    key = ApiKey.objects.select_related("user").filter(key_id=key_id, revoked_at__isnull=True).first()
    # Compare a digest even for an unknown key id so timing does not tell which ids exist.
    expected = key.secret_sha256 if key is not None else _secret_digest("")
    if not hmac.compare_digest(expected, _secret_digest(secret)) or key is None or not key.user.is_active:
        raise ApiKeyInvalid
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        # Conditional: of concurrent requests at most one writes, and no row lock is taken.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
