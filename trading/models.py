"""Orders, their append-only event timeline, and executions (fills), shaped like Alpaca's Trading API v2.

Order status changes only through `trading.states.order_transition`, which writes an
`OrderEvent` in the same transaction.
"""

import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from speedtrade.money import DecimalFieldShape
from trading.matching import trailing_stop_price  # the book's own rule, for `Order.current_stop_price`

# trading's own shapes (not speedtrade.money's): its columns were created with these, so the
# values must not change (makemigrations); the TypedDict only gives `DecimalField(**X)` its types.
QTY_FIELD: DecimalFieldShape = {"max_digits": 24, "decimal_places": 9}
PRICE_FIELD: DecimalFieldShape = {"max_digits": 24, "decimal_places": 9}
MONEY_FIELD: DecimalFieldShape = {"max_digits": 20, "decimal_places": 2}


class OrderStatus(models.TextChoices):
    # held: a contingent leg waiting for its parent to fill (not yet at any venue).
    HELD = "held"
    NEW = "new"
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    EXPIRED = "expired"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REPLACED, OrderStatus.REJECTED}
)
OPEN_STATUSES = frozenset(set(OrderStatus) - TERMINAL_STATUSES)


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Type(models.TextChoices):
        MARKET = "market"
        LIMIT = "limit"
        STOP = "stop"
        STOP_LIMIT = "stop_limit"
        TRAILING_STOP = "trailing_stop"

    class TimeInForce(models.TextChoices):
        DAY = "day"
        GTC = "gtc"
        IOC = "ioc"
        FOK = "fok"
        OPG = "opg"
        CLS = "cls"

    class OrderClass(models.TextChoices):
        SIMPLE = "simple"
        BRACKET = "bracket"
        OCO = "oco"
        OTO = "oto"

    class LegRole(models.TextChoices):
        """What a child order is for; empty on parents and simple orders."""

        NONE = ""
        TAKE_PROFIT = "take_profit"
        STOP_LOSS = "stop_loss"

    Status = OrderStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_order_id = models.CharField(max_length=128)
    account = models.ForeignKey("portfolios.Account", on_delete=models.PROTECT, related_name="orders")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="orders")
    symbol = models.CharField(max_length=32)
    asset_class = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=16, choices=Type.choices)
    time_in_force = models.CharField(max_length=4, choices=TimeInForce.choices)
    qty = models.DecimalField(**QTY_FIELD, null=True, blank=True)
    notional = models.DecimalField(**MONEY_FIELD, null=True, blank=True)
    limit_price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    stop_price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    trail_price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    hwm = models.DecimalField(**PRICE_FIELD, null=True, blank=True, help_text="Trailing stop high/low water mark.")
    extended_hours = models.BooleanField(default=False)
    order_class = models.CharField(max_length=8, choices=OrderClass.choices, default=OrderClass.SIMPLE)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="legs")
    leg_role = models.CharField(max_length=12, choices=LegRole.choices, default=LegRole.NONE, blank=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    filled_qty = models.DecimalField(**QTY_FIELD, default=Decimal(0))
    filled_notional = models.DecimalField(
        **MONEY_FIELD, default=Decimal(0), help_text="Σ fill qty × price, to the cent."
    )
    filled_avg_price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    broker = models.CharField(max_length=16)
    broker_order_id = models.CharField(max_length=128, blank=True)
    reject_reason = models.CharField(max_length=255, blank=True)
    # What this order still holds back from the account: cash for buys, shares for sells.
    reserved_cash = models.DecimalField(**MONEY_FIELD, default=Decimal(0))
    reserved_qty = models.DecimalField(**QTY_FIELD, default=Decimal(0))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the engine's outbox relay handed this `new` order to the submit task (external venues only):
    # the relay picks up the `new` orders of external venues without it (trading/engine.py).
    submit_queued_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Day orders: the close of their session.")
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    replaced_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    # Pre-trade warnings (e.g. a good-faith violation ahead) that `order_place` found, for the response
    # that placed the order. Not a column: they are kept in the order's "new" event.
    warnings: Sequence[dict] = ()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="order_client_order_id_unique"),
            models.CheckConstraint(
                condition=(Q(qty__isnull=False) & Q(notional__isnull=True))
                | (Q(qty__isnull=True) & Q(notional__isnull=False)),
                name="order_exactly_one_of_qty_notional",
            ),
            models.CheckConstraint(condition=Q(qty__isnull=True) | Q(qty__gt=0), name="order_qty_positive"),
            models.CheckConstraint(
                condition=Q(notional__isnull=True) | Q(notional__gt=0), name="order_notional_positive"
            ),
            models.CheckConstraint(
                condition=Q(filled_qty__gte=0) & (Q(qty__isnull=True) | Q(filled_qty__lte=F("qty"))),
                name="order_filled_qty_within_qty",
            ),
            models.CheckConstraint(
                condition=Q(reserved_cash__gte=0) & Q(reserved_qty__gte=0), name="order_reservations_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=TERMINAL_STATUSES) | (Q(reserved_cash=0) & Q(reserved_qty=0)),
                name="order_ended_holds_nothing",
            ),
            models.CheckConstraint(condition=Q(status__in=list(OrderStatus)), name="order_status_known"),
        ]
        indexes = [
            models.Index(fields=["account", "status", "-created_at"], name="order_account_status_created"),
            models.Index(fields=["account", "-created_at"], name="order_account_created"),
            # Changes per venue since a watermark: the paper book's sync and reconciliation.
            models.Index(fields=["broker", "updated_at"], name="order_broker_updated"),
            models.Index(
                fields=["expires_at"], condition=Q(status__in=sorted(OPEN_STATUSES)), name="order_open_expiry"
            ),
            # The engine's inbox (paper) and outbox (other venues) are the `new` rows themselves: this keeps
            # their claim proportional to what waits, not to the order table.
            models.Index(fields=["broker", "created_at"], condition=Q(status="new"), name="order_new_by_venue"),
        ]

    def __str__(self) -> str:
        amount = f"{self.qty}" if self.qty is not None else f"${self.notional}"
        return f"{self.side} {amount} {self.symbol} {self.type} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining_qty(self) -> Decimal | None:
        """Shares still to fill; None for notional orders (see `remaining_notional`)."""
        return None if self.qty is None else self.qty - self.filled_qty

    @property
    def has_legs(self) -> bool:
        """A contingent order's parent: Alpaca shows its legs."""
        return self.order_class != self.OrderClass.SIMPLE and self.parent_id is None

    @property
    def current_stop_price(self) -> Decimal | None:
        """What Alpaca shows as stop_price: for trailing stops, the water mark ∓ the trail."""
        if self.type != self.Type.TRAILING_STOP:
            return self.stop_price
        return trailing_stop_price(
            side=self.side, hwm=self.hwm, trail_price=self.trail_price, trail_percent=self.trail_percent
        )

    @property
    def remaining_notional(self) -> Decimal | None:
        return None if self.notional is None else self.notional - self.filled_notional


class OrderEvent(models.Model):
    """One row per thing that happened to an order. Append-only (a PostgreSQL trigger refuses changes)."""

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    qty = models.DecimalField(**QTY_FIELD, null=True, blank=True)
    price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    latency_us = models.BigIntegerField(null=True, blank=True, help_text="e.g. submission round trip to the venue.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="orderevent_order_id")]

    def __str__(self) -> str:
        return f"{self.event}: {self.from_status} → {self.to_status}"


class Execution(models.Model):
    """A fill reported by a venue. `broker_exec_id` is unique, so a repeated report is harmless."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="executions")
    broker_exec_id = models.CharField(max_length=128, unique=True)
    qty = models.DecimalField(**QTY_FIELD)
    price = models.DecimalField(**PRICE_FIELD)
    fee = models.DecimalField(**MONEY_FIELD, default=Decimal(0))
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["executed_at", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="execution_qty_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="execution_price_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="execution_fee_non_negative"),
        ]
        indexes = [models.Index(fields=["order", "executed_at"], name="execution_order_time")]

    def __str__(self) -> str:
        return f"{self.qty} @ {self.price}"


class ReconciliationCase(models.Model):
    """A disagreement between a venue and SpeedTrade's books that reconciliation could not settle.

    While a venue has an open case it is halted for new orders; compliance reviews the
    details in the admin and resolves the case (audited), which lifts the halt at the next
    reconciliation run once no other case is open.
    """

    class Kind(models.TextChoices):
        VENUE_FILLED_MORE = "venue_filled_more", "Venue reports fills we cannot book"
        WE_FILLED_MORE = "we_filled_more", "We booked fills the venue does not report"
        UNKNOWN_AT_VENUE = "unknown_at_venue", "Venue does not know an order we consider live"
        OPEN_ONLY_AT_VENUE = "open_only_at_venue", "Venue holds open an order we consider ended or never sent"

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    id = models.BigAutoField(primary_key=True)
    venue = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    client_order_id = models.CharField(max_length=128, help_text="The order's id as the venue knows it.")
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [("resolve_reconciliationcase", "Can resolve reconciliation cases")]
        constraints = [
            # One open case per venue, kind and order: reconciliation runs every 30 s.
            models.UniqueConstraint(
                fields=["venue", "kind", "client_order_id"],
                condition=Q(status="open"),
                name="reconciliationcase_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.venue}: {self.get_kind_display()} ({self.client_order_id})"
