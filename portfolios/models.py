import secrets
import uuid

from django.conf import settings
from django.db import models


def new_account_number() -> str:
    return f"ST{secrets.randbelow(10**10):010d}"


class Account(models.Model):
    """A customer's brokerage account. One per user to begin with; the model allows more."""

    class Type(models.TextChoices):
        CASH = "cash"
        MARGIN = "margin"

    class Status(models.TextChoices):
        ONBOARDING = "onboarding"  # KYC not yet approved
        ACTIVE = "active"
        CLOSED = "closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="brokerage_accounts")
    account_number = models.CharField(max_length=12, unique=True, default=new_account_number, editable=False)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.CASH)
    currency = models.CharField(max_length=3, default="USD", editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ONBOARDING)
    trading_blocked = models.BooleanField(default=False)
    transfers_blocked = models.BooleanField(default=False)
    account_blocked = models.BooleanField(default=False, help_text="Frozen: no trading, no transfers.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.account_number

    @property
    def can_trade(self) -> bool:
        return self.status == self.Status.ACTIVE and not (self.trading_blocked or self.account_blocked)

    @property
    def can_transfer(self) -> bool:
        return self.status != self.Status.CLOSED and not (self.transfers_blocked or self.account_blocked)
