"""`/api/v1/orders`: Alpaca's shapes, idempotent client_order_id, owners only."""

from decimal import Decimal
from uuid import UUID

import pytest
from alpaca.trading.models import Order as AlpacaOrder

from portfolios.services import account_open
from trading.models import Order
from trading.tests.conftest import quote

pytestmark = pytest.mark.django_db

LIMIT_BUY = {
    "symbol": "ACME",
    "side": "buy",
    "type": "limit",
    "time_in_force": "day",
    "qty": "2",
    "limit_price": "9.00",
}


def test_placing_an_order_answers_alpacas_shape(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    response = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["qty"] == "2" and body["limit_price"] == "9" and body["symbol"] == "ACME"
    parsed = AlpacaOrder(**body)
    assert str(parsed.id) == body["id"]


def test_the_same_client_order_id_returns_the_existing_order(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    first = alice_api.post("/api/v1/orders", {**LIMIT_BUY, "client_order_id": "mine-1"}, format="json")
    again = alice_api.post("/api/v1/orders", {**LIMIT_BUY, "client_order_id": "mine-1"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and Order.objects.count() == 1
    found = alice_api.get("/api/v1/orders:by_client_order_id", {"client_order_id": "mine-1"})
    assert found.json()["id"] == first.json()["id"]


def test_list_cancel_and_timeline(alice_api, alice_account, acme, market_open, django_capture_on_commit_callbacks):
    quote(ask="10.00")
    with django_capture_on_commit_callbacks(execute=True):
        order_id = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json").json()["id"]
    assert [o["id"] for o in alice_api.get("/api/v1/orders").json()] == [order_id]
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/orders/{order_id}").status_code == 204
    assert alice_api.get("/api/v1/orders").json() == []
    assert alice_api.get("/api/v1/orders", {"status": "closed"}).json()[0]["status"] == "canceled"
    events = alice_api.get(f"/api/v1/orders/{order_id}/events").json()
    assert [e["event"] for e in events] == ["new", "pending_new", "accepted", "pending_cancel", "canceled"]
    second = alice_api.delete(f"/api/v1/orders/{order_id}")
    assert second.status_code == 422 and second.json()["code"] == "not_cancelable"


def test_replace_creates_the_new_order_and_marks_the_old_replaced(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    old_id = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json").json()["id"]
    response = alice_api.patch(f"/api/v1/orders/{old_id}", {"limit_price": "9.50"}, format="json")
    assert response.status_code == 200
    new = response.json()
    assert new["replaces"] == old_id and new["limit_price"] == "9.5"
    old = Order.objects.get(pk=old_id)
    assert old.status == "replaced" and str(old.replaced_by_id) == new["id"] and old.reserved_cash == 0
    assert Order.objects.get(pk=new["id"]).reserved_cash == Decimal("19.00")


def test_cancel_all_reports_each_order(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    for _ in range(2):
        alice_api.post("/api/v1/orders", LIMIT_BUY, format="json")
    response = alice_api.delete("/api/v1/orders")
    assert response.status_code == 207 and [r["status"] for r in response.json()] == [200, 200]


def test_bob_cannot_see_or_touch_alices_order(alice_api, alice_account, bob, api_client, acme, market_open):
    quote(ask="10.00")
    order_id = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json").json()["id"]
    account_open(user=bob)
    api_client.force_authenticate(bob)
    for call in (api_client.get, api_client.delete):
        assert call(f"/api/v1/orders/{order_id}").status_code == 404
    assert api_client.get(f"/api/v1/orders/{order_id}/executions").status_code == 404
    assert Order.objects.get(pk=order_id).status == "new"


def test_the_order_list_shows_each_order_exactly_as_its_detail_does(alice_api, alice_account, acme, market_open):
    """The list reads rows without model instances (500 a page): every field, legs and trailing stops included,
    must be what the single-order view (a model instance) shows, and alpaca-py must parse it."""
    quote(ask="10.00")
    canceled = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json").json()["id"]
    alice_api.delete(f"/api/v1/orders/{canceled}")
    alice_api.post(
        "/api/v1/orders",
        {"symbol": "ACME", "side": "buy", "type": "trailing_stop", "time_in_force": "gtc", "qty": "1",
         "trail_price": "0.50"},
        format="json",
    )  # fmt: skip
    alice_api.post(
        "/api/v1/orders",
        {**LIMIT_BUY, "time_in_force": "gtc", "order_class": "bracket", "take_profit": {"limit_price": "11.00"},
         "stop_loss": {"stop_price": "8.50"}},
        format="json",
    )  # fmt: skip

    Order.objects.filter(type="trailing_stop").update(hwm=Decimal("9.80"))  # the low a buy trails, after ticks

    listed = alice_api.get("/api/v1/orders", {"status": "all", "nested": "true", "limit": 500}).json()

    assert [order["type"] for order in listed] == ["limit", "trailing_stop", "limit"]
    assert listed[1]["stop_price"] == "10.3" and len(listed[0]["legs"]) == 2
    assert listed == [alice_api.get(f"/api/v1/orders/{order['id']}").json() for order in listed]
    assert [AlpacaOrder(**order).id for order in listed] == [UUID(order["id"]) for order in listed]
