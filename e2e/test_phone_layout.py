"""Issue 18 item 7, at 375 px (an iPhone's width) in Debian Chromium: the trade page puts the quote and the
ticket first (the ticket starts on the first screen), the navigation is one compact row, and the orders table
becomes stacked rows with amount and status on screen. An order is placed from the phone on the way.
Screenshots go to test-artifacts/phone-*.png.
"""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory, approved_customer
from e2e.support import e2e, open_live, review_and_place, screenshot, signed_in_page
from portfolios.services import deposit_settled_post

pytestmark = e2e

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def pia(transactional_db):
    pia = UserFactory(email="pia@speedtrade.test", first_name="Pia")
    deposit_settled_post(account=approved_customer(pia), amount=Decimal("1000.00"))
    return pia


def box(locator) -> dict:
    return locator.bounding_box()


def test_a_phone_gets_quote_and_ticket_first_one_row_of_navigation_and_stacked_orders(pia, e2e_server, browser):
    page = signed_in_page(browser, e2e_server, pia)
    page.set_viewport_size(PHONE)

    open_live(page, "/trade/BTC/USD/")
    quote, ticket, chart = (page.locator(selector) for selector in (".trade-quote", ".trade-ticket", ".trade-chart"))
    assert box(quote)["y"] < box(ticket)["y"] < box(chart)["y"]
    assert box(ticket)["y"] < PHONE["height"]  # the ticket starts on the first screen
    nav_links = page.locator(".mainnav a")
    assert len({round(box(nav_links.nth(i))["y"]) for i in range(nav_links.count())}) == 1  # one row
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone
    screenshot(page, "phone-01-trade")

    page.get_by_label("Amount ($)").fill("25")
    review_and_place(page, side="Buy")
    screenshot(page, "phone-02-trade-filled")

    page.goto("/orders/")
    row = page.locator("#orders tbody tr").first
    for label in ("Amount", "Status"):
        cell = row.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
        assert box(cell)["x"] + box(cell)["width"] <= PHONE["width"]
    expect(row.locator('td[data-label="Status"]')).to_contain_text("Filled")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone-03-orders")

    open_live(page, "/")
    expect(page.locator('#positions tr[data-symbol="BTC/USD"]')).to_be_visible()
    screenshot(page, "phone-04-home")
