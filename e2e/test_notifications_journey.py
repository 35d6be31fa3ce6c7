"""An approved customer with cash, in the browser: a recurring plan from the ticket's "Repeat this buy", a price
alert, then the alert's notification and a fill's notification arriving live in a notification centre left open
in another tab (the unread badge and the list change without a reload).

The alert is "BTC/USD at or below" a dollar above the last price, so the simulated feed's next tick crosses it
whichever way the price walks: the book fires it on a real tick, in the server, and the notification reaches the
open tab over /ws/trades. The plan starts in two days, so no scheduled buy runs during the test.
Screenshots go to test-artifacts/notifications-*.png.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.tests.factories import UserFactory, approved_customer
from e2e.support import e2e, in_worker_thread, open_live, review_and_place, screenshot, signed_in_page
from marketdata.quotes import latest_quotes
from portfolios.services import deposit_settled_post
from speedtrade.money import to_step

pytestmark = e2e

SYMBOL = "BTC/USD"


@pytest.fixture
def carla(transactional_db):
    carla = UserFactory(email="carla@speedtrade.test", first_name="Carla")
    deposit_settled_post(account=approved_customer(carla), amount=Decimal("1000.00"))
    return carla


def unread(page: Page) -> int:
    badge = page.locator("#notification-badge")
    expect(badge).to_be_attached()  # loaded by htmx after the page
    return int(badge.get_attribute("data-unread"))


def expect_unread(page: Page, count: int) -> None:
    expect(page.locator("#notification-badge .badge")).to_have_text(str(count))


def test_a_plan_an_alert_and_a_fill_reach_the_open_notification_centre_live(carla, e2e_server, browser):
    customer = signed_in_page(browser, e2e_server, carla)
    centre = customer.context.new_page()  # left open in its own tab: what arrives, arrives over the socket
    open_live(centre, "/notifications/")
    centre.evaluate("window.openedOnce = true")  # gone if the tab ever reloads
    before = unread(centre)

    # Review a $25 buy, then make it a plan instead: "Repeat this buy" on the review step.
    open_live(customer, f"/trade/{SYMBOL}/")
    customer.get_by_label("Buy", exact=True).check()
    customer.get_by_label("Amount ($)").fill("25")
    customer.get_by_role("button", name="Review order").click()
    expect(customer.get_by_role("heading", name="Review your order")).to_be_visible()
    screenshot(customer, "notifications-01-review-repeat-this-buy")
    customer.get_by_role("link", name="Repeat this buy").click()

    expect(customer.get_by_label("Symbol")).to_have_value(SYMBOL)
    expect(customer.get_by_label("Amount ($)")).to_have_value("25.00")
    customer.get_by_label("How often").select_option(label="Every trading day")
    in_two_days = timezone.localdate() + timedelta(days=2)
    customer.get_by_label("Start date").fill(in_two_days.isoformat())
    customer.get_by_role("button", name="Create plan").click()
    expect(customer.locator(".messages")).to_contain_text("Recurring investment created.")
    expect(customer.get_by_role("link", name=f"$25.00 of {SYMBOL}")).to_be_visible()
    screenshot(customer, "notifications-02-recurring-plan")

    # A price alert from the bell on the trade page.
    customer.goto(f"/trade/{SYMBOL}/")
    customer.get_by_role("link", name=f"Set a price alert for {SYMBOL}").click()
    expect(customer.get_by_label("Symbol")).to_have_value(SYMBOL)
    last = in_worker_thread(lambda: latest_quotes([SYMBOL])[SYMBOL].last)
    customer.get_by_label("When").select_option(label="Price at or below")
    customer.get_by_label("Price ($) or move (%)").fill(str(to_step(last, Decimal("1")) + 1))
    customer.get_by_role("button", name="Create alert").click()
    expect(customer.locator(".messages")).to_contain_text("Alert created.")

    expect_unread(centre, before + 1)
    expect(centre.locator("#notification-centre")).to_contain_text(f"{SYMBOL} is at")
    screenshot(centre, "notifications-03-alert-arrived-live")
    customer.reload()
    expect(customer.get_by_role("cell", name="triggered")).to_be_visible()
    screenshot(customer, "notifications-04-alert-triggered")

    # A market buy: the fill is announced on the ticket and lands in the open centre.
    open_live(customer, f"/trade/{SYMBOL}/")
    customer.get_by_label("Buy", exact=True).check()
    customer.get_by_label("Amount ($)").fill("25")
    review_and_place(customer, side="Buy")

    expect_unread(centre, before + 2)
    expect(centre.locator("#notification-centre")).to_contain_text(f"Order filled: Buy {SYMBOL}")
    assert centre.evaluate("window.openedOnce") is True  # the same document all along: no reload
    screenshot(centre, "notifications-05-fill-arrived-live")
