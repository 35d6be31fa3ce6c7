"""Bracket, OCO and OTO orders on the paper venue: held legs, activation on the entry's fills, one cancels other.

Throughout, the account's reservations must add up: an exit group (a bracket's legs, an
OCO pair) holds its shares once, never twice, and everything returns to zero when the
orders end.
"""

from decimal import Decimal

import pytest
from alpaca.trading.models import Order as AlpacaOrder
from django.db import transaction
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory, approved_customer
from portfolios.models import Position
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from trading.brokers.paper import paper_book_reset
from trading.models import Order
from trading.paper_fills import on_ticks
from trading.risk import Leg
from trading.tests.conftest import cancel, cash, place, quote, tick

pytestmark = pytest.mark.django_db

BRACKET = {
    "order_class": "bracket",
    "take_profit": Leg(limit_price=Decimal("11.00")),
    "stop_loss": Leg(stop_price=Decimal("9.00")),
}


def legs(order) -> dict[str, Order]:
    return {leg.leg_role: leg for leg in Order.objects.filter(parent=order)}


def position(asset) -> Position:
    return Position.objects.get(asset=asset)


def assert_all_released(account, asset):
    assert cash(account).reserved == 0 and position(asset).reserved_qty == 0
    assert not Order.objects.exclude(reserved_cash=0, reserved_qty=0).exists()


def test_bracket_legs_are_held_until_the_entry_fills(alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.50"), **BRACKET)
    assert entry.status == "accepted" and cash(alice_account).reserved == Decimal("19.00")
    held = legs(entry)
    assert {role: (leg.status, leg.type, leg.side) for role, leg in held.items()} == {
        "take_profit": ("held", "limit", "sell"),
        "stop_loss": ("held", "stop", "sell"),
    }
    assert all(leg.reserved_qty == 0 and leg.reserved_cash == 0 for leg in held.values())
    tick(bid="9.40", ask="9.45")
    active = legs(entry)
    assert [leg.status for leg in active.values()] == ["accepted", "accepted"]
    assert active["take_profit"].events.filter(event="activated").exists()
    # Both legs sell the same two shares: reserved once.
    assert position(acme).qty == 2 and position(acme).reserved_qty == 2
    assert sum(leg.reserved_qty for leg in active.values()) == 2


def test_bracket_take_profit_fills_and_cancels_the_stop_loss(alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, qty=Decimal("2"), **BRACKET)
    assert entry.status == "filled"
    tick(bid="10.50", ask="10.52")
    assert {leg.status for leg in legs(entry).values()} == {"accepted"}
    tick(bid="11.00", ask="11.02")
    after = legs(entry)
    assert after["take_profit"].status == "filled" and after["take_profit"].filled_avg_price == Decimal("11.00")
    assert after["stop_loss"].status == "canceled" and after["stop_loss"].filled_qty == 0
    assert position(acme).qty == 0 and cash(alice_account).balance == Decimal("1002.00")
    assert_all_released(alice_account, acme)


def test_bracket_stop_loss_fills_and_cancels_the_take_profit(alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, qty=Decimal("2"), **BRACKET)
    tick(bid="8.90", ask="8.92")
    after = legs(entry)
    assert after["stop_loss"].status == "filled" and after["stop_loss"].filled_avg_price == Decimal("8.90")
    assert after["take_profit"].status == "canceled"
    assert position(acme).qty == 0 and cash(alice_account).balance == Decimal("997.80")
    assert_all_released(alice_account, acme)


def test_partial_entry_fills_grow_the_legs_and_a_partial_exit_shrinks_the_sibling(alice_account, acme, market_open):
    quote(ask="10.00", ask_size="1")
    entry = place(alice_account, qty=Decimal("3"), **BRACKET)
    assert entry.status == "partially_filled" and entry.filled_qty == 1
    first = legs(entry)
    assert [first["take_profit"].qty, first["stop_loss"].qty] == [1, 1]  # legs follow the filled qty
    assert position(acme).reserved_qty == 1
    tick(entry, bid="10.00", ask="10.02", ask_size="10")
    grown = legs(entry)
    assert entry.status == "filled" and [grown["take_profit"].qty, grown["stop_loss"].qty] == [3, 3]
    assert position(acme).qty == 3 and position(acme).reserved_qty == 3
    tick(bid="11.00", ask="11.02", bid_size="1")  # the take profit sells one share
    shrunk = legs(entry)
    assert shrunk["take_profit"].status == "partially_filled" and shrunk["take_profit"].filled_qty == 1
    assert shrunk["stop_loss"].status == "accepted" and shrunk["stop_loss"].remaining_qty == 2
    assert position(acme).qty == 2 and position(acme).reserved_qty == 2
    tick(bid="8.80", ask="8.82")  # the stop sells the other two; the take profit's rest is canceled
    done = legs(entry)
    assert done["stop_loss"].status == "filled" and done["stop_loss"].filled_qty == 2
    assert done["take_profit"].status == "canceled" and done["take_profit"].filled_qty == 1
    assert position(acme).qty == 0
    assert_all_released(alice_account, acme)


def test_oco_exits_a_held_position_and_reserves_it_once(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("5"))
    oco = place(
        alice_account,
        side="sell",
        type="limit",
        qty=Decimal("5"),
        time_in_force="gtc",
        order_class="oco",
        take_profit=Leg(limit_price=Decimal("12.00")),
        stop_loss=Leg(stop_price=Decimal("9.00"), limit_price=Decimal("8.50")),
    )
    stop = Order.objects.get(parent=oco)
    assert oco.status == "accepted" and oco.limit_price == Decimal("12.00")
    assert stop.status == "accepted" and stop.type == "stop_limit" and stop.leg_role == "stop_loss"
    assert position(acme).reserved_qty == 5 and oco.reserved_qty + stop.reserved_qty == 5
    tick(oco, stop, bid="8.90", ask="8.92")
    assert stop.status == "filled" and stop.filled_avg_price == Decimal("8.90")
    assert oco.status == "canceled" and oco.filled_qty == 0
    assert_all_released(alice_account, acme)


def test_canceling_one_oco_order_cancels_the_other(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("1"))
    oco = place(
        alice_account,
        side="sell",
        type="limit",
        qty=Decimal("1"),
        time_in_force="gtc",
        order_class="oco",
        take_profit=Leg(limit_price=Decimal("12.00")),
        stop_loss=Leg(stop_price=Decimal("9.00")),
    )
    stop = Order.objects.get(parent=oco)
    cancel(alice_account, stop, oco)
    assert (oco.status, stop.status) == ("canceled", "canceled")
    assert_all_released(alice_account, acme)


def test_oto_activates_its_one_leg(alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, qty=Decimal("2"), order_class="oto", stop_loss=Leg(stop_price=Decimal("9.50")))
    (leg,) = Order.objects.filter(parent=entry)
    assert leg.status == "accepted" and leg.reserved_qty == 2
    tick(leg, bid="9.40", ask="9.42")
    assert leg.status == "filled" and position(acme).qty == 0
    assert_all_released(alice_account, acme)


def test_canceling_the_entry_cancels_its_held_legs(alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.50"), **BRACKET)
    cancel(alice_account, entry)
    assert entry.status == "canceled"
    assert {leg.status for leg in legs(entry).values()} == {"canceled"}
    assert cash(alice_account).reserved == 0
    tick(bid="9.00", ask="9.02")  # a later crossing tick fills nothing
    assert not Position.objects.filter(asset=acme, qty__gt=0).exists()


def test_a_crypto_bracket_runs_around_the_clock(alice_account, market_closed):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"), min_trade_increment=Decimal("0.0001"))
    quote(symbol="BTC/USD", bid="49.99", ask="50.00")
    entry = place(
        alice_account,
        symbol="BTC/USD",
        qty=Decimal("0.5"),
        time_in_force="gtc",
        order_class="bracket",
        take_profit=Leg(limit_price=Decimal("55.00")),
        stop_loss=Leg(stop_price=Decimal("45.00")),
    )
    assert entry.status == "filled"
    tick(symbol="BTC/USD", bid="55.50", ask="55.60")
    after = legs(entry)
    assert after["take_profit"].status == "filled" and after["take_profit"].filled_qty == Decimal("0.5")
    assert after["stop_loss"].status == "canceled"


def test_the_api_shows_legs_as_alpaca_does(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    body = {
        "symbol": "ACME",
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "qty": "2",
        "limit_price": "9.50",
        "order_class": "bracket",
        "take_profit": {"limit_price": "11.00"},
        "stop_loss": {"stop_price": "9.00", "limit_price": "8.90"},
    }
    created = alice_api.post("/api/v1/orders", body, format="json").json()
    assert [(leg["type"], leg["status"]) for leg in created["legs"]] == [("limit", "held"), ("stop_limit", "held")]
    assert created["order_class"] == "bracket"
    assert [leg.status for leg in AlpacaOrder(**created).legs] == ["held", "held"]  # alpaca-py reads it
    flat = alice_api.get("/api/v1/orders").json()
    assert [order["id"] for order in flat] == [created["id"]] and flat[0]["legs"] is None
    nested = alice_api.get("/api/v1/orders", {"nested": "true"}).json()
    assert [leg["stop_price"] for leg in nested[0]["legs"]] == [None, "9"]
    detail = alice_api.get(f"/api/v1/orders/{created['id']}").json()
    assert len(detail["legs"]) == 2 and detail["legs"][0]["legs"] is None


PRICES = st.sampled_from([Decimal(cents) / 100 for cents in range(850, 1175, 25)])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ticks=st.lists(st.tuples(PRICES, st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=8))
def test_a_bracket_never_sells_more_than_it_bought_and_reserves_each_share_once(acme, market_open, ticks):
    """Any tick path: Σ order reservations = the account's reserved counters, exits ≤ entry fills."""
    with transaction.atomic():
        account = approved_customer(UserFactory())
        deposit_settled_post(account=account, amount=Decimal("1000.00"))
        paper_book_reset()
        quote(bid="9.98", ask="10.00", ask_size="2")
        entry = place(
            account,
            type="limit",
            qty=Decimal("5"),
            limit_price=Decimal("10.00"),
            order_class="bracket",
            take_profit=Leg(limit_price=Decimal("11.00")),
            stop_loss=Leg(stop_price=Decimal("9.00"), limit_price=Decimal("8.75")),
        )
        for bid, bid_size, ask_size in ticks:
            tick(entry, bid=str(bid), ask=str(bid + Decimal("0.02")), bid_size=str(bid_size), ask_size=str(ask_size))
            orders = list(Order.objects.filter(account=account))
            held = Position.objects.filter(account=account, asset=acme).first()
            sold = sum(order.filled_qty for order in orders if order.side == "sell")
            assert sold <= entry.filled_qty and (held.qty if held else 0) == entry.filled_qty - sold
            assert (held.reserved_qty if held else 0) == sum(order.reserved_qty for order in orders)
            assert cash(account).reserved == sum(order.reserved_cash for order in orders)
            live_legs = [o for o in orders if o.parent_id and o.status not in ("held", "canceled", "filled")]
            assert all(leg.remaining_qty == entry.filled_qty - sold for leg in live_legs)
        transaction.set_rollback(True)


def test_a_filled_exit_stops_its_sibling_at_once_even_before_the_cancel_task_runs(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("5"))  # shares the bracket must never touch
    entry = place(alice_account, qty=Decimal("2"), **BRACKET)
    assert position(acme).qty == 7
    # One batch, no commit hooks run (as with a Celery worker that has not picked up the cancel yet):
    # the take profit fills on the first tick; the second would have triggered the stop loss.
    on_ticks([quote(bid="11.00", ask="11.02"), quote(bid="8.90", ask="8.92")])
    after = legs(entry)
    assert after["take_profit"].status == "filled" and after["stop_loss"].status == "pending_cancel"
    assert after["stop_loss"].filled_qty == 0 and position(acme).qty == 5


def test_cancel_all_ends_a_bracket_and_its_legs(alice_api, alice_account, acme, market_open):
    quote(ask="10.00")
    entry = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.50"), **BRACKET)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = alice_api.delete("/api/v1/orders")
    assert response.status_code == 207 and {r["status"] for r in response.json()} == {200}
    assert len(response.json()) == 3
    assert set(Order.objects.values_list("status", flat=True)) == {"canceled"}
    assert cash(alice_account).reserved == 0 and entry.events.exists()


def test_an_entry_that_expires_unfilled_takes_its_held_legs_with_it(alice_account, acme, market_open):
    from trading.services import orders_expire

    quote(ask="10.00")
    entry = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.50"), **BRACKET)
    market_open.move_to("2026-03-04T21:00:01Z")
    orders_expire()
    entry.refresh_from_db()
    assert entry.status == "expired" and {leg.status for leg in legs(entry).values()} == {"expired"}
    assert cash(alice_account).reserved == 0
