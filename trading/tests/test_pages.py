"""Trade page, order ticket and order pages: login, own orders only, the ticket's review and place steps,
refusals shown inline with nothing written, one order per ticket however often it is sent, fixed queries."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import approved_customer
from portfolios.models import LedgerAccount
from portfolios.services import deposit_settled_post
from trading.models import Order, OrderEvent
from trading.tests.conftest import fill, quote

pytestmark = pytest.mark.django_db


def ticket_fields(html: str) -> dict:
    """The ticket's hidden fields as the browser would send them back."""
    return {
        name: value
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
        if name in ("symbol", "client_order_id")
    }


def ticket(client, **fields):
    page = client.get("/trade/ACME/").content.decode()
    defaults = {"side": "buy", "amount_in": "dollars", "type": "market", "time_in_force": "day"}
    return {**ticket_fields(page), **defaults, **fields}


def reserved_cash(account) -> Decimal:
    return LedgerAccount.objects.get(account=account, kind=LedgerAccount.Kind.CASH).reserved


@pytest.mark.parametrize("path", ["/trade/ACME/", "/trade/", "/orders/"])
def test_pages_need_a_login(client, acme, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_trade_page_has_the_quote_chart_and_a_labelled_ticket(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    html = alice_browser.get("/trade/ACME/").content.decode()
    assert 'data-quote-symbol="ACME" data-field="bid">$9.99<' in html
    assert 'data-quote-symbol="ACME" data-field="ask">$10.01<' in html
    assert 'id="price-chart"' in html and 'id="price-chart-data"' in html
    for label in ("Buy", "Sell", "Amount ($)", "Shares", "Order type", "Time in force", "Review order"):
        assert f">{label}<" in html, label
    assert 'id="order-status"' in html and 'aria-live="polite"' in html
    assert ticket_fields(html)["client_order_id"].startswith("web-")


def test_crypto_pairs_have_readable_urls(alice_browser, alice_account, market_open):
    from portfolios.tests.factories import AssetFactory

    AssetFactory(crypto=True, reference_price=Decimal("50000"))
    assert alice_browser.get("/trade/BTC/USD/").status_code == 200
    assert alice_browser.get("/trade/BTCUSD/").status_code == 200
    assert alice_browser.get("/trade/NOPE/").status_code == 404


def test_each_rendered_ticket_has_its_own_client_order_id(alice_browser, alice_account, acme):
    first = ticket_fields(alice_browser.get("/trade/ACME/").content.decode())
    second = ticket_fields(alice_browser.get("/trade/ACME/").content.decode())
    assert first["client_order_id"] != second["client_order_id"]


def test_review_shows_the_estimate_and_writes_nothing(alice_browser, alice_account, acme, market_open):
    quote(bid="9.99", ask="10.01")
    response = alice_browser.post(
        "/orders/ticket/", ticket(alice_browser, amount_in="shares", qty="2", step="review"), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'id="estimated-value">\$20.02<', html)  # 2 × ask
    assert re.search(r'id="estimated-fee">\$0.00<', html)
    # $1,000 − 2 × 10.01 × 1.05 (the market-order collar) = $1,000 − 21.021, held rounded up to 21.03
    assert re.search(r'id="buying-power-after">\$978.97<', html)
    assert ">Place order<" in html and "<html" not in html
    assert Order.objects.count() == 0 and reserved_cash(alice_account) == 0


def test_placing_twice_with_the_same_ticket_places_one_order(
    alice_browser, alice_account, acme, market_open, django_capture_on_commit_callbacks
):
    quote(bid="9.99", ask="10.01")
    fields = ticket(alice_browser, notional="25", step="place")
    with django_capture_on_commit_callbacks(execute=True):
        first = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    again = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    order = Order.objects.get()
    assert order.notional == Decimal("25") and order.client_order_id == fields["client_order_id"]
    assert "Order placed" in first and "already placed" in again
    assert f'data-order-id="{order.id}"' in first and 'hx-swap-oob="true"' in first
    # The ticket comes back fresh, ready for the next order with a new id.
    assert ticket_fields(first)["client_order_id"] != fields["client_order_id"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notional": "0.50"}, "notional must be at least $1."),
        ({"notional": "5000"}, "Insufficient buying power"),
        ({"notional": ""}, "Enter an amount."),
        ({"notional": "abc"}, "A valid number is required."),
        ({"amount_in": "shares", "qty": "1", "type": "limit", "limit_price": ""}, "limit_price is required"),
        ({"amount_in": "shares", "qty": "1", "type": "limit", "limit_price": "50"}, "more than 10% above the ask"),
        ({"side": "sell", "amount_in": "shares", "qty": "1"}, "You hold no ACME to sell."),
    ],
)
@pytest.mark.parametrize("step", ["review", "place"])
def test_refusals_show_the_apis_message_and_write_nothing(
    alice_browser, alice_account, acme, market_open, fields, message, step
):
    quote(bid="9.99", ask="10.01")
    response = alice_browser.post("/orders/ticket/", ticket(alice_browser, step=step, **fields), HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Order.objects.count() == 0 and OrderEvent.objects.count() == 0 and reserved_cash(alice_account) == 0


def test_whole_share_assets_refuse_dollar_orders(alice_browser, alice_account, market_open):
    from portfolios.tests.factories import AssetFactory

    AssetFactory(symbol="WHOLE", fractionable=False, min_trade_increment=Decimal(1))
    quote(symbol="WHOLE")
    page = alice_browser.get("/trade/WHOLE/").content.decode()
    assert 'data-fractionable="false"' in page  # ticket.js checks before sending
    fields = {**ticket_fields(page), "side": "buy", "amount_in": "dollars", "notional": "20", "type": "market"}
    response = alice_browser.post("/orders/ticket/", {**fields, "time_in_force": "day", "step": "review"})
    assert response.status_code == 422 and "cannot be traded in fractions" in response.content.decode()
    assert Order.objects.count() == 0


def test_without_javascript_the_ticket_returns_the_whole_page(alice_browser, alice_account, acme, market_open):
    quote()
    response = alice_browser.post("/orders/ticket/", ticket(alice_browser, notional="25", step="review"))
    assert response.status_code == 200 and b"<html" in response.content and b"Place order" in response.content


def _place(account, **changes) -> Order:
    from trading.risk import OrderRequest
    from trading.services import order_place

    fields = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "qty": Decimal(1)}
    request = OrderRequest(**{"limit_price": Decimal("9.50"), **fields, **changes})
    return order_place(account=account, request=request)[0]


def test_orders_filter_and_paginate(alice_browser, alice_account, acme, market_open):
    quote()
    orders = [_place(alice_account, limit_price=Decimal("9.00") + Decimal(i) / 100) for i in range(30)]
    from trading.services import order_cancel

    order_cancel(account=alice_account, order_id=orders[0].pk)
    first_page = alice_browser.get("/orders/?status=all").content.decode()
    assert first_page.count("data-order-id=") == 25 and "Page 1 of 2" in first_page
    assert alice_browser.get("/orders/?status=all&page=2").content.decode().count("data-order-id=") == 5
    closed = alice_browser.get("/orders/?status=closed").content.decode()
    assert closed.count("data-order-id=") == 1 and str(orders[0].pk) in closed


def test_orders_list_costs_the_same_queries_for_few_or_many(alice_browser, alice_account, acme, market_open):
    quote()
    _place(alice_account)
    alice_browser.get("/orders/")
    with CaptureQueriesContext(connection) as few:
        alice_browser.get("/orders/")
    for i in range(10):
        _place(alice_account, limit_price=Decimal("9.00") + Decimal(i) / 100)
    with CaptureQueriesContext(connection) as many:
        alice_browser.get("/orders/")
    assert len(many) == len(few)


def test_trade_page_queries_are_fixed(alice_browser, alice_account, acme, market_open):
    quote()
    alice_browser.get("/trade/ACME/")
    with CaptureQueriesContext(connection) as before:
        alice_browser.get("/trade/ACME/")
    _place(alice_account)
    with CaptureQueriesContext(connection) as after:
        alice_browser.get("/trade/ACME/")
    assert len(after) == len(before)


def test_order_detail_shows_the_timeline_and_only_to_its_owner(
    alice_browser, alice_account, acme, bob, market_open, client
):
    quote()
    order = _place(alice_account)
    html = alice_browser.get(f"/orders/{order.pk}/").content.decode()
    assert "Timeline" in html and ">New<" in html and "Replace order" in html
    bob_account = approved_customer(bob)
    deposit_settled_post(account=bob_account, amount=Decimal("10"))
    client.force_login(bob)
    assert client.get(f"/orders/{order.pk}/").status_code == 404
    assert client.post(f"/orders/{order.pk}/cancel/").status_code == 404
    assert client.post(f"/orders/{order.pk}/replace/", {"limit_price": "9.10"}).status_code == 404
    order.refresh_from_db()
    assert order.status == "new"


def test_cancel_from_the_list_re_renders_the_row(alice_browser, alice_account, acme, market_open):
    quote()
    order = _place(alice_account)
    response = alice_browser.post(f"/orders/{order.pk}/cancel/", {"compact": "1"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith("<tr") and "Cancel requested" in html
    order.refresh_from_db()
    assert order.status in ("pending_cancel", "canceled")


def test_replace_changes_the_limit_and_refusals_show_inline(alice_browser, alice_account, acme, market_open):
    quote()
    order = _place(alice_account)
    refused = alice_browser.post(f"/orders/{order.pk}/replace/", {"limit_price": "9.999"})
    assert refused.status_code == 422 and "limit_price must be a multiple of 0.01" in refused.content.decode()
    assert Order.objects.count() == 1
    response = alice_browser.post(f"/orders/{order.pk}/replace/", {"limit_price": "9.10"})
    new = Order.objects.get(replaces=order)
    assert response.status_code == 302 and response.url == f"/orders/{new.pk}/"
    assert new.limit_price == Decimal("9.10")


def test_a_held_position_offers_sell_all_with_its_exact_quantity(alice_browser, alice_account, acme, market_open):

    fill(alice_account, acme, "2.5")
    html = alice_browser.get("/trade/ACME/").content.decode()
    assert 'data-sell-all="2.5"' in html and "You own" in html


def test_the_trade_link_opens_the_last_symbol_else_a_popular_one_under_100(alice_browser, alice_account, acme):
    from portfolios.tests.factories import AssetFactory

    AssetFactory(symbol="F", reference_price=Decimal("10.52"))
    assert alice_browser.get("/trade/").url == "/trade/F/"  # nothing of her own yet
    alice_browser.get("/trade/ACME/")
    assert alice_browser.get("/trade/").url == "/trade/ACME/"
    assert alice_browser.get("/trade/?symbol=F").url == "/trade/F/"  # the search box still wins


def test_a_new_session_opens_the_symbol_last_ordered(client, alice, alice_account, acme, market_open):
    quote()
    _place(alice_account)
    client.force_login(alice)
    assert client.get("/trade/").url == "/trade/ACME/"
