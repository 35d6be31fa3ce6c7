from rest_framework import serializers

from recurring.models import RecurringPlan, RecurringRun


class _StrictSerializer(serializers.Serializer):
    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        return attrs


class PlanOutputSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = RecurringPlan
        fields = [
            "id",
            "symbol",
            "amount",
            "frequency",
            "weekday",
            "day_of_month",
            "time_of_day",
            "start_date",
            "end_date",
            "max_runs",
            "status",
            "runs_scheduled",
            "next_scheduled_date",
            "next_run_date",
            "next_run_at",
            "created_at",
            "updated_at",
        ]


class PlanCreateInputSerializer(_StrictSerializer):
    symbol = serializers.CharField(max_length=32)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=1, help_text="Dollars, at least 1.00.")
    frequency = serializers.ChoiceField(choices=RecurringPlan.Frequency.choices)
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False, help_text="0 = Monday")
    day_of_month = serializers.IntegerField(min_value=1, max_value=31, required=False)
    time_of_day = serializers.TimeField(required=False, help_text="New York time, crypto plans (default 10:00)")
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True)
    max_runs = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class PlanUpdateInputSerializer(_StrictSerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=1, required=False)
    frequency = serializers.ChoiceField(choices=RecurringPlan.Frequency.choices, required=False)
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False)
    day_of_month = serializers.IntegerField(min_value=1, max_value=31, required=False)
    time_of_day = serializers.TimeField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)
    max_runs = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class RunOutputSerializer(serializers.ModelSerializer):
    order_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = RecurringRun
        fields = [
            "id",
            "scheduled_date",
            "run_date",
            "status",
            "order_id",
            "skip_code",
            "skip_reason",
            "created_at",
            "finished_at",
        ]
