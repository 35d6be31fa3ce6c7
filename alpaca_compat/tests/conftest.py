"""Fixtures for driving SpeedTrade with the real alpaca-py: credentials and market data."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote, store_quotes
from marketdata.selectors import today_start
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory
from speedtrade.tests.test_app_tokens import app_login

D = Decimal
# A fixed minute in the past, so bars and quotes are independent of when the test runs.
MINUTE_ZERO = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def alice_token(alice):
    """Alice's JWT access token: what `oauth_token=` sends as `Authorization: Bearer`."""
    return app_login(APIClient(), alice)["access_token"]


def make_bars(asset, timeframe, start, closes, step):
    return [
        Bar.objects.create(
            asset=asset,
            timeframe=timeframe,
            timestamp=start + index * step,
            open=D(close),
            high=D(close) + 1,
            low=D(close) - 1,
            close=D(close),
            volume=D(100 + index),
            trade_count=3,
            vwap=D(close),
        )
        for index, close in enumerate(closes)
    ]


def make_quote(symbol, bid, ask, last, last_size="5", at=None):
    return Quote(
        symbol=symbol,
        bid=D(bid),
        ask=D(ask),
        bid_size=D(3),
        ask_size=D(4),
        last=D(last),
        last_size=D(last_size),
        timestamp=at or datetime.now(UTC),
    )


@pytest.fixture
def market(transactional_db):
    """AAPL, F and BTC/USD with 1-minute bars, daily bars and a latest quote each."""
    aapl = AssetFactory(symbol="AAPL", name="Apple Inc.", exchange="NASDAQ", reference_price=D("228.50"))
    ford = AssetFactory(symbol="F", name="Ford Motor Company", reference_price=D("10.52"))
    btc = CryptoAssetFactory()
    minute = timedelta(minutes=1)
    make_bars(aapl, Timeframe.MINUTE, MINUTE_ZERO, ["228.10", "228.20", "228.30", "228.40", "228.50"], minute)
    make_bars(ford, Timeframe.MINUTE, MINUTE_ZERO, ["10.50", "10.60", "10.70"], minute)
    make_bars(btc, Timeframe.MINUTE, MINUTE_ZERO, ["65000", "65010"], minute)
    today = today_start()
    make_bars(aapl, Timeframe.DAY, today - timedelta(days=1), ["227.00", "228.50"], timedelta(days=1))
    store_quotes(
        [
            make_quote("AAPL", "228.49", "228.51", "228.50"),
            make_quote("F", "10.69", "10.71", "10.70", last_size="0"),
            make_quote("BTC/USD", "64990", "65010", "65000", last_size="0.0125"),
        ]
    )
    return {"AAPL": aapl, "F": ford, "BTC/USD": btc}
