"""The latest-quote store (Redis in tests, a dict in the embedded default), staleness, prices."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from marketdata.models import Bar, Timeframe
from marketdata.quotes import LocalQuoteStore, Quote, is_stale, latest_quotes, quote_message, store_quotes
from marketdata.selectors import latest_prices, previous_closes
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory

D = Decimal


def quote(symbol="F", bid="10.51", ask="10.53", last="10.52", at=None):
    return Quote(
        symbol=symbol,
        bid=D(bid),
        ask=D(ask),
        bid_size=D("300"),
        ask_size=D("200"),
        last=D(last),
        last_size=D("0.5"),
        timestamp=at or datetime.now(UTC),
    )


def test_redis_keeps_the_newest_quote_per_symbol_with_decimals_intact():
    store_quotes([quote(last="10.52"), quote(symbol="BTC/USD", bid="64999", ask="65001", last="65000")])
    store_quotes([quote(last="10.55")])
    found = latest_quotes(["F", "BTC/USD", "NOPE"])
    assert set(found) == {"F", "BTC/USD"}
    assert found["F"].last == D("10.55")
    assert found["BTC/USD"].bid == D("64999") and isinstance(found["BTC/USD"].bid, Decimal)


def test_the_embedded_store_is_process_local_and_works_without_redis():
    local = LocalQuoteStore()
    local.store([quote(last="1.23")])
    assert local.latest(["F", "X"]) == {"F": quote(last="1.23", at=local.latest(["F"])["F"].timestamp)}
    with override_settings(REDIS_URL=""):
        store_quotes([quote(symbol="LOCAL")])
        assert set(latest_quotes(["LOCAL"])) == {"LOCAL"}
    assert latest_quotes(["LOCAL"]) == {}  # that quote never reached Redis


@override_settings(QUOTE_STALE_AFTER_SECONDS=60)
def test_a_quote_older_than_the_configured_age_is_stale():
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert not is_stale(quote(at=now - timedelta(seconds=60)), now=now)
    assert is_stale(quote(at=now - timedelta(seconds=61)), now=now)
    message = quote_message(quote(at=now - timedelta(seconds=61)), now=now)
    assert message == {
        "type": "quote",
        "symbol": "F",
        "bid": "10.51",
        "ask": "10.53",
        "bid_size": "300",
        "ask_size": "200",
        "last": "10.52",
        "last_size": "0.5",
        "timestamp": "2026-03-10T14:58:59Z",
        "stale": True,
    }


@pytest.mark.django_db
def test_latest_price_is_the_last_trade_else_mid_else_newest_bar_else_reference():
    traded, quoted_only, charted, untouched = (AssetFactory(symbol=s, reference_price=D("20")) for s in "ABCD")
    store_quotes([quote(symbol="A", last="21.07"), quote(symbol="B", bid="19.00", ask="19.03", last="0")])
    Bar.objects.create(
        asset=charted,
        timeframe=Timeframe.MINUTE,
        timestamp=datetime(2026, 3, 10, 14, 0, tzinfo=UTC),
        open=D("18"),
        high=D("18.5"),
        low=D("17.9"),
        close=D("18.25"),
    )
    prices = latest_prices([traded, quoted_only, charted, untouched])
    # The mid 19.015 is rounded half-even onto the 0.01 grid.
    assert prices == {
        traded.pk: D("21.07"),
        quoted_only.pk: D("19.02"),
        charted.pk: D("18.25"),
        untouched.pk: D("20.00"),
    }


@pytest.mark.django_db
def test_previous_close_is_the_last_daily_close_before_today_else_the_reference_price():
    stock = AssetFactory(symbol="F", reference_price=D("10"))
    bitcoin = CryptoAssetFactory()
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tuesday
    for day, close in ((datetime(2026, 3, 6, 5, tzinfo=UTC), "9.50"), (datetime(2026, 3, 9, 4, tzinfo=UTC), "9.75")):
        Bar.objects.create(
            asset=stock,
            timeframe=Timeframe.DAY,
            timestamp=day,
            open=D(close),
            high=D(close),
            low=D(close),
            close=D(close),
        )
    Bar.objects.create(  # today's bar is not a previous close
        asset=stock,
        timeframe=Timeframe.DAY,
        timestamp=datetime(2026, 3, 10, 4, tzinfo=UTC),
        open=D("11"),
        high=D("11"),
        low=D("11"),
        close=D("11"),
    )
    assert previous_closes([stock, bitcoin], now=now) == {stock.pk: D("9.75"), bitcoin.pk: D("65000")}
