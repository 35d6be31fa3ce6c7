"""The ccxt venue through ccxt's real binanceus client, offline.

ccxt's synchronous client sends through a `requests` session; requests-mock answers it at
the transport with recorded Binance.US responses (market data from marketdata's
recordings, orders and trades from trading/tests/recordings), so ccxt's own signing,
market loading, precision handling, parsing and error mapping all run.
"""

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import TestCase

from marketdata.tests.test_feeds_ccxt import RECORDINGS as MARKETDATA_RECORDINGS
from portfolios.tests.factories import AssetFactory
from trading import services
from trading.brokers.base import broker_by_name
from trading.models import Execution, Order
from trading.risk import OrderRequest
from trading.streams import venue_poll
from trading.tasks import reconcile_orders
from venues.ccxt import order_from_unified

pytestmark = pytest.mark.django_db

RECORDINGS = Path(__file__).parent / "recordings"
API = "https://api.binance.us/api/v3"
VENUE = "ccxt:binanceus"


def recording(name: str, **values):
    text = (RECORDINGS / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return json.loads(text)


def binance_error(name: str) -> dict:
    return recording("binanceus_errors.json")[name]


def sent(request) -> dict:
    """The parameters ccxt signed and sent (binance takes them in the body for POST, the query otherwise)."""
    raw = request.body if request.method == "POST" else urlsplit(request.url).query  # .query is lowercased
    raw = raw.decode() if isinstance(raw, bytes) else raw
    return {key: values[0] for key, values in parse_qs(raw).items()}


@pytest.fixture
def binanceus(settings, requests_mock):
    settings.BROKER_CRYPTO = VENUE
    settings.CCXT_API_KEY, settings.CCXT_SECRET = "binance-key", "binance-secret-never-logged"
    settings.CCXT_API_URLS = {}
    settings.CCXT_USD_QUOTE_CURRENCIES = ["USD", "USDT"]
    requests_mock.get(
        f"{API}/exchangeInfo", json=json.loads((MARKETDATA_RECORDINGS / "binanceus_exchange_info.json").read_text())
    )
    return requests_mock


@pytest.fixture
def bitcoin(db):
    return AssetFactory(crypto=True, reference_price=Decimal("60000.00"))


def place(account, **fields) -> Order:
    request = {
        "symbol": "BTC/USD",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "qty": Decimal("0.01"),
        "limit_price": Decimal("60000.00"),
        **fields,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(account=account, request=OrderRequest(**request))
    order.refresh_from_db()
    return order


def order_answer(name: str):
    return lambda request, context: recording(
        name, client_order_id=sent(request).get("newClientOrderId") or sent(request).get("origClientOrderId")
    )


def test_an_order_goes_out_with_our_client_order_id_on_the_mapped_market(binanceus, alice_account, bitcoin):
    binanceus.post(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account)
    assert order.status == "accepted" and order.broker == VENUE and order.broker_order_id == "2818834"
    body = sent(next(call for call in binanceus.request_history if call.method == "POST"))
    assert {
        key: body[key] for key in ("symbol", "side", "type", "timeInForce", "quantity", "price", "newClientOrderId")
    } == {
        "symbol": "BTCUSD",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "60000",
        "newClientOrderId": str(order.id),
    }
    assert "signature" in body and binanceus.request_history[-1].headers["X-MBX-APIKEY"] == "binance-key"


def test_a_notional_market_buy_is_sent_as_cost_without_a_time_in_force(binanceus, alice_account, bitcoin):
    binanceus.post(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account, type="market", qty=None, notional=Decimal("25.00"), limit_price=None)
    assert order.status == "accepted"
    body = sent(next(call for call in binanceus.request_history if call.method == "POST"))
    assert (body["type"], body["quoteOrderQty"], "timeInForce" in body, "quantity" in body) == (
        "MARKET",
        "25",
        False,
        False,
    )


def test_precision_and_minimums_are_enforced_before_anything_is_sent(binanceus, alice_account, bitcoin):
    off_step = place(alice_account, qty=Decimal("0.000015"))
    assert off_step.status == "rejected" and off_step.reject_reason.startswith("venue_precision: qty")
    too_small = place(alice_account, qty=Decimal("0.00001"), limit_price=Decimal("50000.00"))
    assert too_small.status == "rejected" and too_small.reject_reason.startswith("venue_minimum: order value")
    assert not [call for call in binanceus.request_history if call.method == "POST"]


def test_insufficient_funds_is_a_definite_rejection_with_the_exchanges_message(binanceus, alice_account, bitcoin):
    binanceus.post(f"{API}/order", status_code=400, json=binance_error("insufficient_balance"))
    order = place(alice_account)
    assert order.status == "rejected" and "insufficient balance" in order.reject_reason and order.reserved_cash == 0


def test_rate_limited_then_accepted_asks_before_resending(binanceus, alice_account, bitcoin):
    binanceus.post(
        f"{API}/order",
        [
            {"status_code": 429, "reason": "Too Many Requests", "json": binance_error("too_many_requests")},
            {"json": order_answer("binanceus_order_new.json")},
        ],
    )
    binanceus.get(f"{API}/order", status_code=400, json=binance_error("order_does_not_exist"))
    order = place(alice_account)
    assert order.status == "accepted"
    assert [call.method for call in binanceus.request_history if "/order" in call.path] == ["POST", "GET", "POST"]


def test_a_timeout_after_the_exchange_accepted_is_found_and_not_resent(binanceus, alice_account, bitcoin):
    import requests

    binanceus.post(f"{API}/order", exc=requests.exceptions.ReadTimeout)
    binanceus.get(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account)
    assert order.status == "accepted" and order.broker_order_id == "2818834"
    assert len([call for call in binanceus.request_history if call.method == "POST"]) == 1


def test_a_duplicate_client_order_id_means_the_exchange_has_it(binanceus, alice_account, bitcoin):
    binanceus.post(f"{API}/order", status_code=400, json=binance_error("duplicate_order"))
    binanceus.get(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    assert place(alice_account).status == "accepted"


def test_polling_books_each_trade_at_its_price_and_reconciliation_books_nothing_twice(
    binanceus, alice_account, bitcoin
):
    binanceus.post(f"{API}/order", json=order_answer("binanceus_order_new.json"))
    order = place(alice_account)
    binanceus.get(f"{API}/order", json=order_answer("binanceus_order_partially_filled.json"))
    binanceus.get(f"{API}/myTrades", json=recording("binanceus_my_trades.json"))
    binanceus.get(
        f"{API}/openOrders", json=[recording("binanceus_order_partially_filled.json", client_order_id=str(order.id))]
    )
    assert venue_poll(VENUE) == 2
    reconcile_orders()
    assert venue_poll(VENUE) == 0
    order.refresh_from_db()
    assert order.status == "partially_filled" and order.filled_qty == Decimal("0.004")
    assert list(Execution.objects.order_by("executed_at").values_list("broker_exec_id", "qty", "price", "fee")) == [
        ("ccxt:binanceus:2818834:0.001", Decimal("0.001"), Decimal("59990"), Decimal("0.06")),
        ("ccxt:binanceus:2818834:0.004", Decimal("0.003"), Decimal("59996.66666667"), Decimal("0.18")),
    ]
    query = sent(next(call for call in binanceus.request_history if call.path.endswith("/mytrades")))
    assert query["orderId"] == "2818834" and query["symbol"] == "BTCUSD"


def test_unified_statuses_map_onto_our_state_machine(binanceus):
    def status(unified: str, filled: float) -> str:
        return broker_by_name(VENUE).status(order_from_unified({"id": "1", "status": unified, "filled": filled}))

    assert status("open", 0) == "accepted"
    assert status("open", 0.1) == "partially_filled"
    assert status("closed", 1) == "filled"
    assert status("canceled", 0) == "canceled"
    assert status("expired", 0) == "expired"
    assert status("rejected", 0) == "rejected"


def test_keys_never_appear_in_the_adapters_repr(binanceus):
    assert "secret" not in repr(broker_by_name(VENUE)) and "binance-key" not in repr(broker_by_name(VENUE))
