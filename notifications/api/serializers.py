from rest_framework import serializers

from notifications.catalogue import ALWAYS_EMAILED, KINDS, Category
from notifications.models import Notification, NotificationPreference


class NotificationOutputSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=sorted(KINDS))
    is_read = serializers.BooleanField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "category", "title", "body", "url", "created_at", "read_at", "is_read"]


class NotificationReadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=500, help_text="Omit to mark every notification read."
    )


class NotificationReadOutputSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField()


class PreferenceOutputSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field, not Field.label: DRF's metaclass moves declared fields out of the class
    email_required = serializers.SerializerMethodField(help_text="Security emails cannot be turned off.")

    class Meta:
        model = NotificationPreference
        fields = ["category", "label", "in_app", "email", "push", "email_required"]

    def get_label(self, preference) -> str:
        return Category(preference.category).label

    def get_email_required(self, preference) -> bool:
        return preference.category in ALWAYS_EMAILED


class PreferenceInputSerializer(serializers.Serializer):
    in_app = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    push = serializers.BooleanField(required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        return attrs


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class DeviceInputSerializer(serializers.Serializer):
    """FCM: `{"kind": "fcm", "token": "..."}`; Web Push: `{"kind": "webpush", "endpoint": "...", "keys": {...}}`
    (a browser's PushSubscription.toJSON())."""

    kind = serializers.ChoiceField(choices=["fcm", "webpush"])
    token = serializers.CharField(max_length=1000, required=False)
    endpoint = serializers.URLField(max_length=1000, required=False)
    keys = WebPushKeysSerializer(required=False)
    label = serializers.CharField(max_length=100, required=False, default="")  # type: ignore[assignment]  # a field, not Field.label: DRF's metaclass moves declared fields out of the class

    def validate(self, attrs):
        if attrs["kind"] == "fcm" and not attrs.get("token"):
            raise serializers.ValidationError({"token": "FCM devices need their registration token."})
        if attrs["kind"] == "webpush":
            if not attrs.get("endpoint") or not attrs.get("keys"):
                raise serializers.ValidationError({"endpoint": "Web Push needs the subscription's endpoint and keys."})
            if not attrs["endpoint"].startswith("https://") and not self.context.get("allow_http"):
                raise serializers.ValidationError({"endpoint": "Push endpoints use HTTPS."})
        return attrs


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label: DRF's metaclass moves declared fields out of the class
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class WebPushPublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField()
