from dataclasses import dataclass, field

from allauth.mfa.models import Authenticator
from django.db import models

from accounts.models import ApiKey, KYCAgreement, KYCApplication, KYCDocument, KYCStatusChange, User

# What a complete application holds (submission checks these; request_action may name them).
REQUIRED_FIELDS = tuple(name for name in KYCApplication.EDITABLE_FIELDS if name not in KYCApplication.OPTIONAL_FIELDS)
REQUIRED_DOCUMENTS = (KYCDocument.Type.ID_FRONT, KYCDocument.Type.PROOF_OF_ADDRESS)


def user_has_mfa(*, user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


@dataclass(frozen=True)
class KYCStatus:
    """Where a user's onboarding stands, as the status page, the API and trading see it."""

    status: str  # "none" before any application, else KYCApplication.Status
    kyc_level: int = 0
    requested_documents: list[str] = field(default_factory=list)
    requested_fields: list[str] = field(default_factory=list)
    reason: str = ""  # the latest decision's reason, shown to the user

    @property
    def approved(self) -> bool:
        return self.status == KYCApplication.Status.APPROVED

    @property
    def requested_document_labels(self) -> list[str]:
        return [KYCDocument.Type(doc).label for doc in self.requested_documents]

    @property
    def requested_field_labels(self) -> list[str]:
        return [kyc_field_label(name) for name in self.requested_fields]


def kyc_field_label(name: str) -> str:
    """What the customer calls an application field ("Postal code", not "postal_code")."""
    if name == "tax_id":  # stored encrypted under another name
        return "Tax id"
    return str(kyc_application_column(name).verbose_name).capitalize()


def kyc_application_column(name: str) -> models.Field:
    """One of the application's own fields, by name."""
    column = KYCApplication._meta.get_field(name)
    assert isinstance(column, models.Field)  # application fields are concrete columns, not relations
    return column


def kyc_latest_change(*, application: KYCApplication) -> KYCStatusChange | None:
    return application.status_changes.order_by("-created_at", "-id").first()


def kyc_status(*, user: User) -> KYCStatus:
    application = KYCApplication.objects.filter(user=user).first()
    if application is None:
        return KYCStatus(status="none")
    latest = kyc_latest_change(application=application)
    requested = latest if application.status == KYCApplication.Status.ACTION_REQUIRED and latest else None
    return KYCStatus(
        status=application.status,
        kyc_level=application.kyc_level,
        requested_documents=list(requested.requested_documents) if requested else [],
        requested_fields=list(requested.requested_fields) if requested else [],
        reason=latest.reason if latest and latest.actor_id else "",
    )


def kyc_required_agreements(*, application: KYCApplication) -> list[str]:
    from portfolios.models import Account

    required: list[str] = [KYCAgreement.Kind.CUSTOMER, KYCAgreement.Kind.ACCOUNT]
    if Account.objects.filter(user_id=application.user_id, type=Account.Type.MARGIN).exists():
        required.append(KYCAgreement.Kind.MARGIN)
    return required


def kyc_missing_items(*, application: KYCApplication) -> dict[str, list[str]]:
    """What stops this application from being submitted: fields, documents, agreements."""
    fields = []
    for name in REQUIRED_FIELDS:
        value = application.tax_id_encrypted if name == "tax_id" else getattr(application, name)
        if value in (None, "", []):
            fields.append(name)
    if application.country == "US" and not application.state:
        fields.append("state")
    uploaded = set(application.documents.values_list("document_type", flat=True))
    signed = set(application.agreements.values_list("agreement", flat=True))
    return {
        "fields": fields,
        "documents": [doc for doc in REQUIRED_DOCUMENTS if doc not in uploaded],
        "agreements": [kind for kind in kyc_required_agreements(application=application) if kind not in signed],
    }


def kyc_missing_labels(missing: dict[str, list[str]]) -> list[str]:
    """`kyc_missing_items` as the customer reads it ("Proof of address", never "proof_of_address")."""
    return [
        *(kyc_field_label(name) for name in missing["fields"]),
        *(KYCDocument.Type(doc).label for doc in missing["documents"]),
        *(KYCAgreement.Kind(kind).label for kind in missing["agreements"]),
    ]


@dataclass(frozen=True)
class OnboardingStep:
    slug: str  # an onboarding page (accounts.views.STEPS), or "approval" / "funding" after submission
    title: str
    done: bool


@dataclass(frozen=True)
class OnboardingProgress:
    """Home's checklist for a customer who cannot trade yet, and the one next thing to do."""

    kyc: KYCStatus
    steps: list[OnboardingStep]

    @property
    def next_step(self) -> OnboardingStep | None:
        return next((step for step in self.steps if not step.done), None)


# The application's sections in the order the onboarding pages ask for them.
_FIELD_SECTIONS = (
    ("contact", "Contact details", KYCApplication.CONTACT_FIELDS),
    ("identity", "Identity", KYCApplication.IDENTITY_FIELDS),
    ("disclosures", "Disclosures", KYCApplication.DISCLOSURE_FIELDS),
)


def onboarding_progress(*, user: User) -> OnboardingProgress:
    kyc = kyc_status(user=user)
    application = KYCApplication.objects.filter(user=user).first()
    missing = kyc_missing_items(application=application) if application else {}
    submitted = application is not None and not application.is_editable
    steps = [
        OnboardingStep(slug, title, bool(missing) and not set(missing["fields"]) & set(names))
        for slug, title, names in _FIELD_SECTIONS
    ]
    steps += [
        OnboardingStep("agreements", "Agreements", bool(missing) and not missing["agreements"]),
        OnboardingStep("documents", "Identity documents", bool(missing) and not missing["documents"]),
        OnboardingStep("review", "Review and submit", submitted),
        OnboardingStep("approval", "Compliance approval", kyc.approved),
    ]
    return OnboardingProgress(kyc=kyc, steps=steps)


def user_authenticators(*, user: User) -> dict[str, Authenticator]:
    """The user's MFA authenticators by type (totp, recovery_codes)."""
    return {authenticator.type: authenticator for authenticator in Authenticator.objects.filter(user=user)}


def api_key_list(*, user: User) -> list[ApiKey]:
    """The user's API keys, newest first, revoked ones included (they say when they stopped)."""
    return list(ApiKey.objects.filter(user=user))
