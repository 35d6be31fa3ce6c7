"""Issue #16 item 3: no free shares from rounding.

A fill's cash is rounded in the firm's favour (a buy's cost up, a sell's proceeds down), a fill
whose cash would be $0.00 is refused, and a fractional order is worth at least $1.
"""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolios.models import JournalEntry
from portfolios.tests.factories import AssetFactory
from speedtrade import money
from trading.models import Execution, Order, OrderEvent
from trading.tests.conftest import cash, fill, quote

pytestmark = pytest.mark.django_db
D = Decimal

tiny_quantities = st.decimals(min_value=D("0.000000001"), max_value=D("0.01"), places=9)
quantities = st.decimals(min_value=D("0.000000001"), max_value=D("1000"), places=9)
prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)


@pytest.fixture
def pricey(db):
    """A $228 stock that trades in fractions (the issue's example)."""
    return AssetFactory(symbol="PRCY", reference_price=D("228.00"), fractionable=True)


def test_a_sliver_of_a_share_is_refused_through_the_api(alice_api, alice_account, pricey, market_open):
    quote(symbol="PRCY", bid="228.00", ask="228.01")
    body = {"symbol": "PRCY", "side": "buy", "type": "market", "time_in_force": "day", "qty": "0.00002"}
    response = alice_api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "code": "value_below_minimum",
        "message": "Orders must be worth at least $1.00; this one is worth $0.00. Increase the quantity.",
        "fields": {"qty": ["Orders must be worth at least $1.00; this one is worth $0.00. Increase the quantity."]},
    }
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert cash(alice_account).reserved == 0


def test_the_minimum_names_what_the_order_is_worth(alice_api, alice_account, pricey, market_open):
    quote(symbol="PRCY", bid="228.00", ask="228.01")
    body = {"symbol": "PRCY", "side": "buy", "type": "limit", "limit_price": "228", "time_in_force": "day"}
    response = alice_api.post("/api/v1/orders", {**body, "qty": "0.002"}, format="json")
    assert response.json()["message"] == (
        "Orders must be worth at least $1.00; this one is worth $0.45. Increase the quantity."
    )
    assert alice_api.post("/api/v1/orders", {**body, "qty": "0.005"}, format="json").status_code == 201


def test_whole_shares_have_no_minimum_value(alice_api, alice_account, market_open):
    AssetFactory(symbol="PENY", reference_price=D("0.50"))
    quote(symbol="PENY", bid="0.50", ask="0.51")
    body = {"symbol": "PENY", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}
    assert alice_api.post("/api/v1/orders", body, format="json").status_code == 201


def test_a_fractional_buy_costs_its_value_rounded_up_and_the_order_records_that_cost(
    alice_api, alice_account, pricey, market_open, django_capture_on_commit_callbacks
):
    quote(symbol="PRCY", bid="228.00", ask="228.01")
    body = {"symbol": "PRCY", "side": "buy", "type": "market", "time_in_force": "day", "qty": "0.005"}
    with django_capture_on_commit_callbacks(execute=True):
        order_id = alice_api.post("/api/v1/orders", body, format="json").json()["id"]
    order = Order.objects.get(pk=order_id)
    assert order.status == "filled"
    # 0.005 × 228.01 = 1.14005: the buyer pays 1.15, and the order says so too.
    assert cash(alice_account).balance == D("1000.00") - D("1.15")
    assert order.filled_notional == D("1.15")
    entry = JournalEntry.objects.get(cause_type="fill")
    assert sorted(line.amount for line in entry.lines.all()) == [D("-1.15"), D("1.15")]
    assert Execution.objects.get(order=order).qty == D("0.005")


@given(qty=quantities, price=prices)
def test_cash_is_rounded_in_the_firms_favour(qty, price):
    exact = qty * price
    cost, proceeds = money.trade_value(qty, price, "buy"), money.trade_value(qty, price, "sell")
    assert exact <= cost < exact + money.CENT
    assert exact - money.CENT < proceeds <= exact
    assert money.has_at_most_cents(cost) and money.has_at_most_cents(proceeds)


@given(qty=tiny_quantities, price=prices)
def test_a_fill_never_moves_shares_for_nothing(qty, price):
    assert money.fill_cash(qty, price, "buy") >= money.CENT  # a buy always costs at least a cent
    if qty * price < money.CENT:
        with pytest.raises(money.FillWorthNothing):
            money.fill_cash(qty, price, "sell")
    else:
        assert money.fill_cash(qty, price, "sell") >= money.CENT


@given(qty=tiny_quantities, price=prices, times=st.integers(min_value=1, max_value=1000))
def test_buying_slivers_and_selling_them_together_never_makes_money(qty, price, times):
    """The issue's attack: `times` tiny buys, then one sale of everything at the same price."""
    paid = times * money.fill_cash(qty, price, "buy")
    received = money.trade_value(qty * times, price, "sell")
    assert received <= paid


def test_the_rest_of_a_position_may_be_sold_whatever_it_is_worth(alice_api, alice_account, pricey, market_open):
    """The minimum never strands a remainder: selling all that is left is allowed below $1."""
    fill(alice_account, pricey, "0.003", price="230.00")  # cost 0.69
    quote(symbol="PRCY", bid="228.00", ask="228.01")
    sell = {"symbol": "PRCY", "side": "sell", "type": "market", "time_in_force": "day"}
    part = alice_api.post("/api/v1/orders", {**sell, "qty": "0.002"}, format="json")
    assert part.status_code == 422 and part.json()["code"] == "value_below_minimum"
    assert alice_api.post("/api/v1/orders", {**sell, "qty": "0.003"}, format="json").status_code == 201
