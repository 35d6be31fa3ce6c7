"""A trader on a Sunday (issue 18): the server's clock is frozen on Sunday 6 December 2026, 10:00 ET, and
restarted since Friday — no stock has ticked. The trade page still shows F's last trade ($9.90, Friday
7:59 PM ET, kept across the restart), "At close" (Friday's regular close against Thursday's), the market
closed until Monday 9:30; a $5 market buy is reviewed and confirmed as "Queued for the open, Mon 9:30 AM ET".
Screenshots go to test-artifacts/closed-market-*.png.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory, approved_customer
from e2e.support import e2e, open_live, screenshot, signed_in_page
from marketdata.models import Bar, Timeframe
from marketdata.quotes import Quote
from marketdata.services import latest_quotes_record
from marketdata.tests.factories import AssetFactory, CryptoAssetFactory
from portfolios.services import deposit_settled_post

pytestmark = e2e

SUNDAY_10_AM_ET = "2026-12-06T15:00:00+00:00"
FRIDAY_7_59_PM_ET = datetime(2026, 12, 5, 0, 59, 30, tzinfo=UTC)
CLOSES = {datetime(2026, 12, 3, 20, 59, tzinfo=UTC): "10.00", datetime(2026, 12, 4, 20, 59, tzinfo=UTC): "9.88"}


@pytest.fixture
def e2e_clock_starts_at():
    return SUNDAY_10_AM_ET


@pytest.fixture
def quoted_assets(transactional_db):
    """F with Thursday's and Friday's closing minutes and its last quote kept from Friday evening (the feed's
    durable copy: the restarted server's feed loads it, since no stock ticks on a Sunday); bitcoin ticks."""
    ford = AssetFactory(symbol="F", name="Ford Motor Company", reference_price=Decimal("10.52"))
    for minute, close in CLOSES.items():
        price = Decimal(close)
        Bar.objects.create(
            asset=ford, timeframe=Timeframe.MINUTE, timestamp=minute, open=price, high=price, low=price, close=price
        )
    last = Quote("F", Decimal("9.89"), Decimal("9.91"), Decimal(300), Decimal(500), Decimal("9.90"), FRIDAY_7_59_PM_ET)
    latest_quotes_record(quotes=[last])
    return [ford, CryptoAssetFactory()]


@pytest.fixture
def sam(transactional_db):
    sam = UserFactory(email="sam@speedtrade.test", first_name="Sam")
    deposit_settled_post(account=approved_customer(sam), amount=Decimal("100.00"))
    return sam


def test_on_a_sunday_the_trade_page_tells_the_truth_and_a_buy_waits_for_the_open(sam, e2e_server, browser):
    page = signed_in_page(browser, e2e_server, sam)
    open_live(page, "/trade/F/")

    panel = page.locator(".quote-panel")
    expect(page.locator(".topbar .market-status")).to_contain_text("Market closed")
    expect(panel.locator(".market-status")).to_contain_text("Market closed")
    expect(panel.locator(".market-status")).to_contain_text("Opens Mon 9:30 AM ET")
    expect(page.locator("#last-price")).to_have_text("$9.90")
    expect(page.locator("#last-at")).to_have_text("Fri 7:59 PM ET")
    expect(page.locator("#change-label")).to_have_text("At close")
    expect(page.locator("#change-today")).to_contain_text("−$0.12")  # Friday 9.88 against Thursday 10.00
    expect(page.locator("#change-after-hours")).to_contain_text("+$0.02")
    screenshot(page, "closed-market-1-trade-page")

    page.get_by_label("Buy", exact=True).check()
    page.get_by_label("Amount ($)").fill("5")
    page.get_by_role("button", name="Review order").click()
    expect(page.locator("#order-timing")).to_contain_text("Queued for the open, Mon 9:30 AM ET, at the opening price")
    screenshot(page, "closed-market-2-review")

    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-status")).to_contain_text("Order placed")
    expect(page.locator("#order-status")).to_contain_text("Queued for the open, Mon 9:30 AM ET")
    screenshot(page, "closed-market-3-queued")

    page.goto("/orders/")  # still waiting, not filled at Friday's price
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Accepted")
