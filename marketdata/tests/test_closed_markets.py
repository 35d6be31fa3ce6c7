"""Closed markets tell the truth (issue 18 item 1): the last trade survives closed hours and
restarts, "today" is measured from the previous session's regular close, and what is shown
outside regular hours says so ("At close", "After hours", "Pre-market").

The week used: Thursday 3 and Friday 4 December 2026 are regular XNYS sessions (16:00 ET close =
21:00 UTC), Saturday 5 and Sunday 6 are closed, Monday 7 opens at 9:30 ET (14:30 UTC).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata.models import Bar, LatestQuote, Timeframe
from marketdata.quotes import Quote, latest_quotes, quote_store, store_quotes
from marketdata.selectors import latest_prices, previous_closes, quote_summary
from marketdata.services import bars_backfill, latest_quotes_record, latest_quotes_restore
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory

pytestmark = pytest.mark.django_db
D = Decimal
THURSDAY_CLOSE = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
FRIDAY_CLOSE = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
FRIDAY_7_59_PM = datetime(2026, 12, 5, 0, 59, 30, tzinfo=UTC)  # after hours, Friday evening in New York
SUNDAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
MONDAY_PRE_MARKET = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 5:00 ET
MONDAY_OPEN_HOURS = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 ET


def bar(asset, at, close, timeframe=Timeframe.MINUTE):
    price = D(close)
    return Bar.objects.create(
        asset=asset, timeframe=timeframe, timestamp=at, open=price, high=price, low=price, close=price
    )


def tick(symbol, last, at, bid=None, ask=None):
    last = D(last)
    return Quote(
        symbol=symbol,
        bid=D(bid) if bid else last - D("0.01"),
        ask=D(ask) if ask else last + D("0.01"),
        bid_size=D(100),
        ask_size=D(200),
        last=last,
        last_size=D(10),
        timestamp=at,
    )


@pytest.fixture
def ford():
    """F's last two sessions: regular closes $10.00 (Thu) and $9.88 (Fri), after-hours trades after each,
    and a 1-minute bar left from Monday a week before at $10.54 (the number the issue saw on a Sunday)."""
    ford = AssetFactory(symbol="F", reference_price=D("10.52"))
    bar(ford, datetime(2026, 11, 30, 21, 45, tzinfo=UTC), "10.54")
    bar(ford, THURSDAY_CLOSE - timedelta(minutes=1), "10.00")
    bar(ford, THURSDAY_CLOSE + timedelta(hours=2), "10.20")  # Thursday 18:00 ET, after hours
    bar(ford, FRIDAY_CLOSE - timedelta(hours=1), "9.80", timeframe=Timeframe.HOUR)
    bar(ford, FRIDAY_CLOSE - timedelta(minutes=1), "9.88")
    bar(ford, FRIDAY_7_59_PM.replace(second=0), "9.90")
    # What the feed does with its ticks: the store answers readers, the kept row survives restarts.
    ticks = [tick("F", "9.89", FRIDAY_7_59_PM - timedelta(seconds=20)), tick("F", "9.90", FRIDAY_7_59_PM)]
    store_quotes(ticks)
    latest_quotes_record(quotes=ticks)
    return ford


def test_the_last_quote_is_kept_and_comes_back_after_a_restart(ford):
    quote_store().clear()  # a restart (embedded default) or an emptied Redis
    assert latest_quotes(["F"]) == {}

    assert latest_quotes_restore() == 1

    restored = latest_quotes(["F"])["F"]
    assert (restored.last, restored.bid, restored.ask, restored.timestamp) == (
        D("9.90"),
        D("9.89"),
        D("9.91"),
        FRIDAY_7_59_PM,  # the newest tick of the batch, not the first
    )


def test_restoring_never_replaces_a_newer_quote_already_in_the_store(ford):
    store_quotes([tick("F", "10.05", MONDAY_PRE_MARKET)])
    assert latest_quotes_restore() == 0
    assert latest_quotes(["F"])["F"].last == D("10.05")


def test_the_price_without_any_quote_is_the_newest_bar_not_an_old_minute_bar(ford):
    quote_store().clear()
    LatestQuote.objects.all().delete()
    bar(ford, FRIDAY_CLOSE + timedelta(hours=4), "9.95", timeframe=Timeframe.HOUR)  # newer than every minute bar
    assert latest_prices([ford]) == {ford.pk: D("9.95")}  # not the $10.54 minute bar of a week before


def test_the_previous_close_is_the_regular_close_not_the_after_hours_trade(ford):
    bitcoin = CryptoAssetFactory()
    bar(bitcoin, datetime(2026, 12, 6, 5, 0, tzinfo=UTC), "64000", timeframe=Timeframe.DAY)  # Sunday's daily bar
    bar(bitcoin, datetime(2026, 12, 5, 5, 0, tzinfo=UTC), "63000", timeframe=Timeframe.DAY)  # Saturday's

    closes = previous_closes([ford, bitcoin], now=MONDAY_OPEN_HOURS)

    # Friday's 15:59 ET minute bar; crypto has no session: its close is the daily bar before today.
    assert closes == {ford.pk: D("9.88"), bitcoin.pk: D("64000")}


def test_the_regular_close_falls_back_to_hourly_then_daily_bars():
    stock = AssetFactory(symbol="ACME")
    bar(stock, FRIDAY_CLOSE - timedelta(hours=1), "20.10", timeframe=Timeframe.HOUR)
    assert previous_closes([stock], now=MONDAY_OPEN_HOURS) == {stock.pk: D("20.10")}
    other = AssetFactory(symbol="OTHR")
    bar(other, datetime(2026, 12, 4, 5, 0, tzinfo=UTC), "30.00", timeframe=Timeframe.DAY)  # Friday, imported daily
    assert previous_closes([other], now=MONDAY_OPEN_HOURS) == {other.pk: D("30.00")}


def test_on_a_sunday_the_panel_shows_fridays_close_and_the_after_hours_move(ford):
    summary = quote_summary(ford, now=SUNDAY)

    assert summary.status.label == "Market closed"
    assert (summary.last, summary.last_at) == (D("9.90"), FRIDAY_7_59_PM)
    assert summary.change_label == "At close"
    # Friday's close against Thursday's: 9.88 − 10.00.
    assert (summary.reference, summary.change, summary.change_ratio) == (D("10.00"), D("-0.12"), D("-0.012"))
    # Then Friday evening: 9.90 − 9.88.
    assert (summary.session_close, summary.after_hours_change) == (D("9.88"), D("0.02"))
    assert f"{summary.after_hours_ratio:.6f}" == "0.002024"


def test_before_the_open_the_move_is_pre_market_and_in_hours_it_is_today(ford):
    store_quotes([tick("F", "10.05", MONDAY_PRE_MARKET)])
    pre_market = quote_summary(ford, now=MONDAY_PRE_MARKET)
    assert (pre_market.status.label, pre_market.change_label) == ("Pre-market", "Pre-market")
    assert (pre_market.reference, pre_market.change, pre_market.after_hours_change) == (D("9.88"), D("0.17"), None)

    in_hours = quote_summary(ford, now=MONDAY_OPEN_HOURS)
    assert (in_hours.status.label, in_hours.change_label, in_hours.change) == ("Market open", "Today", D("0.17"))


def test_crypto_is_always_today_against_its_daily_close():
    bitcoin = CryptoAssetFactory()
    bar(bitcoin, datetime(2026, 12, 6, 5, 0, tzinfo=UTC), "64000", timeframe=Timeframe.DAY)
    store_quotes([tick("BTC/USD", "64500", SUNDAY)])
    summary = quote_summary(bitcoin, now=SUNDAY + timedelta(days=1))
    assert (summary.status.label, summary.change_label, summary.change) == ("Open 24/7", "Today", D("500"))


def test_the_simulated_history_ends_on_a_kept_last_quote():
    stock = AssetFactory(symbol="ACME", reference_price=D("20.00"))
    bars_backfill(assets=[stock], days=2, minute_hours=1, seed=7, end=SUNDAY)

    kept = LatestQuote.objects.get(asset=stock)
    newest = Bar.objects.filter(asset=stock, timeframe__in=["1Min", "1Hour"]).order_by("-timestamp").first()
    # Stocks trade until 20:00 ET: the history (and its last quote) ends Friday evening, not on Sunday.
    assert kept.timestamp == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    assert kept.last == newest.close and kept.bid < kept.last < kept.ask
