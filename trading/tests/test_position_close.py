"""Closing positions (Alpaca's `DELETE /positions[/{symbol}]`): market sells placed through `order_place`."""

from decimal import Decimal

import pytest

from accounts.tests.factories import approved_customer
from portfolios.models import Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.models import Order, OrderEvent
from trading.tests.conftest import place, quote

pytestmark = pytest.mark.django_db


def held(account, asset) -> Decimal:
    return Position.objects.get(account=account, asset=asset).qty


@pytest.fixture
def three_acme(alice_account, acme, market_open):
    quote(bid="10.00", ask="10.00")
    assert place(alice_account, qty=Decimal("3")).status == "filled"
    return alice_account


def test_closing_a_position_sells_all_of_it_at_market(alice_api, three_acme, acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete("/api/v1/positions/acme")
    assert response.status_code == 200
    body = response.json()
    assert (body["symbol"], body["side"], body["type"], body["time_in_force"], body["qty"]) == (
        "ACME",
        "sell",
        "market",
        "day",
        "3",
    )
    assert Order.objects.get(pk=body["id"]).status == "filled"
    assert held(three_acme, acme) == 0


@pytest.mark.parametrize(("query", "sold"), [("qty=1", "1"), ("percentage=50", "1"), ("percentage=100", "3")])
def test_qty_or_percentage_closes_part_of_it(alice_api, three_acme, acme, query, sold):
    """As at Alpaca, a percentage of a whole-share position sells whole shares (50% of 3 → 1)."""
    response = alice_api.delete(f"/api/v1/positions/ACME?{query}")
    assert response.status_code == 200 and response.json()["qty"] == sold


def test_a_percentage_of_a_fractional_position_sells_fractions(alice_api, alice_account, acme, market_open):
    quote(bid="10.00", ask="10.00")
    place(alice_account, qty=Decimal("1.5"))
    response = alice_api.delete(f"/api/v1/positions/{acme.pk}?percentage=50")
    assert response.status_code == 200 and response.json()["qty"] == "0.75"


def test_a_crypto_position_closes_with_gtc(alice_api, alice_account, market_open):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="50.00", ask="50.00")
    place(alice_account, symbol="BTC/USD", time_in_force="gtc", qty=Decimal("0.5"))
    response = alice_api.delete("/api/v1/positions/BTC/USD")
    assert response.status_code == 200
    assert (response.json()["time_in_force"], response.json()["qty"]) == ("gtc", "0.5")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/positions/ACME?qty=1&percentage=10", 400, "validation_error"),
        ("/api/v1/positions/ACME?percentage=101", 400, "validation_error"),
        ("/api/v1/positions/ACME?qty=-1", 400, "validation_error"),
        ("/api/v1/positions/ACME?qty=abc", 400, "validation_error"),
        ("/api/v1/positions/ACME?qty=4", 422, "insufficient_position"),
        ("/api/v1/positions/ACME?percentage=0.000000001", 422, "qty_below_minimum"),
        ("/api/v1/positions/NOPE", 404, "position_not_found"),
    ],
)
def test_bad_close_requests_are_refused_and_write_nothing(alice_api, three_acme, acme, path, status, code):
    orders, events = Order.objects.count(), OrderEvent.objects.count()
    response = alice_api.delete(path)
    assert response.status_code == status and response.json()["code"] == code
    assert (Order.objects.count(), OrderEvent.objects.count()) == (orders, events)
    assert Position.objects.get(account=three_acme, asset=acme).reserved_qty == 0


def test_another_users_position_is_not_found(api_client, bob, three_acme, acme):
    deposit_settled_post(account=approved_customer(bob), amount=Decimal("100.00"))
    api_client.force_authenticate(bob)
    response = api_client.delete("/api/v1/positions/ACME")
    assert response.status_code == 404 and response.json()["code"] == "position_not_found"
    assert api_client.delete(f"/api/v1/positions/{acme.pk}").status_code == 404
    assert held(three_acme, acme) == 3 and not Order.objects.filter(side="sell").exists()


@pytest.fixture
def acme_and_bitcoin_with_a_resting_sell(three_acme, market_open):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="50.00", ask="50.00")
    place(three_acme, symbol="BTC/USD", time_in_force="gtc", qty=Decimal("1"))
    resting = place(three_acme, side="sell", type="limit", limit_price=Decimal("10.50"), qty=Decimal("3"))
    assert resting.status == "accepted"
    return resting


def test_close_all_reports_each_position(alice_api, acme_and_bitcoin_with_a_resting_sell):
    response = alice_api.delete("/api/v1/positions")
    assert response.status_code == 207
    results = {item["symbol"]: item for item in response.json()}
    assert results["BTC/USD"]["status"] == 200 and results["BTC/USD"]["body"]["qty"] == "1"
    # The resting sell holds every ACME share: refused, the resting order untouched.
    assert results["ACME"]["status"] == 422 and results["ACME"]["body"]["code"] == "insufficient_position"
    acme_and_bitcoin_with_a_resting_sell.refresh_from_db()
    assert acme_and_bitcoin_with_a_resting_sell.status == "accepted"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_close_all_with_cancel_orders_cancels_first(alice_api, three_acme, acme, acme_and_bitcoin_with_a_resting_sell):
    """Committed for real: each cancel reaches the (in-process) venue before the positions are closed."""
    response = alice_api.delete("/api/v1/positions?cancel_orders=true")
    assert response.status_code == 207
    assert sorted((item["symbol"], item["status"]) for item in response.json()) == [("ACME", 200), ("BTC/USD", 200)]
    acme_and_bitcoin_with_a_resting_sell.refresh_from_db()
    assert acme_and_bitcoin_with_a_resting_sell.status == "canceled"
    assert held(three_acme, acme) == 0
    assert not Position.objects.filter(account=three_acme, qty__gt=0).exists()
