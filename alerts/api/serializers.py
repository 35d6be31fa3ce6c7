from rest_framework import serializers

from alerts.models import PriceAlert


class AlertOutputSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="describe")
    value = serializers.DecimalField(max_digits=20, decimal_places=9, coerce_to_string=True, normalize_output=True)
    last_triggered_price = serializers.DecimalField(
        max_digits=20, decimal_places=9, coerce_to_string=True, normalize_output=True, allow_null=True
    )

    class Meta:
        model = PriceAlert
        fields = [
            "id",
            "symbol",
            "condition",
            "value",
            "description",
            "repeat",
            "cooldown_seconds",
            "status",
            "trigger_count",
            "last_triggered_at",
            "last_triggered_price",
            "rearm_at",
            "created_at",
            "updated_at",
        ]


class _StrictSerializer(serializers.Serializer):
    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        return attrs


class AlertCreateInputSerializer(_StrictSerializer):
    symbol = serializers.CharField(max_length=32)
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices)
    value = serializers.DecimalField(
        max_digits=20, decimal_places=9, min_value=0, help_text="A price, or a percentage for change_*."
    )
    repeat = serializers.BooleanField(default=False)
    cooldown_seconds = serializers.IntegerField(default=3600, min_value=60, max_value=30 * 86400)


class AlertUpdateInputSerializer(_StrictSerializer):
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices, required=False)
    value = serializers.DecimalField(max_digits=20, decimal_places=9, min_value=0, required=False)
    repeat = serializers.BooleanField(required=False)
    cooldown_seconds = serializers.IntegerField(min_value=60, max_value=30 * 86400, required=False)
