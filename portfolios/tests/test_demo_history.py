"""The demo's equity curve (issue 18 item 4): what the account's present holdings were worth over the last
days, from the stored bars, so `make run` never opens on an empty chart."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata.models import Bar, Timeframe
from portfolios import services
from portfolios.models import EquitySnapshot
from portfolios.tests.conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
D = Decimal
TUESDAY_11_AM_ET = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
TUESDAY_3_PM_ET = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)


def hourly(asset, at, close):
    price = D(close)
    Bar.objects.create(
        asset=asset, timeframe=Timeframe.HOUR, timestamp=at, open=price, high=price, low=price, close=price
    )


def test_the_history_values_todays_holdings_at_each_moments_price_once(funded, acme):
    services.fill_apply(
        account=funded, asset=acme, side="buy", qty=D(10), price=D("10.00"), fee=D(0), executed_at=WEDNESDAY, cause=None
    )
    hourly(acme, TUESDAY_11_AM_ET, "10.20")
    hourly(acme, TUESDAY_3_PM_ET, "10.50")

    written = services.equity_history_backfill(account=funded, days=1, now=WEDNESDAY)

    snapshots = EquitySnapshot.objects.filter(account=funded)
    assert written == snapshots.count() == 24 * 4 + 1  # every 15 minutes for a day, and Tuesday's close
    close = snapshots.get(kind="close")
    assert (close.session_date, close.equity) == (TUESDAY_3_PM_ET.date(), D("1005.00"))  # 900 + 10 × 10.50
    at_noon = snapshots.get(kind="intraday", timestamp=TUESDAY_11_AM_ET + timedelta(hours=1))
    assert (at_noon.cash, at_noon.long_market_value, at_noon.equity) == (D("900.00"), D("102.00"), D("1002.00"))
    assert services.equity_history_backfill(account=funded, days=1, now=WEDNESDAY) == 0  # never twice
