from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketdata.calendars import ET, covered_sessions
from marketdata.models import Asset, Bar, Timeframe

MAX_QUOTE_SYMBOLS = 200
MAX_CALENDAR_DAYS = 366


@extend_schema_field(OpenApiTypes.DATETIME)
class MarketTimeField(serializers.Field):
    """RFC 3339 timestamp or a date (meaning midnight America/New_York); naive timestamps are UTC."""

    default_error_messages = {"invalid": "Use an RFC 3339 timestamp or a YYYY-MM-DD date."}

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            moment = parse_datetime(text)
            day = None if moment else parse_date(text)
        except ValueError:
            self.fail("invalid")
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if day is not None:
            return datetime.combine(day, time(0), tzinfo=ET).astimezone(UTC)
        self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


class SymbolListField(serializers.CharField):
    """`A,B,C` → ["A", "B", "C"] (blanks dropped, order kept, duplicates removed)."""

    def to_internal_value(self, data):
        symbols = list(dict.fromkeys(part.strip() for part in super().to_internal_value(data).split(",")))
        symbols = [symbol for symbol in symbols if symbol]
        if not symbols:
            raise serializers.ValidationError("Give at least one symbol.")
        if len(symbols) > MAX_QUOTE_SYMBOLS:
            raise serializers.ValidationError(f"At most {MAX_QUOTE_SYMBOLS} symbols.")
        return symbols


class AssetOutputSerializer(serializers.ModelSerializer):
    class_ = serializers.CharField(source="asset_class", read_only=True)
    price = serializers.SerializerMethodField(help_text="Latest price (last trade, else mid, else reference).")

    class Meta:
        model = Asset
        fields = [
            "id",
            "class_",
            "exchange",
            "symbol",
            "name",
            "status",
            "tradable",
            "marginable",
            "shortable",
            "easy_to_borrow",
            "fractionable",
            "min_order_size",
            "min_trade_increment",
            "price_increment",
            "reference_price",
            "price",
        ]

    def get_fields(self):
        fields = super().get_fields()
        fields["class"] = fields.pop("class_")  # Alpaca's field name is a Python keyword
        return fields

    def get_price(self, asset) -> str | None:
        price = self.context.get("prices", {}).get(asset.pk)
        return None if price is None else str(price)


class QuoteOutputSerializer(serializers.Serializer):
    """A quote as the feed wrote it: decimal strings on the asset's tick grid."""

    symbol = serializers.CharField()
    bid = serializers.CharField()
    ask = serializers.CharField()
    bid_size = serializers.CharField()
    ask_size = serializers.CharField()
    last = serializers.CharField()
    last_size = serializers.CharField()
    timestamp = serializers.DateTimeField()
    stale = serializers.BooleanField()


class BarOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bar
        fields = ["timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap"]


class SymbolsInputSerializer(serializers.Serializer):
    symbols = SymbolListField(help_text="Comma-separated symbols, e.g. AAPL,BTC/USD")


class QuotesOutputSerializer(serializers.Serializer):
    quotes = serializers.DictField(child=QuoteOutputSerializer(allow_null=True), help_text="null: no quote yet")


class SnapshotSerializer(serializers.Serializer):
    latest_quote = QuoteOutputSerializer(allow_null=True)
    daily_bar = BarOutputSerializer(allow_null=True)
    prev_daily_bar = BarOutputSerializer(allow_null=True)
    prev_close = serializers.DecimalField(max_digits=20, decimal_places=9)


class SnapshotsOutputSerializer(serializers.Serializer):
    snapshots = serializers.DictField(child=SnapshotSerializer())


class IndicatorListField(serializers.CharField):
    """`sma,rsi`: chart indicators computed from the returned bars (marketdata.indicators)."""

    def to_internal_value(self, data):
        from marketdata.indicators import INDICATOR_NAMES

        names = list(dict.fromkeys(name.strip().lower() for name in super().to_internal_value(data).split(",")))
        unknown = [name for name in names if name not in INDICATOR_NAMES]
        if unknown or not names:
            raise serializers.ValidationError(f"Indicators are among: {', '.join(INDICATOR_NAMES)}.")
        return names


class BarsInputSerializer(serializers.Serializer):
    timeframe = serializers.ChoiceField(choices=Timeframe.choices, default=Timeframe.MINUTE)
    start = MarketTimeField(required=False)
    end = MarketTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=settings.BARS_MAX_PER_REQUEST, default=1000)
    indicators = IndicatorListField(
        required=False,
        help_text="Comma-separated: sma, ema, bbands, volume, rsi, macd. Computed over the returned bars; "
        "each line starts once there are enough bars for it.",
    )

    def validate(self, data):
        from marketdata.bars import TIMEFRAME_SPANS

        data.setdefault("end", datetime.now(UTC))
        start = data.get("start")
        if start is not None:
            if start >= data["end"]:
                raise serializers.ValidationError({"start": ["start must be before end."]})
            longest = TIMEFRAME_SPANS[data["timeframe"]] * settings.BARS_MAX_PER_REQUEST
            if data["end"] - start > longest:
                raise serializers.ValidationError(
                    {"start": [f"A {data['timeframe']} request covers at most {longest.days} days."]}
                )
        return data


class IndicatorPointSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="Bar start, Unix seconds")
    value = serializers.FloatField()


class BarsOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    bars = BarOutputSerializer(many=True)
    indicators = serializers.DictField(
        child=serializers.DictField(child=IndicatorPointSerializer(many=True)),
        required=False,
        help_text="Only when requested: {indicator: {line: [{time, value}]}}",
    )


class ClockOutputSerializer(serializers.Serializer):
    """Alpaca's clock: timestamps in Eastern time with their offset."""

    timestamp = serializers.DateTimeField(default_timezone=ET)
    is_open = serializers.BooleanField()
    next_open = serializers.DateTimeField(default_timezone=ET)
    next_close = serializers.DateTimeField(default_timezone=ET)


class CalendarInputSerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, data):
        today = datetime.now(ET).date()
        start = data.get("start", today)
        end = data.get("end", start + timedelta(days=30))
        if start > end:
            raise serializers.ValidationError({"start": ["start must not be after end."]})
        if (end - start).days > MAX_CALENDAR_DAYS:
            raise serializers.ValidationError({"end": [f"At most {MAX_CALENDAR_DAYS} days per request."]})
        first_day, last_day = covered_sessions()
        if start < first_day or end > last_day:
            raise serializers.ValidationError({"start": [f"The calendar covers {first_day} to {last_day}."]})
        return {"start": start, "end": end}


class CalendarDayOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    open = serializers.CharField(help_text='Regular open, "HH:MM" Eastern time')
    close = serializers.CharField(help_text='Regular close, "HH:MM" Eastern time (early closes respected)')
    session_open = serializers.CharField(help_text='Pre-market open, "HHMM" Eastern time')
    session_close = serializers.CharField(help_text='After-hours close, "HHMM" Eastern time')
