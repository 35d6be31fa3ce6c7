"""The Alpaca venue through alpaca-py itself, offline: alpaca-py's HTTP session is answered at the
transport by requests-mock with recorded responses in Alpaca's format (trading/tests/recordings)."""

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import TestCase

from trading import services
from trading.brokers.alpaca import order_request
from trading.brokers.base import VenueUnavailable, broker_by_name
from trading.brokers.rate_limit import TokenBucket
from trading.models import Execution, Order
from trading.risk import OrderRequest
from trading.tasks import reconcile_orders

pytestmark = pytest.mark.django_db

RECORDINGS = Path(__file__).parent / "recordings"
BASE = "https://alpaca.test"
ORDERS = f"{BASE}/v2/orders"
BY_CLIENT_ID = f"{BASE}/v2/orders:by_client_order_id"
ALPACA_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
BUY = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": Decimal("10.00")}


def recording(name: str, **values):
    text = (RECORDINGS / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


def alpaca_error(name: str) -> dict:
    return recording("alpaca_errors.json")[name]


@pytest.fixture
def alpaca(settings, requests_mock):
    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "PKTEST1234", "secret-never-logged"
    settings.ALPACA_BASE_URL = BASE
    settings.BROKER_US_EQUITY = "alpaca"
    return requests_mock


def place(account, **fields) -> Order:
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(account=account, request=OrderRequest(**{**BUY, "qty": Decimal("4"), **fields}))
    order.refresh_from_db()
    return order


def posts(mock) -> list[dict]:
    return [call.json() for call in mock.request_history if call.method == "POST"]


def test_an_accepted_order_carries_our_id_and_stores_alpacas(alpaca, alice_account, acme, market_open):
    alpaca.post(
        ORDERS,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
        ),
    )
    order = place(alice_account)
    assert order.status == "accepted" and order.broker == "alpaca" and order.broker_order_id == ALPACA_ID
    assert posts(alpaca) == [
        {
            "symbol": "ACME",
            "qty": 4.0,
            "side": "buy",
            "type": "limit",
            "time_in_force": "day",
            "order_class": "simple",
            "client_order_id": str(order.id),
            "limit_price": 10.0,
        }
    ]
    assert alpaca.request_history[0].headers["APCA-API-KEY-ID"] == "PKTEST1234"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "market", "qty": Decimal("2")}, {"type": "market", "qty": 2.0}),
        ({"type": "market", "notional": Decimal("25.50")}, {"type": "market", "notional": 25.5}),
        (
            {"type": "limit", "qty": Decimal("0.123456789"), "limit_price": Decimal("10.01")},
            {"type": "limit", "qty": 0.123456789, "limit_price": 10.01},
        ),
        ({"type": "stop", "qty": Decimal("1"), "stop_price": Decimal("9.5")}, {"type": "stop", "stop_price": 9.5}),
        (
            {"type": "stop_limit", "qty": Decimal("1"), "stop_price": Decimal("9.5"), "limit_price": Decimal("9.4")},
            {"type": "stop_limit", "stop_price": 9.5, "limit_price": 9.4},
        ),
        (
            {"type": "trailing_stop", "qty": Decimal("1"), "trail_percent": Decimal("2.5")},
            {"type": "trailing_stop", "trail_percent": 2.5},
        ),
        (
            {"type": "trailing_stop", "qty": Decimal("1"), "trail_price": Decimal("0.75")},
            {"type": "trailing_stop", "trail_price": 0.75},
        ),
        ({"time_in_force": "gtc"}, {"time_in_force": "gtc", "type": "market", "qty": 3.0}),
        ({"time_in_force": "opg"}, {"time_in_force": "opg"}),
        ({"time_in_force": "cls"}, {"time_in_force": "cls"}),
        ({"time_in_force": "ioc"}, {"time_in_force": "ioc"}),
        ({"time_in_force": "fok"}, {"time_in_force": "fok"}),
        ({"type": "limit", "limit_price": Decimal("10"), "extended_hours": True}, {"extended_hours": True}),
    ],
)
def test_every_type_time_in_force_and_extended_hours_maps_to_alpaca_py(fields, expected):
    order = Order(symbol="ACME", side="sell", type="market", time_in_force="day", qty=Decimal("3"))
    for name, value in fields.items():
        setattr(order, name, value)
    if "notional" in fields:
        order.qty = None
    body = order_request(order).to_request_fields()
    assert body["client_order_id"] == str(order.id) and body["order_class"] == "simple" and body["side"] == "sell"
    assert {key: body.get(key) for key in expected} == expected


def test_insufficient_buying_power_rejects_with_alpacas_message(alpaca, alice_account, acme, market_open):
    alpaca.post(ORDERS, status_code=403, json=alpaca_error("insufficient_buying_power"))
    order = place(alice_account)
    assert order.status == "rejected" and order.reject_reason == "Alpaca: insufficient buying power"
    assert order.reserved_cash == 0 and len(posts(alpaca)) == 1


def test_invalid_order_422_is_a_definite_rejection(alpaca, alice_account, acme, market_open):
    alpaca.post(ORDERS, status_code=422, json=alpaca_error("invalid_qty"))
    assert place(alice_account).reject_reason == "Alpaca: qty must be > 0"


def test_a_timeout_after_alpaca_accepted_is_found_by_client_order_id_and_not_resent(
    alpaca, alice_account, acme, market_open
):
    alpaca.post(ORDERS, exc=requests.exceptions.ReadTimeout)
    alpaca.get(
        BY_CLIENT_ID,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.qs["client_order_id"][0]
        ),
    )
    order = place(alice_account)
    assert order.status == "accepted" and order.broker_order_id == ALPACA_ID
    assert len(posts(alpaca)) == 1
    assert order.events.get(event="accepted").detail == {"found_by": "client_order_id"}


def test_429_then_success_looks_up_before_resending(alpaca, alice_account, acme, market_open):
    alpaca.post(
        ORDERS,
        [
            {"status_code": 429, "json": alpaca_error("rate_limited")},
            {
                "json": lambda request, context: recording(
                    "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
                )
            },
        ],
    )
    alpaca.get(BY_CLIENT_ID, status_code=404, json=alpaca_error("not_found"))
    order = place(alice_account)
    assert order.status == "accepted" and len(posts(alpaca)) == 2
    methods = [call.method for call in alpaca.request_history]
    assert methods == ["POST", "GET", "POST"]  # alpaca-py's own 429 retry is off: we asked before resending


def test_5xx_is_an_unknown_outcome(alpaca, alice_account, acme, market_open, settings):
    alpaca.post(ORDERS, status_code=503, text="upstream unavailable")
    venue = broker_by_name("alpaca")
    with pytest.raises(VenueUnavailable):
        venue.submit(Order(symbol="ACME", side="buy", type="market", time_in_force="day", qty=Decimal("1")))


def test_a_duplicate_client_order_id_means_alpaca_already_has_it(alpaca, alice_account, acme, market_open):
    alpaca.post(ORDERS, status_code=422, json=alpaca_error("duplicate_client_order_id"))
    alpaca.get(
        BY_CLIENT_ID,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.qs["client_order_id"][0]
        ),
    )
    order = place(alice_account)
    assert order.status == "accepted" and order.broker_order_id == ALPACA_ID


def test_reconciliation_books_alpacas_cumulative_fills_once(alpaca, alice_account, acme, market_open):
    alpaca.post(
        ORDERS,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
        ),
    )
    order = place(alice_account)
    state = {"name": "alpaca_order_partially_filled.json"}
    alpaca.get(BY_CLIENT_ID, json=lambda request, context: recording(state["name"], client_order_id=str(order.id)))

    def open_orders(request, context):  # Alpaca lists an order as open until it has ended
        still_open = state["name"] != "alpaca_order_filled.json"
        return [recording(state["name"], client_order_id=str(order.id))] if still_open else []

    alpaca.get(f"{ORDERS}?status=open", json=open_orders)
    reconcile_orders()
    reconcile_orders()  # the same report again books nothing
    assert not any(call.path.endswith(":by_client_order_id") for call in alpaca.request_history)  # one listing
    order.refresh_from_db()
    assert order.status == "partially_filled" and order.filled_qty == 3 and order.filled_avg_price == Decimal("9.9")
    state["name"] = "alpaca_order_filled.json"
    reconcile_orders()
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal("9.925")
    assert list(Execution.objects.order_by("qty").values_list("broker_exec_id", "qty", "price")) == [
        (f"alpaca:{ALPACA_ID}:4", Decimal("1"), Decimal("10.000000000")),
        (f"alpaca:{ALPACA_ID}:3", Decimal("3"), Decimal("9.900000000")),
    ]


def test_cancel_is_asked_and_confirmed_later_by_alpaca(alpaca, alice_account, acme, market_open):
    alpaca.post(
        ORDERS,
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
        ),
    )
    order = place(alice_account)
    alpaca.delete(f"{ORDERS}/{ALPACA_ID}", status_code=204)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.order_cancel(account=alice_account, order_id=order.id)
    order.refresh_from_db()
    assert order.status == "pending_cancel"  # Alpaca confirms with a `canceled` trade update
    assert alpaca.request_history[-1].method == "DELETE"


@pytest.mark.parametrize("qty", ["2.5", "3", "0.123456789"])
def test_a_replacement_sends_its_quantity_as_a_decimal_string(alpaca, qty):
    resting = Order(symbol="ACME", side="buy", type="limit", time_in_force="day", qty=Decimal("4"))
    resting.broker_order_id = ALPACA_ID
    replacement = Order(
        symbol="ACME", side="buy", type="limit", time_in_force="day", qty=Decimal(qty), limit_price=Decimal("10.05")
    )
    alpaca.patch(
        f"{ORDERS}/{ALPACA_ID}",
        json=lambda request, context: recording(
            "alpaca_order_accepted.json", client_order_id=request.json()["client_order_id"]
        ),
    )
    outcome = broker_by_name("alpaca").replace(resting, replacement)
    assert outcome.accepted
    assert alpaca.request_history[-1].json() == {
        "qty": qty,  # a string: Alpaca keeps the old quantity when none is sent
        "time_in_force": "day",
        "limit_price": 10.05,
        "client_order_id": str(replacement.id),
    }


def test_open_orders_are_read_page_after_page_until_a_short_page(alpaca, monkeypatch):
    monkeypatch.setattr("trading.brokers.alpaca.OPEN_ORDERS_PAGE", 3)
    alpaca.get(
        ORDERS,
        [{"json": recording("alpaca_open_orders_page_1.json")}, {"json": recording("alpaca_open_orders_page_2.json")}],
    )
    listed = broker_by_name("alpaca").open_orders()
    assert list(listed) == [
        "0f1c2d3e-4a5b-4c6d-8e7f-101112131415",
        "1a2b3c4d-5e6f-4a7b-8c9d-0e1f20212223",
        "2b3c4d5e-6f70-4b8c-9d0e-1f2031323334",
        "3c4d5e6f-7081-4c9d-8e1f-203142434445",
    ]
    assert listed["1a2b3c4d-5e6f-4a7b-8c9d-0e1f20212223"].broker_order_id == "7b2e9f41-8c3d-4e5a-b6f7-1a2b3c4d5e6f"
    first, second = (parse_qs(urlsplit(call.url).query) for call in alpaca.request_history)
    assert first == {"status": ["open"], "limit": ["3"], "direction": ["asc"]}
    # The second page starts just before the first page's last order (`after` is exclusive).
    assert second == {**first, "after": ["2026-03-04T15:00:00.119999+00:00"]}


def test_the_rate_limit_is_one_budget_shared_by_every_client(alpaca, settings):
    first = TokenBucket("alpaca:shared-test", per_minute=2, max_wait_seconds=0.01)
    second = TokenBucket("alpaca:shared-test", per_minute=2, max_wait_seconds=0.01)
    first.acquire()
    second.acquire()
    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        first.acquire()


def test_keys_never_appear_in_the_adapters_repr(alpaca):
    assert "secret" not in repr(broker_by_name("alpaca")) and "PKTEST" not in repr(broker_by_name("alpaca"))
