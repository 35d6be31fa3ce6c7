"""Order entry is the hot path (issue 10): what one placement costs in database statements, and that the
shortcuts taken for it (asset cache, one read for idempotency and wash trades, the reservation as the
buying-power check) keep every rule."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketdata.models import Asset
from portfolios.models import LedgerAccount
from trading.models import Order, OrderEvent
from trading.risk import OrderRejected, OrderRequest
from trading.services import order_place

pytestmark = pytest.mark.django_db


def limit_buy(**fields) -> OrderRequest:
    defaults = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "qty": Decimal(1)}
    return OrderRequest(**{**defaults, "limit_price": Decimal("9.00"), **fields})


def statements(queries) -> list[str]:
    """`VERB table` of each statement sent (savepoints are the test's own transaction); a function call is
    `SELECT function`."""
    return [
        q["sql"].split()[0] + " " + re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)', q["sql"]).group(1)
        for q in queries
        if "SAVEPOINT" not in q["sql"]
    ]


def test_a_resting_limit_buy_costs_three_statements(alice_account, acme, market_open):
    """Two unlocked reads of the pre-trade checks, and the order writer's one call (issue 22): it locks the
    account, looks for the client_order_id and a wash trade, reserves the cash (its conditional UPDATE is the
    buying-power check) and inserts the order, its event and its audit record (issue 6: in the same transaction)."""
    order_place(account=alice_account, request=limit_buy(client_order_id="warm-up"))  # fills the asset cache
    with CaptureQueriesContext(connection) as queries:
        order_place(account=alice_account, request=limit_buy(client_order_id="second"))
    assert statements(queries) == [
        "SELECT accounts_kycapplication",  # KYC approved (EXISTS)
        "SELECT portfolios_ledgeraccount",  # good faith: cash, reservations and the part not settled yet
        "SELECT trading_order_place",  # the order writer (trading/order_writer.py)
    ]


def test_buying_power_refusal_names_the_amounts_and_writes_nothing(alice_account, acme, market_open):
    with pytest.raises(OrderRejected) as refusal:
        order_place(account=alice_account, request=limit_buy(qty=Decimal(200)))
    assert refusal.value.code == "insufficient_buying_power"
    assert "$1,800.00" in str(refusal.value) and "$1,000.00 is available" in str(refusal.value)
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert LedgerAccount.objects.get(account=alice_account, kind=LedgerAccount.Kind.CASH).reserved == 0


def test_the_same_client_order_id_returns_the_first_order_even_when_a_new_one_would_be_refused(
    alice_account, acme, market_open
):
    first, created = order_place(account=alice_account, request=limit_buy(qty=Decimal(100), client_order_id="x"))
    again, created_again = order_place(account=alice_account, request=limit_buy(qty=Decimal(100), client_order_id="x"))
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Order.objects.count() == 1


def test_a_halted_asset_is_refused_at_once_despite_the_asset_cache(alice_account, acme, market_open):
    order_place(account=alice_account, request=limit_buy())
    acme.status = Asset.Status.INACTIVE
    acme.save()
    with pytest.raises(OrderRejected) as refusal:
        order_place(account=alice_account, request=limit_buy())
    assert refusal.value.code == "asset_not_tradable"


def test_a_crossing_own_sell_is_still_a_wash_trade(alice_account, acme, market_open):
    from django.utils import timezone

    from portfolios.services import fill_apply

    fill_apply(
        account=alice_account,
        asset=acme,
        side="buy",
        qty=Decimal(5),
        price=Decimal("9.00"),
        fee=Decimal(0),
        executed_at=timezone.now(),
        cause=None,
    )
    order_place(account=alice_account, request=limit_buy(side="sell", limit_price=Decimal("9.50"), qty=Decimal(1)))
    with pytest.raises(OrderRejected) as refusal:
        order_place(account=alice_account, request=limit_buy(limit_price=Decimal("9.60")))
    assert refusal.value.code == "potential_wash_trade"
