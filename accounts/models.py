"""Users, the KYC application (its documents, agreements and status history), account restrictions,
API keys and the audit trail: the app's schema.

One module despite its length (issue 17): it is declarations — fields, constraints, the KYC state
machine's table and small derived properties — with no business logic to separate (that is in
`accounts.services`), and Django looks an app's models up here.
"""

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from accounts.storage import private_document_storage

if TYPE_CHECKING:  # Django's managers are generic only in the stubs, not at runtime
    _BaseUserManager = DjangoUserManager["User"]
else:
    _BaseUserManager = DjangoUserManager


class UserManager(_BaseUserManager):
    """Email is the login; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    # Email-first on purpose (there is no username), so the signature differs from Django's.
    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(  # type: ignore[override]  # email-first, as create_user
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    # The product speaks exchange time (ET) unless the customer picks another zone for their pages.
    DEFAULT_TIME_ZONE = "America/New_York"
    TIME_ZONES = [
        ("America/New_York", "Eastern (New York)"),
        ("America/Chicago", "Central (Chicago)"),
        ("America/Denver", "Mountain (Denver)"),
        ("America/Phoenix", "Mountain, no DST (Phoenix)"),
        ("America/Los_Angeles", "Pacific (Los Angeles)"),
        ("America/Anchorage", "Alaska (Anchorage)"),
        ("Pacific/Honolulu", "Hawaii (Honolulu)"),
        ("UTC", "UTC"),
        ("Europe/London", "London"),
        ("Europe/Berlin", "Central Europe (Berlin)"),
        ("Asia/Singapore", "Singapore"),
        ("Asia/Tokyo", "Tokyo"),
        ("Australia/Sydney", "Sydney"),
    ]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = None  # type: ignore[assignment]  # Django's documented way to drop an inherited field
    email = models.EmailField("email address", unique=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONES, default=DEFAULT_TIME_ZONE)
    # The trade chart's indicator toggles (marketdata.indicators names), kept across devices.
    chart_indicators = models.JSONField(default=list, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_ci")]

    def __str__(self) -> str:
        return self.email


class AuditEvent(models.Model):
    """An append-only record of something a regulator could ask about.

    Written in the same transaction as the change it describes (see
    `accounts.services.audit_event_record`). The application never updates or deletes
    these rows, and on PostgreSQL a trigger refuses UPDATE and DELETE outright.
    """

    class ActorType(models.TextChoices):
        USER = "user"
        STAFF = "staff"
        SYSTEM = "system"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    action = models.CharField(max_length=64, db_index=True, help_text='Namespaced, e.g. "kyc.approved".')
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    subject_user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        help_text="The customer this event concerns, for per-customer review and export.",
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["subject_user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"


class KYCApplication(models.Model):
    """A customer's identity application, modelled on Alpaca Broker API's account request
    (contact, identity, disclosures, agreements, trusted contact). One per user.

    Status moves only through `accounts.services` along `ALLOWED_TRANSITIONS`; each move
    is a `KYCStatusChange` row. The tax id is stored encrypted (`accounts.encryption`)
    with its last four characters kept apart for masked display.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved"
        REJECTED = "rejected"
        ACTION_REQUIRED = "action_required", "Action required"

    ALLOWED_TRANSITIONS: ClassVar[dict[str, set[str]]] = {
        Status.DRAFT: {Status.SUBMITTED},
        Status.SUBMITTED: {Status.IN_REVIEW, Status.APPROVED, Status.REJECTED, Status.ACTION_REQUIRED},
        Status.IN_REVIEW: {Status.APPROVED, Status.REJECTED, Status.ACTION_REQUIRED},
        Status.ACTION_REQUIRED: {Status.SUBMITTED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
    }
    EDITABLE_STATUSES = {Status.DRAFT, Status.ACTION_REQUIRED}
    AWAITING_REVIEW_STATUSES = {Status.SUBMITTED, Status.IN_REVIEW}

    # What the customer fills in (plus the write-only `tax_id`), step by step in the onboarding's order:
    # the one list the draft service, the completeness check, the API, the forms and the admin read.
    CONTACT_FIELDS = (
        "email_address",
        "phone_number",
        "street_address",
        "unit",
        "city",
        "state",
        "postal_code",
        "country",
    )
    IDENTITY_FIELDS = (
        "given_name",
        "family_name",
        "date_of_birth",
        "tax_id_type",
        "tax_id",
        "country_of_citizenship",
        "country_of_tax_residence",
        "funding_source",
    )
    DISCLOSURE_FIELDS = (
        "is_control_person",
        "is_affiliated_exchange_or_finra",
        "is_politically_exposed",
        "immediate_family_exposed",
    )
    TRUSTED_CONTACT_FIELDS = (
        "trusted_contact_given_name",
        "trusted_contact_family_name",
        "trusted_contact_email",
        "trusted_contact_phone",
    )
    EDITABLE_FIELDS = CONTACT_FIELDS + IDENTITY_FIELDS + DISCLOSURE_FIELDS + TRUSTED_CONTACT_FIELDS
    # Editable but not needed to submit; `state` is required for US addresses only (selectors.kyc_missing_items).
    OPTIONAL_FIELDS = frozenset({"unit", "state", *TRUSTED_CONTACT_FIELDS})

    class Level(models.IntegerChoices):
        NONE = 0
        BASIC = 1
        FULL = 2

    class TaxIdType(models.TextChoices):
        USA_SSN = "USA_SSN", "US Social Security Number"
        USA_ITIN = "USA_ITIN", "US Individual Taxpayer Identification Number"
        NATIONAL_ID = "NATIONAL_ID", "National identity number"
        PASSPORT = "PASSPORT", "Passport number"

    class FundingSource(models.TextChoices):
        EMPLOYMENT_INCOME = "employment_income", "Employment income"
        INVESTMENTS = "investments"
        INHERITANCE = "inheritance"
        BUSINESS_INCOME = "business_income", "Business income"
        SAVINGS = "savings"
        FAMILY = "family"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="kyc_application")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    kyc_level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.NONE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="Latest submission: the queue's order.")
    decided_at = models.DateTimeField(null=True, blank=True)

    # Contact
    email_address = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=20, blank=True)
    street_address = models.CharField(max_length=200, blank=True)
    unit = models.CharField(max_length=50, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, help_text="Two-letter code; required in the US.")
    postal_code = models.CharField(max_length=12, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")

    # Identity
    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    tax_id_type = models.CharField(max_length=16, choices=TaxIdType.choices, blank=True)
    tax_id_encrypted = models.TextField(blank=True, editable=False)
    tax_id_last4 = models.CharField(max_length=4, blank=True, editable=False)
    country_of_citizenship = models.CharField(max_length=2, blank=True)
    country_of_tax_residence = models.CharField(max_length=2, blank=True)
    funding_source = models.JSONField(default=list, blank=True, help_text="FundingSource values.")

    # Disclosures (None = not answered yet)
    is_control_person = models.BooleanField(null=True, blank=True)
    is_affiliated_exchange_or_finra = models.BooleanField(null=True, blank=True)
    is_politically_exposed = models.BooleanField(null=True, blank=True)
    immediate_family_exposed = models.BooleanField(null=True, blank=True)

    # Trusted contact (optional)
    trusted_contact_given_name = models.CharField(max_length=100, blank=True)
    trusted_contact_family_name = models.CharField(max_length=100, blank=True)
    trusted_contact_email = models.EmailField(blank=True)
    trusted_contact_phone = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["submitted_at", "created_at"]
        verbose_name = "KYC application"
        permissions = [("review_kycapplication", "Can approve, reject or request action on KYC applications")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kyc_level__in=[0, 1, 2]), name="kyc_level_known"),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(kyc_level__gt=0), name="kyc_approved_has_level"
            ),
        ]

    def __str__(self) -> str:
        return f"KYC {self.user.email} ({self.status})"

    @property
    def tax_id_masked(self) -> str:
        from accounts.encryption import mask_last4

        return mask_last4(self.tax_id_last4)

    @staticmethod
    def masked_field_names(names: tuple[str, ...]) -> tuple[str, ...]:
        """`names` as the API and the admin show them: the tax id only ever masked."""
        return tuple("tax_id_masked" if name == "tax_id" else name for name in names)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    def clean(self):
        from accounts import kyc_validation

        errors = {}
        checks = [
            ("country", kyc_validation.validate_country_code),
            ("country_of_citizenship", kyc_validation.validate_country_code),
            ("country_of_tax_residence", kyc_validation.validate_country_code),
        ]
        if self.country == "US":
            checks += [
                ("state", kyc_validation.validate_us_state),
                ("postal_code", kyc_validation.validate_us_postal_code),
            ]
        for field, check in checks:
            value = getattr(self, field)
            if value:
                try:
                    check(value)
                except ValidationError as exc:
                    errors[field] = exc.messages
        if self.date_of_birth is not None:
            try:
                kyc_validation.validate_date_of_birth(self.date_of_birth)
            except ValidationError as exc:
                errors["date_of_birth"] = exc.messages
        for field in ("phone_number", "trusted_contact_phone"):
            value = getattr(self, field)
            if value and not kyc_validation.PHONE_NUMBER.match(value):
                errors[field] = ["Enter a phone number with country code, e.g. +1 555 123 4567."]
        trusted = [self.trusted_contact_given_name, self.trusted_contact_family_name]
        reachable = self.trusted_contact_email or self.trusted_contact_phone
        if (any(trusted) or reachable) and not (all(trusted) and reachable):
            errors.setdefault("trusted_contact_given_name", []).append(
                "A trusted contact needs a given name, a family name and an email or phone number."
            )
        unknown_sources = set(self.funding_source or []) - set(self.FundingSource.values)
        if not isinstance(self.funding_source, list) or unknown_sources:
            errors["funding_source"] = [f"Choose among: {', '.join(self.FundingSource.values)}."]
        if errors:
            raise ValidationError(errors)


class KYCAgreement(models.Model):
    """A signed agreement (Alpaca's `agreements[]`): which one, when and from which IP."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", "Customer agreement"
        ACCOUNT = "account", "Account agreement"
        MARGIN = "margin", "Margin agreement"

    application = models.ForeignKey(KYCApplication, on_delete=models.PROTECT, related_name="agreements")
    agreement = models.CharField(max_length=16, choices=Kind.choices)
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["signed_at"]
        constraints = [models.UniqueConstraint(fields=["application", "agreement"], name="kyc_agreement_once")]

    def __str__(self) -> str:
        return f"{self.get_agreement_display()} signed {self.signed_at:%Y-%m-%d %H:%M}"


def kyc_document_path(document: "KYCDocument", filename: str) -> str:
    # The client's file name is never used on disk: it may be anything.
    return f"kyc/{document.application.user_id}/{document.id}"


class KYCDocument(models.Model):
    class Type(models.TextChoices):
        ID_FRONT = "id_front", "ID (front)"
        ID_BACK = "id_back", "ID (back)"
        PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(KYCApplication, on_delete=models.PROTECT, related_name="documents")
    document_type = models.CharField(max_length=20, choices=Type.choices)
    file = models.FileField(upload_to=kyc_document_path, storage=private_document_storage, max_length=200)
    content_type = models.CharField(max_length=40, help_text="Detected from the file's bytes.")
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at"]
        verbose_name = "KYC document"

    def __str__(self) -> str:
        return f"{self.get_document_type_display()} ({self.uploaded_at:%Y-%m-%d})"


class KYCStatusChange(models.Model):
    """One move of an application along its state machine: who, why, and — for
    action_required — exactly which documents and fields the customer must provide."""

    application = models.ForeignKey(KYCApplication, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=KYCApplication.Status.choices)
    to_status = models.CharField(max_length=16, choices=KYCApplication.Status.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    requested_documents = models.JSONField(default=list, blank=True)
    requested_fields = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "KYC status change"

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class AccountRestriction(models.Model):
    """Why a brokerage account's trading, transfers or whole account is blocked.

    The `portfolios.Account` flags are what enforcement reads; these rows keep the reason
    and the history (who blocked, who lifted, when). At most one active row per kind.
    """

    class Kind(models.TextChoices):
        TRADING = "trading", "Trading blocked"
        TRANSFERS = "transfers", "Transfers blocked"
        ACCOUNT = "account", "Account frozen"

    class CustomerMessage(models.TextChoices):
        """What the customer is told, chosen by staff; the internal note (`reason`) is never shown."""

        UNDER_REVIEW = "under_review", "Your account is under review. Contact Support if you have questions."
        INFORMATION_NEEDED = (
            "information_needed",
            "We need more information from you. Please check your email or contact Support.",
        )
        SECURITY = "security", "For your security, activity on this account is paused. Please contact Support."
        REGULATORY = "regulatory", "Activity on this account is restricted for regulatory reasons. Contact Support."
        DEPOSIT_RETURNED = (
            "deposit_returned",
            "Your bank returned a deposit, so transfers are paused until it is resolved. Please contact Support.",
        )

    ACCOUNT_FLAG = {
        Kind.TRADING: "trading_blocked",
        Kind.TRANSFERS: "transfers_blocked",
        Kind.ACCOUNT: "account_blocked",
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("portfolios.Account", on_delete=models.PROTECT, related_name="restrictions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField("internal note", help_text="For staff only; never shown to the customer.")
    customer_message = models.CharField(
        max_length=32,
        choices=CustomerMessage.choices,
        default=CustomerMessage.UNDER_REVIEW,
        help_text="What the customer is told while the restriction is in place.",
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Empty: the system."
    )  # the system restricts an account on an ACH return (portfolios.services.transfer_return)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"], condition=models.Q(lifted_at__isnull=True), name="one_active_restriction"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"


class Customer(User):
    """Customers (non-staff users) as compliance staff see them in the admin."""

    class Meta:
        proxy = True
        permissions = [
            ("restrict_account", "Can block/unblock trading, transfers or the whole account"),
            ("export_records", "Can export a customer's records as CSV"),
            ("send_password_reset", "Can send a customer a password reset email"),
        ]


class ApiKey(models.Model):
    """A key pair for programs (Alpaca's `APCA-API-KEY-ID` + `APCA-API-SECRET-KEY`).

    The secret is shown once at creation and kept only as its SHA-256 digest: it is 40
    random characters, so a slow password hash would add nothing but milliseconds to
    every request. Revoked keys stay (the audit trail and the key list refer to them).
    """

    class Scope(models.TextChoices):
        READ_ONLY = "read_only", "read only"
        TRADING = "trading", "trading"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    key_id = models.CharField(max_length=20, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, editable=False)
    label = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=9, choices=Scope.choices, default=Scope.TRADING)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_key_user_active")]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=["read_only", "trading"]), name="api_key_scope")
        ]

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_trade(self) -> bool:
        return self.scope == self.Scope.TRADING
