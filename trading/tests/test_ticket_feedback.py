"""Issue 18 item 6: every refusal is visible where the customer is looking, and nothing stale stays on the
page after an action (the position after "Sell all", the orders list, the replace form's figures)."""

import re
from decimal import Decimal

import pytest

from trading.risk import OrderRejected, OrderRequest
from trading.services import order_place
from trading.tests.conftest import fill, quote
from trading.tests.test_pages import _place, ticket

pytestmark = pytest.mark.django_db


def field_block(html: str, name: str) -> str:
    start = html.index(f'id="field-{name}"')
    return html[start : html.index("</div>", start)]


def test_selling_dollars_of_what_you_do_not_hold_says_so_on_the_dollars_box(
    alice_browser, alice_account, acme, market_open
):
    quote(bid="9.99", ask="10.01")
    fields = ticket(alice_browser, side="sell", amount_in="dollars", notional="5", step="review")
    html = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    notional = field_block(html, "notional")
    assert "invalid" in html[html.index('id="field-notional"') - 40 : html.index('id="field-notional"')]
    assert "You hold no ACME to sell." in notional
    assert "You hold no" not in field_block(html, "qty")


def test_a_sell_with_no_position_is_refused_as_that_before_the_wash_trade_rule(alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    _place(alice_account, type="market", limit_price=None)  # an open buy the sell would cross
    sell = OrderRequest(symbol="ACME", side="sell", type="market", time_in_force="day", qty=Decimal(1))
    with pytest.raises(OrderRejected) as refused:
        order_place(account=alice_account, request=sell)
    assert refused.value.code == "insufficient_position"
    assert refused.value.message == "You hold no ACME to sell."


def test_sell_all_refreshes_the_position_line_with_the_placed_order(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    fill(alice_account, acme, "2.5")
    page = alice_browser.get("/trade/ACME/").content.decode()
    assert "You own" in page and 'hx-select="#position"' in page  # a fill re-fetches it too
    fields = ticket(alice_browser, side="sell", amount_in="shares", qty="2.5", step="review")
    html = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'<div id="position" hx-swap-oob="true">', html)  # every ticket response carries it
    # The sell fills; the trade stream's account-changed re-fetches the page and keeps #position.
    fill(alice_account, acme, "2.5", side="sell")
    refreshed = alice_browser.get("/trade/ACME/").content.decode()
    position = refreshed[refreshed.index('<div id="position"') :]
    assert "You own" not in position[: position.index("</div>")] and "data-sell-all" not in refreshed


def test_the_orders_page_follows_the_trade_stream(alice_browser, alice_account, acme, market_open):
    quote()
    _place(alice_account)
    html = alice_browser.get("/orders/?status=open").content.decode()
    live = re.search(r'<div id="orders-live"[^>]*>', html).group(0)
    assert 'hx-trigger="account-changed from:body"' in live and 'hx-select="#orders-live"' in live
    assert 'hx-get="/orders/?status=open"' in live


def test_limit_orders_say_why_they_are_in_shares(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    html = alice_browser.get("/trade/ACME/").content.decode()
    assert re.search(r'id="ticket-note" hidden>Dollar amounts are for market orders only', html)
    fields = ticket(alice_browser, amount_in="shares", qty="1", type="limit", limit_price="50", step="review")
    refused = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'id="ticket-note" >Dollar amounts are for market orders only', refused)


def test_the_replace_form_starts_from_the_order_as_it_stands(alice_browser, alice_account, acme, market_open):
    quote()
    order = _place(alice_account, qty=Decimal(3), limit_price=Decimal("9.50"))
    html = alice_browser.get(f"/orders/{order.pk}/").content.decode()
    assert re.search(r'name="qty" value="3"', html)
    assert re.search(r'name="limit_price" value="9.5"', html)
