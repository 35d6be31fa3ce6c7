"""Market status and order timing in words (issue 18 item 2), from the XNYS calendar."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from marketdata.calendars import CRYPTO, US_EQUITY, equity_session
from marketdata.market_status import market_status, order_timing

SUNDAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
MONDAY_10_AM = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
MONDAY_6_PM = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
BLACK_FRIDAY_NOON = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # closes at 13:00 ET


def test_on_a_sunday_stocks_are_closed_until_monday_930():
    status = market_status(US_EQUITY, SUNDAY)
    assert (status.phase, status.is_open, status.label) == ("closed", False, "Market closed")
    assert status.next_open == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    assert status.detail == "Opens Mon 9:30 AM ET."


def test_in_regular_hours_the_status_says_when_it_closes():
    status = market_status(US_EQUITY, MONDAY_10_AM)
    assert (status.phase, status.is_open, status.next_open) == ("open", True, None)
    assert status.detail == "Closes Mon 4:00 PM ET."


def test_an_early_close_is_announced():
    assert equity_session(BLACK_FRIDAY_NOON.date()).is_early_close
    status = market_status(US_EQUITY, BLACK_FRIDAY_NOON)
    assert status.early_close and status.detail == "Early close Fri 1:00 PM ET."
    before = market_status(US_EQUITY, datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # 5:00 ET, pre-market
    assert before.label == "Pre-market" and before.detail == "Opens Fri 9:30 AM ET; early close Fri 1:00 PM ET."


def test_after_hours_and_crypto():
    assert market_status(US_EQUITY, MONDAY_6_PM).label == "After hours"
    assert market_status(CRYPTO, SUNDAY).label == "Open 24/7"


def test_a_market_order_on_sunday_is_queued_for_the_open_at_the_opening_price():
    timing = order_timing(asset_class=US_EQUITY, order_type="market", limit_price=None, extended_hours=False, at=SUNDAY)
    assert timing.queued
    assert timing.sent == "Queued for the open, Mon 9:30 AM ET"
    assert timing.price == "at the opening price, which can differ from the last price"


@pytest.mark.parametrize(
    ("asset_class", "order_type", "limit", "extended", "at", "sent", "price"),
    [
        (US_EQUITY, "market", None, False, MONDAY_10_AM, "Sent to the market now", "at the market price"),
        (US_EQUITY, "limit", "10.00", True, MONDAY_6_PM, "Sent to the market now (extended hours)", "at your limit"),
        (US_EQUITY, "limit", "10.00", False, MONDAY_6_PM, "Queued for the open, Tue 9:30 AM ET", "at your limit"),
        (US_EQUITY, "stop", None, False, SUNDAY, "Queued for the open, Mon 9:30 AM ET", "once the stop"),
        (CRYPTO, "market", None, False, SUNDAY, "Sent to the market now", "at the market price"),
    ],
)
def test_when_an_order_is_sent_and_at_what_kind_of_price(asset_class, order_type, limit, extended, at, sent, price):
    timing = order_timing(
        asset_class=asset_class,
        order_type=order_type,
        limit_price=Decimal(limit) if limit else None,
        extended_hours=extended,
        at=at,
    )
    assert timing.sent == sent and price in timing.price
