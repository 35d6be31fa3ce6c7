"""Ticks into 1-minute bars, roll-ups, and merging into stored bars (hand-computed)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from marketdata.bars import bars_from_ticks, bucket_start, roll_up
from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote
from marketdata.services import ticks_record
from marketdata.tests.factories import AssetFactory

D = Decimal


def tick(minute, second, last, size="0", symbol="F"):
    return Quote(
        symbol=symbol,
        bid=D(last) - D("0.01"),
        ask=D(last) + D("0.01"),
        bid_size=D(100),
        ask_size=D(100),
        last=D(last),
        last_size=D(size),
        timestamp=datetime(2026, 3, 10, 14, minute, second, tzinfo=UTC),
    )


def as_tuple(bar):
    return (bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count, bar.vwap)


def test_ticks_make_one_bar_per_minute_with_vwap_from_trades_only():
    ticks = [
        tick(30, 1, "10.00", "100"),
        tick(30, 20, "10.50", "300"),
        tick(30, 40, "9.80"),  # a quote-only tick moves the price but trades nothing
        tick(30, 59, "10.10", "100"),
        tick(31, 0, "10.20", "50"),
    ]
    first, second = bars_from_ticks(ticks)
    # vwap = (10.00*100 + 10.50*300 + 10.10*100) / 500 = 5160 / 500
    assert as_tuple(first) == (
        datetime(2026, 3, 10, 14, 30, tzinfo=UTC),
        D("10.00"),
        D("10.50"),
        D("9.80"),
        D("10.10"),
        D("500"),
        3,
        D("10.320000000"),
    )
    assert as_tuple(second) == (
        datetime(2026, 3, 10, 14, 31, tzinfo=UTC),
        D("10.20"),
        D("10.20"),
        D("10.20"),
        D("10.20"),
        D("50"),
        1,
        D("10.200000000"),
    )


def test_minute_bars_roll_up_into_five_minutes_hours_and_days():
    ticks = [
        tick(34, 0, "10.00", "10"),
        tick(35, 0, "11.00", "10"),
        tick(39, 30, "9.00", "20"),
        tick(40, 0, "9.50", "10"),
    ]
    minutes = bars_from_ticks(ticks)
    five = roll_up(minutes, Timeframe.FIVE_MINUTES)
    assert [(b.timestamp.minute, b.open, b.high, b.low, b.close, b.volume, b.trade_count) for b in five] == [
        (30, D("10.00"), D("10.00"), D("10.00"), D("10.00"), D("10"), 1),
        (35, D("11.00"), D("11.00"), D("9.00"), D("9.00"), D("30"), 2),
        (40, D("9.50"), D("9.50"), D("9.50"), D("9.50"), D("10"), 1),
    ]
    (hour,) = roll_up(five, Timeframe.HOUR)
    assert (hour.timestamp, hour.open, hour.high, hour.low, hour.close, hour.volume, hour.trade_count) == (
        datetime(2026, 3, 10, 14, 0, tzinfo=UTC),
        D("10.00"),
        D("11.00"),
        D("9.00"),
        D("9.50"),
        D("50"),
        4,
    )
    # vwap = (100 + 110 + 180 + 95) / 50
    assert hour.vwap == D("9.700000000")


def test_a_daily_bar_starts_at_midnight_new_york_whatever_the_season():
    winter = bucket_start(Timeframe.DAY, datetime(2026, 1, 15, 3, 0, tzinfo=UTC))  # 22:00 ET on the 14th
    summer = bucket_start(Timeframe.DAY, datetime(2026, 7, 15, 12, 0, tzinfo=UTC))
    assert winter == datetime(2026, 1, 14, 5, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 15, 4, 0, tzinfo=UTC)


def test_ticks_without_a_last_price_make_no_bar():
    assert bars_from_ticks([tick(30, 0, "0")]) == []


@pytest.mark.django_db
def test_recorded_ticks_extend_the_stored_bars_of_every_timeframe():
    asset = AssetFactory(symbol="F")
    ticks_record(quotes=[tick(30, 0, "10.00", "100"), tick(30, 30, "10.40", "100")])
    ticks_record(quotes=[tick(30, 50, "9.90", "200"), tick(31, 5, "10.10", "100")])

    minute = Bar.objects.get(
        asset=asset, timeframe=Timeframe.MINUTE, timestamp=datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    )
    assert (minute.open, minute.high, minute.low, minute.close, minute.volume, minute.trade_count) == (
        D("10.00"),
        D("10.40"),
        D("9.90"),
        D("9.90"),
        D("400"),
        3,
    )
    assert minute.vwap == D("10.050000000")  # (1000 + 1040 + 1980) / 400
    hour = Bar.objects.get(asset=asset, timeframe=Timeframe.HOUR)
    assert (hour.open, hour.high, hour.low, hour.close, hour.volume, hour.trade_count) == (
        D("10.00"),
        D("10.40"),
        D("9.90"),
        D("10.10"),
        D("500"),
        4,
    )
    day = Bar.objects.get(asset=asset, timeframe=Timeframe.DAY)
    assert day.timestamp == datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # midnight EDT
    assert (day.close, day.volume) == (D("10.10"), D("500"))
    assert Bar.objects.filter(asset=asset, timeframe=Timeframe.MINUTE).count() == 2


@pytest.mark.django_db
def test_ticks_of_unknown_symbols_write_nothing():
    assert ticks_record(quotes=[tick(30, 0, "10.00", "100", symbol="NOPE")]) == 0
    assert not Bar.objects.exists()
