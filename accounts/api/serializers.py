from rest_framework import serializers

from accounts.models import User
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
