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
    label = serializers.SerializerMethodField()
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
