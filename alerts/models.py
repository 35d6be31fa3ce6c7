import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class PriceAlert(models.Model):
    """Tell the customer when a symbol's price crosses a threshold (or moves a percentage since the previous close)."""

    class Condition(models.TextChoices):
        PRICE_ABOVE = "price_above", "Price at or above"
        PRICE_BELOW = "price_below", "Price at or below"
        CHANGE_UP = "change_up", "Up at least % since the previous close"
        CHANGE_DOWN = "change_down", "Down at least % since the previous close"

    class Status(models.TextChoices):
        ACTIVE = "active"
        TRIGGERED = "triggered"  # a one-shot alert that fired: done
        CANCELED = "canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts")
    symbol = models.CharField(max_length=32)
    condition = models.CharField(max_length=16, choices=Condition.choices)
    # A price for price_* conditions, a percentage (5 = 5 %) for change_* conditions.
    value = models.DecimalField(max_digits=20, decimal_places=9)
    repeat = models.BooleanField(default=False, help_text="Fire again after the cool-down instead of once.")
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    trigger_count = models.PositiveIntegerField(default=0)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_triggered_price = models.DecimalField(max_digits=20, decimal_places=9, null=True, blank=True)
    # A repeating alert that fired sleeps until then.
    rearm_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    # Feed processes read alerts changed since their last read (alerts/book.py): indexed.
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="price_alert_value_positive"),
            models.CheckConstraint(
                condition=~Q(condition__in=["change_up", "change_down"]) | Q(value__lt=1000),
                name="price_alert_percent_below_1000",
            ),
            models.CheckConstraint(
                condition=Q(cooldown_seconds__gte=60), name="price_alert_cooldown_at_least_a_minute"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "triggered", "canceled"]), name="price_alert_known_status"
            ),
        ]
        indexes = [models.Index(fields=["user", "status"], name="price_alert_user_status")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.condition} {self.value}"

    @property
    def is_percent(self) -> bool:
        return self.condition in (self.Condition.CHANGE_UP, self.Condition.CHANGE_DOWN)

    @property
    def fires_upwards(self) -> bool:
        return self.condition in (self.Condition.PRICE_ABOVE, self.Condition.CHANGE_UP)

    def describe(self) -> str:
        return describe(self.condition, self.value)


def describe(condition: str, value) -> str:
    """ "at or above $120", "down 5% since the previous close": an alert's condition in words."""
    text = f"{value.normalize():f}"
    words: dict[str, str] = {
        PriceAlert.Condition.PRICE_ABOVE: f"at or above ${text}",
        PriceAlert.Condition.PRICE_BELOW: f"at or below ${text}",
        PriceAlert.Condition.CHANGE_UP: f"up {text}% since the previous close",
        PriceAlert.Condition.CHANGE_DOWN: f"down {text}% since the previous close",
    }
    return words[condition]
