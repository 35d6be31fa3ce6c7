"""Every pre-trade refusal: a clear code naming the field, and nothing written (no order, event, reservation)."""

from decimal import Decimal

import pytest

from accounts import services
from accounts.tests.factories import restriction_set
from portfolios.models import LedgerAccount
from portfolios.tests.factories import AssetFactory
from trading.models import Order, OrderEvent
from trading.tests.conftest import place, quote

pytestmark = pytest.mark.django_db

MARKET_BUY = {"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}
BRACKET = {"order_class": "bracket", "take_profit": {"limit_price": "11.00"}, "stop_loss": {"stop_price": "9.00"}}


def assert_nothing_written(account):
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert LedgerAccount.objects.get(account=account, kind=LedgerAccount.Kind.CASH).reserved == 0


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"qty": "NaN"}, 400, "validation_error", "qty"),
        ({"qty": "Infinity"}, 400, "validation_error", "qty"),
        ({"qty": "1e400"}, 400, "validation_error", "qty"),
        ({"qty": "0.0000000001"}, 400, "validation_error", "qty"),
        ({"qty": "-1"}, 400, "validation_error", "qty"),
        ({"qty": "0"}, 400, "validation_error", "qty"),
        ({"qty": True}, 400, "validation_error", "qty"),
        ({"qty": "1000000000000000"}, 400, "validation_error", "qty"),
        ({"side": "short"}, 400, "validation_error", "side"),
        ({"notional": "5"}, 400, "validation_error", "qty"),
        ({"colour": "red"}, 400, "validation_error", "colour"),
        ({"symbol": "NOPE"}, 422, "asset_not_found", "symbol"),
        ({"qty": "0.5", "time_in_force": "gtc"}, 422, "fractional_requires_day", "qty"),
        ({"type": "limit"}, 422, "missing_field", "limit_price"),
        ({"stop_price": "9.00"}, 422, "unexpected_field", "stop_price"),
        ({"type": "limit", "limit_price": "10.001"}, 422, "price_increment", "limit_price"),
        ({"type": "limit", "limit_price": "12.00"}, 422, "limit_price_too_far", "limit_price"),
        ({"extended_hours": True}, 422, "extended_hours_requires_limit_day", "extended_hours"),
        ({"qty": None, "notional": "0.50"}, 422, "notional_below_minimum", "notional"),
        (
            {"qty": None, "notional": "5", "type": "limit", "limit_price": "10"},
            422,
            "notional_requires_market",
            "notional",
        ),
        ({"qty": "200"}, 422, "insufficient_buying_power", None),
        ({"side": "sell"}, 422, "insufficient_position", "qty"),
        ({**BRACKET, "take_profit": {"limit_price": "10.00"}}, 422, "invalid_take_profit", "take_profit"),
        ({**BRACKET, "stop_loss": {"stop_price": "10.00"}}, 422, "invalid_stop_loss", "stop_loss"),
        (
            {**BRACKET, "stop_loss": {"stop_price": "9.00", "limit_price": "9.10"}},
            422,
            "invalid_stop_loss",
            "stop_loss",
        ),
        ({**BRACKET, "side": "sell"}, 422, "order_class_not_supported", "side"),
        ({**BRACKET, "time_in_force": "ioc"}, 422, "time_in_force_not_supported", "time_in_force"),
        ({**BRACKET, "qty": None, "notional": "5"}, 422, "notional_not_allowed", "notional"),
        ({**BRACKET, "stop_loss": None}, 422, "missing_field", "take_profit"),
        ({**BRACKET, "order_class": "oto"}, 422, "missing_field", "take_profit"),
        ({**BRACKET, "qty": "200"}, 422, "insufficient_buying_power", None),
        ({**BRACKET, "order_class": "oco", "type": "limit"}, 422, "order_class_not_supported", "side"),
        (
            {**BRACKET, "order_class": "oco", "type": "limit", "side": "sell", "limit_price": "12.00"},
            422,
            "invalid_take_profit",
            "limit_price",
        ),
        ({**BRACKET, "order_class": "oco", "type": "limit", "side": "sell"}, 422, "insufficient_position", "qty"),
    ],
)
def test_refused_orders_write_nothing(alice_api, alice_account, acme, market_open, changes, status, code, field):
    quote(ask="10.00")
    body = {key: value for key, value in {**MARKET_BUY, **changes}.items() if value is not None}
    response = alice_api.post("/api/v1/orders", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    if field:
        assert field in response.json()["fields"]
    assert_nothing_written(alice_account)


def test_inactive_asset_is_refused(alice_api, alice_account, market_open):
    AssetFactory(symbol="GONE", tradable=False)
    response = alice_api.post("/api/v1/orders", {**MARKET_BUY, "symbol": "GONE"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "asset_not_tradable"
    assert_nothing_written(alice_account)


def test_no_one_trades_before_compliance_approves_them(bob, acme, market_open):
    from rest_framework.test import APIClient

    from accounts.tests.factories import KYCApplicationFactory
    from portfolios.selectors import primary_account
    from portfolios.services import account_open

    account = primary_account(user=bob) or account_open(user=bob)  # unfunded: no deposits before approval
    KYCApplicationFactory(user=bob)
    services.kyc_submit(user=bob)  # in the compliance queue, not yet decided
    client = APIClient()
    client.force_authenticate(bob)
    response = client.post("/api/v1/orders", MARKET_BUY, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "account_not_tradable"
    assert "KYC not approved" in response.json()["message"]
    assert_nothing_written(account)


@pytest.mark.parametrize(("kind", "prefix"), [("trading", "trading blocked"), ("account", "account frozen")])
def test_a_compliance_restriction_stops_trading_until_lifted(
    alice_api, alice_account, carol, acme, market_open, kind, prefix
):
    restriction_set(alice_account, actor=carol, kind=kind)  # internal note: "Testing a trading block"
    response = alice_api.post("/api/v1/orders", MARKET_BUY, format="json")
    assert response.status_code == 422 and response.json()["code"] == "account_not_tradable"
    # Alice reads the message Compliance chose for her, never their internal note.
    assert response.json()["message"].endswith(
        f"{prefix}: For your security, activity on this account is paused. Please contact Support."
    )
    assert "Testing" not in response.json()["message"]
    assert_nothing_written(alice_account)

    services.account_restriction_set(account=alice_account, kind=kind, blocked=False, actor=carol, reason="Cleared")
    quote(ask="10.01")
    assert alice_api.post("/api/v1/orders", MARKET_BUY, format="json").status_code == 201


def test_an_order_that_would_trade_against_your_own_resting_order_is_refused(
    alice_api, alice_account, acme, market_open
):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("2"))
    resting = place(alice_account, side="sell", type="limit", qty=Decimal("1"), limit_price=Decimal("10.50"))
    response = alice_api.post("/api/v1/orders", {**MARKET_BUY, "type": "limit", "limit_price": "10.50"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "potential_wash_trade"
    assert Order.objects.filter(status="accepted").get() == resting
