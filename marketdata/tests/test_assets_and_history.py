"""The shipped universe (load_assets) and simulated history (backfill_bars)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from marketdata.models import Asset, Bar, Timeframe
from marketdata.services import bars_backfill

pytestmark = pytest.mark.django_db


def test_the_shipped_universe_is_real_small_account_friendly_and_loads_idempotently():
    call_command("load_assets")
    Asset.objects.filter(symbol="F").update(reference_price=Decimal("1"), name="changed")
    call_command("load_assets")

    stocks = Asset.objects.filter(asset_class="us_equity")
    crypto = Asset.objects.filter(asset_class="crypto")
    assert stocks.count() >= 100 and crypto.count() >= 20
    assert stocks.filter(reference_price__lt=100).count() > stocks.count() / 2
    assert set(stocks.values_list("exchange", flat=True)) == {"NASDAQ", "NYSE", "ARCA"}
    assert set(crypto.values_list("exchange", flat=True)) == {"CRYPTO"}
    assert not stocks.exclude(price_increment=Decimal("0.01")).exists()
    for asset in stocks.filter(fractionable=False):
        assert asset.min_trade_increment == 1
    assert Asset.objects.get(symbol="F").reference_price == Decimal("10.52")  # upserted back
    assert Asset.objects.get(symbol="BTC/USD").min_order_size == Decimal("0.0001")


def test_backfill_is_deterministic_for_a_seed_and_only_fills_the_gap():
    call_command("load_assets")
    assets = Asset.objects.filter(symbol__in=["F", "BTC/USD"])
    end = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tuesday 11:00 EDT

    bars_backfill(assets=assets, days=2, minute_hours=1, seed=9, end=end)
    first = list(Bar.objects.order_by("asset__symbol", "timeframe", "timestamp").values_list("close", flat=True))
    Bar.objects.all().delete()
    bars_backfill(assets=assets, days=2, minute_hours=1, seed=9, end=end)
    again = list(Bar.objects.order_by("asset__symbol", "timeframe", "timestamp").values_list("close", flat=True))
    assert first == again and first

    bitcoin_minutes = Bar.objects.filter(asset__symbol="BTC/USD", timeframe=Timeframe.MINUTE)
    assert bitcoin_minutes.count() == 60
    assert Bar.objects.filter(asset__symbol="BTC/USD", timeframe=Timeframe.HOUR).count() == 48
    # Ford traded only in extended hours: nothing on the Sunday before.
    assert not Bar.objects.filter(
        asset__symbol="F",
        timestamp__gte=datetime(2026, 3, 8, 4, tzinfo=UTC),
        timestamp__lt=datetime(2026, 3, 9, 4, tzinfo=UTC),
    ).exists()

    assert bars_backfill(assets=assets, days=2, minute_hours=1, seed=9, end=end) == 0
    later = datetime(2026, 3, 10, 15, 10, tzinfo=UTC)
    bars_backfill(assets=assets, days=2, minute_hours=1, seed=9, end=later)
    assert bitcoin_minutes.count() == 70
    newest = bitcoin_minutes.order_by("-timestamp").first()
    assert newest.timestamp == datetime(2026, 3, 10, 15, 9, tzinfo=UTC)
    day = Bar.objects.get(
        asset__symbol="BTC/USD", timeframe=Timeframe.DAY, timestamp=datetime(2026, 3, 10, 4, tzinfo=UTC)
    )
    assert day.close == newest.close


def test_seed_demo_loads_the_universe_and_history():
    call_command("seed_demo")
    assert Asset.objects.count() >= 120
    assert Bar.objects.filter(asset__symbol="BTC/USD", timeframe=Timeframe.MINUTE).exists()
