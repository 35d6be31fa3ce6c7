"""Order input parsing: types, enums and number formats. Rules about values live in trading/risk.py."""

from typing import TypedDict

from rest_framework import serializers

from trading.models import Order
from trading.risk import Leg, OrderRequest


class SerializerDecimalShape(TypedDict):
    """A serializers.DecimalField's digits and output: typed so `DecimalField(**QTY)` type-checks."""

    max_digits: int
    decimal_places: int
    coerce_to_string: bool


# Quantities and prices: at most 9 decimal places and 15 integer digits ("absurd sizes" stop here).
QTY: SerializerDecimalShape = {"max_digits": 24, "decimal_places": 9, "coerce_to_string": True}
MONEY: SerializerDecimalShape = {"max_digits": 17, "decimal_places": 2, "coerce_to_string": True}


class PositiveDecimalField(serializers.DecimalField):
    """A decimal that is finite, within precision and strictly positive (DRF refuses NaN and infinities)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if value <= 0:
            raise serializers.ValidationError("Must be greater than zero.")
        return value


class LegSerializer(serializers.Serializer):
    limit_price = PositiveDecimalField(**QTY, required=False)
    stop_price = PositiveDecimalField(**QTY, required=False)


class LotChoiceSerializer(serializers.Serializer):
    lot_id = serializers.IntegerField(min_value=1)
    qty = PositiveDecimalField(**QTY)


class OrderCreateSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    type = serializers.ChoiceField(choices=Order.Type.choices)
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices)
    qty = PositiveDecimalField(**QTY, required=False)
    notional = PositiveDecimalField(**MONEY, required=False)
    limit_price = PositiveDecimalField(**QTY, required=False)
    stop_price = PositiveDecimalField(**QTY, required=False)
    trail_price = PositiveDecimalField(**QTY, required=False)
    trail_percent = PositiveDecimalField(max_digits=7, decimal_places=4, required=False)
    extended_hours = serializers.BooleanField(required=False, default=False)
    order_class = serializers.ChoiceField(
        choices=Order.OrderClass.choices, required=False, default=Order.OrderClass.SIMPLE
    )
    take_profit = LegSerializer(required=False)
    stop_loss = LegSerializer(required=False)
    client_order_id = serializers.CharField(max_length=128, required=False, allow_blank=False)
    lots = LotChoiceSerializer(
        many=True,
        required=False,
        help_text="A sell's tax lots to close, with shares of each adding up to qty "
        "(GET /api/v1/positions/{symbol}/lots); without it, the account's lot method decides.",
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        if ("qty" in attrs) == ("notional" in attrs):
            raise serializers.ValidationError({"qty": ["Give exactly one of qty or notional."]})
        return attrs

    def to_request(self) -> OrderRequest:
        data = dict(self.validated_data)
        for leg in ("take_profit", "stop_loss"):
            if leg in data:
                data[leg] = Leg(**data[leg])
        data["symbol"] = data["symbol"].upper()
        if "lots" in data:
            data["lots"] = tuple((choice["lot_id"], choice["qty"]) for choice in data["lots"])
        return OrderRequest(**data)


class OrderReplaceSerializer(serializers.Serializer):
    qty = PositiveDecimalField(**QTY, required=False)
    limit_price = PositiveDecimalField(**QTY, required=False)
    stop_price = PositiveDecimalField(**QTY, required=False)
    trail = PositiveDecimalField(**QTY, required=False, help_text="Alpaca's name for a new trail_price.")
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices, required=False)
    client_order_id = serializers.CharField(max_length=128, required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Cannot be changed."] for name in sorted(unknown)})
        if not attrs:
            raise serializers.ValidationError("Nothing to change.")
        return attrs

    def changes(self) -> dict:
        data = dict(self.validated_data)
        data.pop("client_order_id", None)
        if "trail" in data:
            data["trail_price"] = data.pop("trail")
        return data


class OrderListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed", "all"], required=False, default="open")
    symbols = serializers.CharField(required=False)
    side = serializers.ChoiceField(choices=Order.Side.choices, required=False)
    after = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)
    direction = serializers.ChoiceField(choices=["asc", "desc"], required=False, default="desc")
    nested = serializers.BooleanField(required=False, default=False)


class PositionCloseQuerySerializer(serializers.Serializer):
    """`DELETE /positions/{symbol}`: everything, or `qty` shares, or `percentage` of the position."""

    qty = PositiveDecimalField(**QTY, required=False)
    percentage = PositiveDecimalField(max_digits=12, decimal_places=9, max_value=100, required=False)

    def validate(self, attrs):
        if "qty" in attrs and "percentage" in attrs:
            raise serializers.ValidationError({"percentage": ["Give qty or percentage, not both."]})
        return attrs


class PositionsCloseAllQuerySerializer(serializers.Serializer):
    cancel_orders = serializers.BooleanField(required=False, default=False)
