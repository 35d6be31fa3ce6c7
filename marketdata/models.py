import uuid
from decimal import Decimal

from django.db import models
from django.db.models.functions import Upper

from marketdata.calendars import CRYPTO, US_EQUITY


class Asset(models.Model):
    """A tradable instrument, shaped like Alpaca's asset."""

    class AssetClass(models.TextChoices):
        US_EQUITY = US_EQUITY
        CRYPTO = CRYPTO

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    symbol = models.CharField(max_length=32, unique=True, help_text='e.g. "AAPL" or "BTC/USD"')
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices)
    exchange = models.CharField(max_length=16)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    tradable = models.BooleanField(default=True)
    fractionable = models.BooleanField(default=True)
    shortable = models.BooleanField(default=False)
    marginable = models.BooleanField(default=False)
    easy_to_borrow = models.BooleanField(default=False)
    min_order_size = models.DecimalField(max_digits=20, decimal_places=9, default=Decimal("0.000000001"))
    min_trade_increment = models.DecimalField(max_digits=20, decimal_places=9, default=Decimal("0.000000001"))
    price_increment = models.DecimalField(max_digits=20, decimal_places=9, default=Decimal("0.01"))
    reference_price = models.DecimalField(
        max_digits=20, decimal_places=9, help_text="Seed price for the simulated feed and a fallback before any quote."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(Upper("symbol"), name="asset_symbol_unique_ci"),
            models.CheckConstraint(condition=models.Q(reference_price__gt=0), name="asset_reference_price_positive"),
            models.CheckConstraint(condition=models.Q(min_trade_increment__gt=0), name="asset_min_increment_positive"),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def is_crypto(self) -> bool:
        return self.asset_class == self.AssetClass.CRYPTO
