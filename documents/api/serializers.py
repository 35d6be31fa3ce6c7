from rest_framework import serializers

from documents.models import AccountDocument, DocumentKind


class DocumentFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices, required=False)
    start = serializers.DateField(required=False, help_text="Documents whose period ends on or after this date.")
    end = serializers.DateField(required=False, help_text="Documents whose period starts on or before this date.")

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end date is before the start date."]})
        return attrs


class DocumentOutputSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.account_number")
    order_id = serializers.UUIDField(allow_null=True)
    corrects = serializers.UUIDField(source="corrects_id", allow_null=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = AccountDocument
        fields = [
            "id", "kind", "title", "account_number", "period_start", "period_end", "order_id", "issued_at",
            "content_type", "size", "sha256", "corrects", "download_url",
        ]  # fmt: skip

    def get_download_url(self, document) -> str:
        return f"/api/v1/documents/{document.pk}/download"


class DocumentDetailSerializer(DocumentOutputSerializer):
    data = serializers.JSONField(  # type: ignore[assignment]  # a field, not Serializer.data: DRF's metaclass moves declared fields out of the class
        help_text="The figures behind the document; money and quantities as decimal strings."
    )

    class Meta(DocumentOutputSerializer.Meta):
        fields = [*DocumentOutputSerializer.Meta.fields, "data"]
