"""Alpaca-shaped output (field names from alpaca-py's TradeAccount, Position, Transfer and
activity models). Money and quantities are decimal strings, printed as computed: the
rounding already happened in `speedtrade.money`. Position quantities drop trailing zeros, as orders do."""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketdata.api.serializers import AssetOutputSerializer
from portfolios.models import Account, Transfer
from portfolios.selectors import ACTIVITY_TYPES, PERIODS, TIMEFRAMES
from speedtrade.money import decimal_string


@extend_schema_field(OpenApiTypes.DECIMAL)
class DecimalString(serializers.Field):
    """A Decimal as its exact string (no float, no re-rounding)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class QuantityString(DecimalString):
    """A quantity as orders print it on the wire: 12.5, not the stored 12.500000000."""

    def to_representation(self, value: Decimal) -> str:
        return decimal_string(value)


class AccountOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="account.id")
    account_number = serializers.CharField(source="account.account_number")
    status = serializers.SerializerMethodField()
    account_type = serializers.CharField(source="account.type")
    currency = serializers.CharField(source="account.currency")
    cash = DecimalString()
    settled_cash = DecimalString()
    unsettled_cash = DecimalString()
    withdrawable_cash = DecimalString()
    reserved_cash = DecimalString()
    pending_transfer_in = DecimalString()
    pending_transfer_out = DecimalString()
    buying_power = DecimalString()
    regt_buying_power = DecimalString()
    intraday_buying_power = DecimalString()
    non_marginable_buying_power = DecimalString()
    multiplier = serializers.SerializerMethodField()
    equity = DecimalString()
    portfolio_value = DecimalString(source="equity")
    last_equity = DecimalString()
    long_market_value = DecimalString()
    short_market_value = serializers.SerializerMethodField()
    initial_margin = DecimalString()
    maintenance_margin = DecimalString()
    daily_pl = DecimalString()
    daily_plpc = DecimalString(allow_null=True, help_text="null on the first day or when last_equity is not positive")
    total_pl = DecimalString()
    realized_pl = DecimalString()
    unrealized_pl = DecimalString()
    trading_blocked = serializers.BooleanField(source="account.trading_blocked")
    transfers_blocked = serializers.BooleanField(source="account.transfers_blocked")
    account_blocked = serializers.BooleanField(source="account.account_blocked")
    shorting_enabled = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="account.created_at")

    def get_status(self, valuation) -> str:
        return valuation.account.status.upper()  # Alpaca's AccountStatus spelling

    def get_multiplier(self, valuation) -> str:
        return str(valuation.multiplier)

    def get_short_market_value(self, valuation) -> str:
        return "0.00"  # long-only: SpeedTrade does not short

    def get_shorting_enabled(self, valuation) -> bool:
        return False


class PositionOutputSerializer(serializers.Serializer):
    asset_id = serializers.UUIDField(source="asset.id")
    symbol = serializers.CharField(source="asset.symbol")
    exchange = serializers.CharField(source="asset.exchange")
    asset_class = serializers.CharField(source="asset.asset_class")
    asset_marginable = serializers.BooleanField(source="asset.marginable")
    side = serializers.SerializerMethodField()
    qty = QuantityString()
    qty_available = QuantityString()
    avg_entry_price = DecimalString()
    cost_basis = DecimalString()
    market_value = DecimalString()
    current_price = DecimalString()
    lastday_price = DecimalString()
    change_today = DecimalString()
    unrealized_pl = DecimalString()
    unrealized_plpc = DecimalString()
    unrealized_intraday_pl = DecimalString()
    unrealized_intraday_plpc = DecimalString()
    realized_pl = DecimalString()

    def get_side(self, valuation) -> str:
        return "long"


class TransferInputSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Transfer.Direction.choices)
    # Shape only (number, two decimals, positive); the money rules are the service's.
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))


class TransferOutputSerializer(serializers.ModelSerializer):
    amount = DecimalString()

    class Meta:
        model = Transfer
        fields = [
            "id",
            "account_id",
            "direction",
            "amount",
            "status",
            "reason",
            "created_at",
            "updated_at",
            "settled_at",
        ]


class PortfolioHistoryQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(PERIODS), default="1M")
    timeframe = serializers.ChoiceField(choices=list(TIMEFRAMES), default="1D")


class PortfolioHistoryOutputSerializer(serializers.Serializer):
    timestamp = serializers.ListField(child=serializers.IntegerField())
    equity = serializers.ListField(child=DecimalString())
    profit_loss = serializers.ListField(child=DecimalString())
    profit_loss_pct = serializers.ListField(child=DecimalString(allow_null=True))
    base_value = DecimalString(allow_null=True)
    timeframe = serializers.CharField()


class ActivitiesQuerySerializer(serializers.Serializer):
    activity_types = serializers.CharField(required=False, help_text="Comma-separated: " + ",".join(ACTIVITY_TYPES))
    after = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    direction = serializers.ChoiceField(choices=["asc", "desc"], default="desc")
    page_size = serializers.IntegerField(min_value=1, max_value=100, default=100)

    def validate_activity_types(self, value: str) -> list[str]:
        types = [part.strip().upper() for part in value.split(",") if part.strip()]
        unknown = sorted(set(types) - set(ACTIVITY_TYPES))
        if unknown or not types:
            raise serializers.ValidationError(f"Choose from {', '.join(ACTIVITY_TYPES)}.")
        return types


class ActivityOutputSerializer(serializers.Serializer):
    """Alpaca's TradeActivity (FILL) and NonTradeActivity (TRANS, FEE, JNLC); each activity
    carries the fields of its own shape only."""

    id = serializers.CharField(read_only=True)
    account_id = serializers.UUIDField(read_only=True)
    activity_type = serializers.CharField(read_only=True)
    transaction_time = serializers.DateTimeField(read_only=True, help_text="FILL only")
    type = serializers.CharField(read_only=True, help_text="FILL only")
    price = DecimalString(help_text="FILL only")
    qty = DecimalString(help_text="FILL only")
    side = serializers.CharField(read_only=True, help_text="FILL only")
    symbol = serializers.CharField(read_only=True, help_text="FILL only")
    order_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="FILL only")
    execution_id = serializers.CharField(read_only=True, help_text="FILL only")
    date = serializers.DateField(read_only=True, help_text="non-trade activities")
    net_amount = DecimalString(help_text="cash effect, signed")
    description = serializers.CharField(read_only=True, help_text="non-trade activities")
    status = serializers.CharField(read_only=True, help_text="non-trade activities")


# --- Watchlists ----------------------------------------------------------------------------


class WatchlistOutputSerializer(serializers.Serializer):
    """Alpaca's Watchlist: the assets in the list's order (from the prefetched entries)."""

    id = serializers.UUIDField()
    account_id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    assets = serializers.SerializerMethodField()

    @extend_schema_field(AssetOutputSerializer(many=True))
    def get_assets(self, watchlist) -> list[dict]:
        # many=True builds a ListSerializer, whose .data is a list; the stubs type Serializer(...) as one item.
        return AssetOutputSerializer([entry.asset for entry in watchlist.entries.all()], many=True).data  # type: ignore[return-value]


class WatchlistCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), required=False, default=list)


class WatchlistUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), required=False)

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Give a new name, new symbols, or both.")
        return data


class WatchlistSymbolSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)


class TaxLotOutputSerializer(serializers.Serializer):
    """An open tax lot, valued at the latest price (`lot_valuations`)."""

    lot_id = serializers.IntegerField(source="lot.pk", help_text="What an order's `lots` names.")
    symbol = serializers.CharField(source="lot.asset.symbol")
    acquired_at = serializers.DateTimeField(source="lot.acquired_at")
    holding_period_start = serializers.DateField(
        source="lot.holding_period_start", help_text="Earlier than acquired for a wash sale's replacement shares."
    )
    qty = QuantityString(source="lot.open_qty", help_text="Shares still held.")
    cost_basis = DecimalString(source="lot.open_basis", help_text="Basis of those shares: cost, fees included.")
    basis_per_share = DecimalString()
    wash_sale_adjustment = DecimalString(
        source="lot.wash_sale_adjustment", help_text="Disallowed loss added to the lot's basis (wash sale)."
    )
    market_value = DecimalString(allow_null=True)
    unrealized_pl = DecimalString(source="unrealized_gain", allow_null=True)
    term_if_sold = serializers.CharField(help_text="short or long: the holding period of a sale today.")


class LotMethodSerializer(serializers.Serializer):
    lot_method = serializers.ChoiceField(choices=Account.LotMethod.choices)
