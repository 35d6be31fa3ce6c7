from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors
from accounts.models import ApiKey, KYCAgreement, KYCApplication, KYCDocument, User
from accounts.selectors import user_has_mfa


class ProfileOutputSerializer(serializers.ModelSerializer):
    mfa_enabled = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "first_name", "last_name", "date_joined", "mfa_enabled")

    def get_mfa_enabled(self, user) -> bool:
        return user_has_mfa(user=user)


class ProfileInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


# --- KYC --------------------------------------------------------------------------------


class KYCAgreementSerializer(serializers.ModelSerializer):
    # A plain string here so the schema has one enum for agreements (the input's).
    agreement = serializers.CharField(read_only=True)

    class Meta:
        model = KYCAgreement
        fields = ("agreement", "signed_at", "ip_address")


class KYCMissingSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields out of the class, so this does not shadow Serializer.fields at
    # runtime; the stubs cannot know that, and "fields" is the API's name for the missing application fields.
    fields = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    documents = serializers.ListField(child=serializers.CharField())
    agreements = serializers.ListField(child=serializers.CharField())


class KYCApplicationOutputSerializer(serializers.ModelSerializer):
    """The application as its owner sees it. The tax id is only ever shown masked."""

    tax_id_masked = serializers.CharField(read_only=True)
    agreements = KYCAgreementSerializer(many=True, read_only=True)
    requested_documents = serializers.SerializerMethodField()
    requested_fields = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()

    class Meta:
        model = KYCApplication
        fields = (
            "id",
            "status",
            "kyc_level",
            *KYCApplication.masked_field_names(KYCApplication.EDITABLE_FIELDS),
            "agreements",
            "requested_documents",
            "requested_fields",
            "missing",
            "created_at",
            "submitted_at",
            "decided_at",
        )

    def get_requested_documents(self, application) -> list[str]:
        return selectors.kyc_status(user=application.user).requested_documents

    def get_requested_fields(self, application) -> list[str]:
        return selectors.kyc_status(user=application.user).requested_fields

    @extend_schema_field(KYCMissingSerializer)
    def get_missing(self, application) -> dict:
        return selectors.kyc_missing_items(application=application)


class KYCDraftInputSerializer(serializers.Serializer):
    """Any subset of the application's fields; `tax_id` is write-only (never returned)."""

    email_address = serializers.EmailField(required=False, allow_blank=True)
    phone_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    street_address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=50, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.CharField(max_length=2, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2")
    given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    family_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    tax_id_type = serializers.ChoiceField(choices=KYCApplication.TaxIdType.choices, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=32, required=False, write_only=True)
    country_of_citizenship = serializers.CharField(max_length=2, required=False, allow_blank=True)
    country_of_tax_residence = serializers.CharField(max_length=2, required=False, allow_blank=True)
    funding_source = serializers.ListField(
        child=serializers.ChoiceField(choices=KYCApplication.FundingSource.choices), required=False
    )
    is_control_person = serializers.BooleanField(required=False, allow_null=True)
    is_affiliated_exchange_or_finra = serializers.BooleanField(required=False, allow_null=True)
    is_politically_exposed = serializers.BooleanField(required=False, allow_null=True)
    immediate_family_exposed = serializers.BooleanField(required=False, allow_null=True)
    trusted_contact_given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    trusted_contact_family_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    trusted_contact_email = serializers.EmailField(required=False, allow_blank=True)
    trusted_contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    agreements = serializers.ListField(
        child=serializers.ChoiceField(choices=KYCAgreement.Kind.choices),
        required=False,
        help_text="Agreements accepted now; each is recorded with time and IP.",
    )


class KYCDocumentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = KYCDocument
        fields = ("id", "document_type", "content_type", "size", "uploaded_at")


class KYCDocumentUploadSerializer(serializers.Serializer):
    document_type = serializers.ChoiceField(choices=KYCDocument.Type.choices)
    file = serializers.FileField(help_text="PDF, JPEG or PNG, at most 10 MB (checked by content, not by name).")


# --- API keys ---------------------------------------------------------------------------


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = ("key_id", "label", "scope", "created_at", "last_used_at", "revoked_at")


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown this once; SpeedTrade keeps only its digest.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = (*ApiKeyOutputSerializer.Meta.fields, "secret")


class ApiKeyInputSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Your password again (or a current code of your authenticator app): creating a key re-authenticates.",
    )
    # A declared field (DRF's metaclass moves it out of the class), not Field.label, which the stubs see.
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    scope = serializers.ChoiceField(choices=ApiKey.Scope.choices, required=False, default=ApiKey.Scope.TRADING)
