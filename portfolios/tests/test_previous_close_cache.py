"""The previous closes every account valuation reads are kept per process per New York date
(issue 22): the account's figures are those of a fresh read, the next session's close is used
once the day rolls, and a late-corrected bar of the previous session is seen.

Monday 2 and Tuesday 3 March 2026 are regular sessions (16:00 ET = 21:00 UTC); WEDNESDAY is
10:00 ET on the 4th.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from marketdata.bars import BarValue
from marketdata.models import Bar, Timeframe
from marketdata.selectors import previous_closes, previous_closes_cache_clear
from marketdata.services import bars_record
from portfolios.pricing import valuation_at_market
from portfolios.services import fill_apply
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY_CLOSE = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
TUESDAY_CLOSE = datetime(2026, 3, 3, 21, 0, tzinfo=UTC)
TUESDAY_MORNING = WEDNESDAY - timedelta(days=1)


def minute_bars(asset, *closes_at):
    """1-minute bars written as another process writes them (no signal reaches this process)."""
    Bar.objects.bulk_create(
        Bar(
            asset=asset,
            timeframe=Timeframe.MINUTE,
            timestamp=at,
            open=D(close),
            high=D(close),
            low=D(close),
            close=D(close),
        )
        for at, close in closes_at
    )


@pytest.fixture
def acme():
    acme = AssetFactory(symbol="ACME", reference_price=D("9.00"))
    minute_bars(acme, (MONDAY_CLOSE - timedelta(minutes=1), "10.50"), (TUESDAY_CLOSE - timedelta(minutes=1), "11.25"))
    return acme


def test_the_cached_closes_value_the_account_exactly_as_a_fresh_read(funded, acme, settings):
    with freeze_time(WEDNESDAY):
        fill_apply(
            account=funded, asset=acme, side="buy", qty=D("3"), price=D("11.00"), fee=D(0),
            executed_at=timezone.now(), cause=None,
        )  # fmt: skip
        with CaptureQueriesContext(connection) as cold_reads:
            cold = valuation_at_market(account=funded)
        with CaptureQueriesContext(connection) as warm_reads:
            warm = valuation_at_market(account=funded)
        settings.PREVIOUS_CLOSE_CACHE_SECONDS = 0
        previous_closes_cache_clear()
        uncached = valuation_at_market(account=funded)

    # repr: the same Decimals down to their exponents; the day's change is from Tuesday's $11.25 close.
    assert repr(warm) == repr(cold) == repr(uncached)
    assert warm.positions[0].lastday_price == D("11.25")
    assert len(warm_reads) == len(cold_reads) - 1


def test_a_new_days_previous_close_is_used_once_the_day_rolls(acme):
    with freeze_time(TUESDAY_MORNING) as clock:
        assert previous_closes([acme]) == {acme.pk: D("10.50")}  # Monday's close, now cached
        clock.move_to(WEDNESDAY)
        assert previous_closes([acme]) == {acme.pk: D("11.25")}  # Tuesday's


def test_a_corrected_bar_of_the_previous_session_is_seen(acme, settings):
    settings.PREVIOUS_CLOSE_CACHE_SECONDS = 60
    with freeze_time(WEDNESDAY) as clock:
        assert previous_closes([acme]) == {acme.pk: D("11.25")}
        # Written by this process (the feed's late tick, a backfill): seen at once.
        late = D("11.30")
        bars_record(
            bars=[
                BarValue(
                    symbol="ACME", timeframe=Timeframe.MINUTE, timestamp=TUESDAY_CLOSE - timedelta(minutes=1),
                    open=late, high=late, low=late, close=late, volume=D(1), trade_count=1, notional=late,
                )
            ]
        )  # fmt: skip
        assert previous_closes([acme]) == {acme.pk: D("11.30")}
        # Written by another process: seen within PREVIOUS_CLOSE_CACHE_SECONDS.
        Bar.objects.filter(asset=acme, timestamp=TUESDAY_CLOSE - timedelta(minutes=1)).update(close=D("11.28"))
        assert previous_closes([acme]) == {acme.pk: D("11.30")}
        clock.tick(61)
        assert previous_closes([acme]) == {acme.pk: D("11.28")}
