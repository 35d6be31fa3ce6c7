import uuid
from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

from recurring import schedule


class RecurringPlan(models.Model):
    """Buy `amount` dollars of `symbol` on a schedule, through the normal order entry."""

    class Frequency(models.TextChoices):
        DAILY = schedule.DAILY, "Every trading day"
        WEEKLY = schedule.WEEKLY, "Every week"
        BIWEEKLY = schedule.BIWEEKLY, "Every two weeks"
        MONTHLY = schedule.MONTHLY, "Every month"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        CANCELED = "canceled"
        COMPLETED = "completed"  # reached its end date or its number of runs

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recurring_plans")
    account = models.ForeignKey("portfolios.Account", on_delete=models.PROTECT, related_name="recurring_plans")
    symbol = models.CharField(max_length=32)
    is_crypto = models.BooleanField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 = Monday (weekly, every two weeks)")
    day_of_month = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–31 (monthly)")
    time_of_day = models.TimeField(default=time(10, 0), help_text="New York time (crypto plans)")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    max_runs = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    runs_scheduled = models.PositiveIntegerField(default=0)
    # The next scheduled date, its run date and when that run may start; null once the plan ends.
    next_scheduled_date = models.DateField(null=True, blank=True)
    next_run_date = models.DateField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="recurring_plan_amount_at_least_a_dollar"),
            models.CheckConstraint(
                condition=Q(status__in=["active", "paused", "canceled", "completed"]),
                name="recurring_plan_known_status",
            ),
            models.CheckConstraint(
                condition=~Q(frequency__in=["weekly", "biweekly"]) | Q(weekday__gte=0, weekday__lte=6),
                name="recurring_plan_weekly_has_weekday",
            ),
            models.CheckConstraint(
                condition=~Q(frequency="monthly") | Q(day_of_month__gte=1, day_of_month__lte=31),
                name="recurring_plan_monthly_has_day",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="recurring_plan_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(next_run_at__isnull=False), name="recurring_plan_active_has_next_run"
            ),
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(status="active"), name="recurring_plan_due"),
        ]

    def __str__(self) -> str:
        return f"${self.amount} of {self.symbol} {self.frequency}"


class RecurringPlanEvent(models.Model):
    """Every change of a plan's status (and edits), written with it (recurring/states.py)."""

    id = models.BigAutoField(primary_key=True)
    plan = models.ForeignKey(RecurringPlan, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=20)
    from_status = models.CharField(max_length=10)
    to_status = models.CharField(max_length=10)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.event}"


class RecurringRun(models.Model):
    """One scheduled date of a plan: at most one order (unique plan + scheduled date, and its client order id)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # claimed; the order is being placed (a worker that died here is picked up again)
        PLACED = "placed"
        SKIPPED = "skipped"

    id = models.BigAutoField(primary_key=True)
    plan = models.ForeignKey(RecurringPlan, on_delete=models.PROTECT, related_name="runs")
    scheduled_date = models.DateField()
    run_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    client_order_id = models.CharField(max_length=64, unique=True)
    order = models.OneToOneField("trading.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    skip_code = models.CharField(max_length=40, blank=True)
    skip_reason = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-scheduled_date"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "scheduled_date"], name="recurring_run_once_per_scheduled_date"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "placed", "skipped"]), name="recurring_run_known_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="placed") | Q(order__isnull=False), name="recurring_run_placed_has_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.scheduled_date} {self.status}"
