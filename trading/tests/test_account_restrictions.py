"""Freezing an account (or blocking its trading) stops it trading (issue 16, item 8).

alice has an approved, funded account with working orders; carol (Compliance) freezes it.
Her open orders are canceled, each timeline saying why (`account_restricted`), what they held
is released, and no surface takes a new order until carol lifts the restriction.
"""

from decimal import Decimal

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.tests.factories import restriction_set
from trading.models import Order, OrderEvent
from trading.tests.conftest import cash, place, quote
from trading.tests.test_contingent import BRACKET
from trading.tests.test_pages import ticket

pytestmark = pytest.mark.django_db

FROZEN_MESSAGE = "account frozen: For your security, activity on this account is paused. Please contact Support."


def restrict(account, carol, kind="account"):
    """carol's decision, with its after-commit work (the venue cancels) run as in production."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        restriction_set(account, actor=carol, kind=kind)


@pytest.fixture
def alices_working_orders(alice_account, acme, market_open):
    """A resting limit buy at the venue and a bracket whose exits wait (held) for its entry."""
    quote(bid="9.99", ask="10.01")
    resting = place(alice_account, type="limit", qty=Decimal("3"), limit_price=Decimal("9.00"))
    bracket = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.50"), **BRACKET)
    assert (resting.status, bracket.status) == ("accepted", "accepted")
    assert cash(alice_account).reserved > 0
    return [resting, bracket, *Order.objects.filter(parent=bracket)]


@pytest.mark.parametrize("kind", ["account", "trading"])
def test_freezing_cancels_every_open_order_and_says_why(alice_account, alices_working_orders, carol, kind):
    restrict(alice_account, carol, kind)

    orders = Order.objects.filter(pk__in=[order.pk for order in alices_working_orders])
    assert {order.status for order in orders} == {"canceled"}
    assert len(orders) == 4  # the resting order, the bracket's entry and its two held exits
    for order in orders:
        reasons = [event.detail.get("reason") for event in order.events.all()]
        assert "account_restricted" in reasons, (order.leg_role, reasons)
    assert cash(alice_account).reserved == 0
    assert not Order.objects.exclude(reserved_cash=0, reserved_qty=0).exists()
    event = AuditEvent.objects.get(action="account.frozen" if kind == "account" else "account.trading_blocked")
    assert sorted(event.after["orders_canceled"]) == sorted(str(order.pk) for order in alices_working_orders)


def test_blocking_transfers_leaves_orders_working(alice_account, alices_working_orders, carol):
    restrict(alice_account, carol, kind="transfers")
    assert Order.objects.filter(status="accepted").count() == 2
    assert not OrderEvent.objects.filter(detail__reason="account_restricted").exists()


def test_a_frozen_account_places_no_order_on_any_surface(alice, alice_account, acme, market_open, carol, client):
    quote(bid="9.99", ask="10.01")
    restrict(alice_account, carol)
    api = APIClient()
    api.force_authenticate(alice)
    order = {"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}

    v1 = api.post("/api/v1/orders", order, format="json")
    assert v1.status_code == 422
    assert v1.json() == {"code": "account_not_tradable", "message": v1.json()["message"]}
    assert v1.json()["message"].endswith(FROZEN_MESSAGE)

    v2 = api.post("/v2/orders", order, format="json")
    assert v2.status_code == 403 and v2.json()["message"].endswith(FROZEN_MESSAGE)

    client.force_login(alice)
    web = client.post("/orders/ticket/", ticket(client, notional="25", step="place"), HTTP_HX_REQUEST="true")
    assert web.status_code == 422 and "For your security, activity on this account is paused." in web.content.decode()
    assert "Testing" not in web.content.decode()

    assert not Order.objects.exists() and cash(alice_account).reserved == 0
