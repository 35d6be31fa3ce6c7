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
    # Reference data from providers (issue 20): Polygon's ticker type, CoinGecko's rank.
    security_type = models.CharField(max_length=16, blank=True, help_text='Polygon ticker type: "CS", "ETF", ...')
    market_cap_rank = models.PositiveIntegerField(null=True, blank=True, help_text="CoinGecko market cap rank.")
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


class AssetIcon(models.Model):
    """An asset's icon, downloaded once and served by us (`/assets/<symbol>/icon`), never hot-linked."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="icon")
    content_type = models.CharField(max_length=32)
    data = models.BinaryField()
    source_url = models.URLField(max_length=500)
    fetched_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"icon of {self.asset_id}"


class Timeframe(models.TextChoices):
    MINUTE = "1Min"
    FIVE_MINUTES = "5Min"
    HOUR = "1Hour"
    DAY = "1Day"


class Bar(models.Model):
    """OHLCV for one asset over one interval starting at `timestamp`.

    The primary key is the natural key (asset, timeframe, timestamp): it is the index
    every bar query uses, and it contains the time column, which TimescaleDB requires
    of a hypertable's unique indexes. Daily bars start at midnight America/New_York.
    """

    pk = models.CompositePrimaryKey("asset", "timeframe", "timestamp")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="bars")
    timeframe = models.CharField(max_length=8, choices=Timeframe.choices)
    timestamp = models.DateTimeField(help_text="Start of the interval (UTC).")
    open = models.DecimalField(max_digits=20, decimal_places=9)
    high = models.DecimalField(max_digits=20, decimal_places=9)
    low = models.DecimalField(max_digits=20, decimal_places=9)
    close = models.DecimalField(max_digits=20, decimal_places=9)
    volume = models.DecimalField(max_digits=28, decimal_places=9, default=Decimal("0"))
    trade_count = models.PositiveIntegerField(default=0)
    vwap = models.DecimalField(max_digits=20, decimal_places=9, null=True, blank=True)

    class Meta:
        ordering = ["asset", "timeframe", "timestamp"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(low__lte=models.F("open"))
                & models.Q(low__lte=models.F("close"))
                & models.Q(high__gte=models.F("open"))
                & models.Q(high__gte=models.F("close")),
                name="bar_open_close_within_low_high",
            ),
            models.CheckConstraint(condition=models.Q(low__gt=0), name="bar_low_positive"),
            models.CheckConstraint(condition=models.Q(volume__gte=0), name="bar_volume_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.timeframe} {self.timestamp:%Y-%m-%d %H:%M}"


class LatestQuote(models.Model):
    """Each asset's newest quote, kept in the database so closed hours and restarts keep it.

    The quote store (Redis or the process) is what every reader asks; this row is its durable
    copy: the feed writes it with the bars and loads it back into the store when it starts.
    """

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="latest_quote")
    bid = models.DecimalField(max_digits=24, decimal_places=9)
    ask = models.DecimalField(max_digits=24, decimal_places=9)
    bid_size = models.DecimalField(max_digits=28, decimal_places=9)
    ask_size = models.DecimalField(max_digits=28, decimal_places=9)
    last = models.DecimalField(max_digits=24, decimal_places=9)
    last_size = models.DecimalField(max_digits=28, decimal_places=9)
    timestamp = models.DateTimeField(help_text="When the feed produced the quote (UTC).")

    def __str__(self) -> str:
        return f"{self.asset_id} at {self.timestamp:%Y-%m-%d %H:%M:%S}"
