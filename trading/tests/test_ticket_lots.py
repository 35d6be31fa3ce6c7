"""Choosing tax lots on a sell's review step (issue 19): the ticket lists the open lots with their gain at
the estimated price, the chosen lots travel with the order to its fills, and a choice that does not add up
is refused with nothing placed. The API takes the same choice as `lots`."""

from decimal import Decimal

import pytest

from accounts.tests.factories import approved_customer
from portfolios.models import LotClosing, LotSelection, TaxLot
from portfolios.services import deposit_settled_post
from trading.models import Order
from trading.tests.conftest import fill, quote
from trading.tests.test_pages import ticket

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def two_lots(alice_account, acme, market_open):
    fill(alice_account, acme, "5", price="8.00")  # 40.00
    market_open.tick(60)
    fill(alice_account, acme, "5", price="12.00")  # 60.00
    quote(bid="9.99", ask="10.01")
    return list(TaxLot.objects.filter(account=alice_account).order_by("acquired_at"))


def test_the_review_of_a_sell_lists_the_open_lots_with_their_gain_at_the_bid(alice_browser, two_lots):
    older, newer = two_lots
    fields = ticket(alice_browser, side="sell", amount_in="shares", qty="5", step="review")
    html = alice_browser.post("/orders/ticket/", fields, HTTP_HX_REQUEST="true").content.decode()
    choice = html[html.index('id="lot-choice"') :]
    assert f'name="lot-{older.pk}"' in choice and f'name="lot-{newer.pk}"' in choice
    # 5 × 9.99 = 49.95: +9.95 on the 8.00 lot, −10.05 on the 12.00 lot.
    assert "9.95" in choice and "10.05" in choice


def test_placing_with_a_chosen_lot_sells_that_lot(
    alice_browser, alice_account, two_lots, django_capture_on_commit_callbacks
):
    older, newer = two_lots
    fields = ticket(alice_browser, side="sell", amount_in="shares", qty="5", step="place")
    with django_capture_on_commit_callbacks(execute=True):  # the paper venue fills it at the bid on acceptance
        response = alice_browser.post("/orders/ticket/", {**fields, f"lot-{newer.pk}": "5"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    order = Order.objects.get(account=alice_account, side="sell")
    assert order.status == "filled"
    closing = LotClosing.objects.get()
    assert closing.lot == newer  # FIFO would have sold the older lot
    assert (closing.cost_basis, closing.gain) == (D("60.00"), closing.proceeds - D("60.00"))
    # A loss with the older lot bought within 30 days: a wash sale, the loss moves into the older lot.
    older.refresh_from_db()
    assert closing.wash_sale_disallowed == -closing.gain and older.wash_sale_of == closing


def test_lots_that_do_not_add_up_to_the_order_are_refused_and_nothing_is_placed(alice_browser, alice_account, two_lots):
    older, _ = two_lots
    fields = ticket(alice_browser, side="sell", amount_in="shares", qty="5", step="place")
    response = alice_browser.post("/orders/ticket/", {**fields, f"lot-{older.pk}": "3"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "add up to 3 shares, not the order&#x27;s 5" in response.content.decode()
    assert not Order.objects.filter(side="sell").exists() and not LotSelection.objects.exists()
    typo = alice_browser.post("/orders/ticket/", {**fields, f"lot-{older.pk}": "five"}, HTTP_HX_REQUEST="true")
    assert typo.status_code == 422 and "A valid number is required." in typo.content.decode()
    assert not Order.objects.filter(side="sell").exists()


def test_the_api_takes_lots_and_refuses_another_customers(alice_api, alice_account, two_lots, bob_lot):
    older, newer = two_lots
    order = {"symbol": "ACME", "side": "sell", "type": "limit", "limit_price": "20", "time_in_force": "day"}
    refused = alice_api.post(
        "/api/v1/orders", {**order, "qty": "2", "lots": [{"lot_id": bob_lot.pk, "qty": "2"}]}, format="json"
    )
    assert refused.status_code == 400 and "lots" in refused.json()["fields"]
    assert not Order.objects.filter(side="sell").exists()
    placed = alice_api.post(
        "/api/v1/orders",
        {**order, "qty": "3", "lots": [{"lot_id": newer.pk, "qty": "2"}, {"lot_id": older.pk, "qty": "1"}]},
        format="json",
    )
    assert placed.status_code == 201
    assert list(LotSelection.objects.values_list("lot_id", "qty")) == [(newer.pk, D("2")), (older.pk, D("1"))]


@pytest.fixture
def bob_lot(bob, acme):
    account = approved_customer(bob)
    deposit_settled_post(account=account, amount=D("100.00"))
    fill(account, acme, "2", price="10.00")
    return TaxLot.objects.get(account=account)
