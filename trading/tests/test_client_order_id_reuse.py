"""Issue #16 item 10: a client_order_id is an idempotency key. The same id with the same order
returns the original (200); with a different order it is refused (422 `client_order_id_reused`),
naming the fields that differ — on /api/v1 and on Alpaca's /v2."""

import pytest

from trading.models import Order, OrderEvent
from trading.tests import test_orders_api
from trading.tests.conftest import quote

pytestmark = pytest.mark.django_db

LIMIT_BUY = {**test_orders_api.LIMIT_BUY, "client_order_id": "mine-1"}


def test_the_same_order_again_returns_the_original(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    first = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json")
    again = alice_api.post("/api/v1/orders", {**LIMIT_BUY, "limit_price": "9"}, format="json")  # 9 == 9.00
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_a_different_order_under_a_used_id_is_refused_naming_what_differs(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    first = alice_api.post("/api/v1/orders", LIMIT_BUY, format="json").json()
    events = OrderEvent.objects.count()
    response = alice_api.post("/api/v1/orders", {**LIMIT_BUY, "qty": "3", "limit_price": "9.50"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "client_order_id_reused"
    assert body["message"] == (
        f"client_order_id 'mine-1' was already used for order {first['id']}, which differs in qty, limit_price. "
        "Use a new client_order_id for a new order; resend the same order to get the original back."
    )
    assert body["fields"] == {
        "qty": ["The order with this client_order_id has 2; this request has 3."],
        "limit_price": ["The order with this client_order_id has 9; this request has 9.5."],
    }
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == events


def test_legs_count_as_part_of_the_order(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    bracket = {
        **LIMIT_BUY,
        "order_class": "bracket",
        "time_in_force": "gtc",
        "take_profit": {"limit_price": "12"},
        "stop_loss": {"stop_price": "8"},
    }
    assert alice_api.post("/api/v1/orders", bracket, format="json").status_code == 201
    assert alice_api.post("/api/v1/orders", bracket, format="json").status_code == 200
    moved = {**bracket, "stop_loss": {"stop_price": "7.5"}}
    response = alice_api.post("/api/v1/orders", moved, format="json")
    assert response.status_code == 422 and list(response.json()["fields"]) == ["stop_loss"]


def test_v2_refuses_a_reused_id_in_alpacas_shape(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    assert alice_api.post("/v2/orders", LIMIT_BUY, format="json").status_code in (200, 201)
    same = alice_api.post("/v2/orders", LIMIT_BUY, format="json")
    assert same.status_code == 200
    response = alice_api.post("/v2/orders", {**LIMIT_BUY, "side": "sell"}, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "code": 42210000,
        "message": f"client_order_id 'mine-1' was already used for order {same.json()['id']}, which differs in "
        "side. Use a new client_order_id for a new order; resend the same order to get the original back.",
    }
