"""Issue 18 item 10: bracket, OTO and OCO orders from the web ticket (placed by `order_place`, the API's own
service), the review step explaining each leg in words and prices, and the order list showing an order's class
with its legs grouped under it."""

import re
from decimal import Decimal

import pytest

from trading.models import Order, OrderEvent
from trading.tests.conftest import fill, quote
from trading.tests.test_pages import reserved_cash, ticket

pytestmark = pytest.mark.django_db

BRACKET = {
    "amount_in": "shares",
    "qty": "2",
    "order_class": "bracket",
    "take_profit_limit_price": "12.00",
    "stop_loss_stop_price": "8.00",
}


def post(client, **fields):
    return client.post("/orders/ticket/", ticket(client, **fields), HTTP_HX_REQUEST="true")


def test_the_review_explains_each_leg_of_a_bracket_and_writes_nothing(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    response = post(alice_browser, step="review", **BRACKET)
    html = response.content.decode()
    assert response.status_code == 200
    start = html.index('id="legs-explained"')
    steps = re.sub(r"\s+", " ", html[start : html.index("</ol>", start)])
    assert "Buy 2 ACME at the market price. Nothing else is sent until this fills." in steps
    assert "two sell orders for the same 2 are placed: a take-profit limit at $12.00 and a stop loss at $8.00" in steps
    assert "When one of them fills, the other is canceled." in steps
    assert "<dd>Bracket</dd>" in html
    assert Order.objects.count() == 0 and reserved_cash(alice_account) == 0


def test_a_bracket_from_the_ticket_is_placed_with_its_two_legs(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    response = post(alice_browser, step="place", **BRACKET)
    assert response.status_code == 200 and "Order placed" in response.content.decode()
    parent = Order.objects.get(parent=None)
    assert parent.order_class == "bracket" and parent.qty == Decimal(2)
    legs = {leg.leg_role: leg for leg in parent.legs.all()}
    assert legs["take_profit"].limit_price == Decimal("12.00")
    assert legs["stop_loss"].stop_price == Decimal("8.00")


def test_an_oto_without_its_exit_is_refused_on_the_exit_field(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    fields = {**BRACKET, "order_class": "oto", "take_profit_limit_price": "", "stop_loss_stop_price": ""}
    html = post(alice_browser, step="review", **fields).content.decode()
    block = html[html.index('id="field-take_profit_limit_price"') :]
    assert "OTO orders need exactly one of take_profit or stop_loss." in block[: block.index("</div>")]
    assert Order.objects.count() == 0 and OrderEvent.objects.count() == 0


def test_an_oco_review_describes_two_exits_for_shares_held(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    fill(alice_account, acme, "5")
    fields = {**BRACKET, "side": "sell", "type": "limit", "limit_price": "10.50", "order_class": "oco"}
    fields["take_profit_limit_price"] = "10.50"
    html = post(alice_browser, step="review", **fields).content.decode()
    assert "Two sell orders for 2 ACME you hold work at once: a take-profit limit at $10.50" in html
    assert "<dd>OCO</dd>" in html


def test_the_order_list_shows_the_class_and_the_legs_under_their_parent(
    alice_browser, alice_account, acme, market_open
):
    quote(bid="9.99", ask="10.01")
    post(alice_browser, step="place", **BRACKET)
    html = alice_browser.get("/orders/").content.decode()
    parent = Order.objects.get(parent=None)
    rows = re.findall(r'<tr id="order-([0-9a-f-]+)"([^>]*)>', html)
    assert [row_id for row_id, _ in rows][0] == str(parent.id)
    assert 'data-order-class="bracket"' in rows[0][1] and ">Bracket</span>" in html
    assert all(f'data-parent-id="{parent.id}"' in attrs for _, attrs in rows[1:]) and len(rows) == 3
