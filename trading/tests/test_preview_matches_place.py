"""The ticket's Review refuses exactly what Place refuses, with the same code, message and field.

Both run `trading.risk.pre_trade_check`; Review writes nothing. Each case sets up one refusal order
entry makes (and one order both accept), then asks Review and Place the same question.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import TestCase

from marketdata.models import Asset
from portfolios.models import GoodFaithViolation
from portfolios.tests.factories import AssetFactory
from speedtrade.errors import DomainError
from trading.brokers.base import venue_refusal_set
from trading.models import Order, OrderEvent
from trading.risk import Leg, OrderRequest
from trading.selectors import order_preview
from trading.services import order_place
from trading.tests.conftest import cash, fill, place, quote

pytestmark = pytest.mark.django_db
D = Decimal
WEDNESDAY = date(2026, 3, 4)


def buy(qty="5", **fields) -> OrderRequest:
    return OrderRequest(
        **{"symbol": "ACME", "side": "buy", "type": "market", "time_in_force": "day", "qty": D(qty), **fields}
    )


def sell(qty="5", **fields) -> OrderRequest:
    return buy(qty, side="sell", **fields)


def _nothing(account):
    pass


def _halted(account):
    venue_refusal_set("paper", "Trading on paper is halted while compliance reviews a reconciliation case.")


def _resting_buy(account):
    """Shares to sell, and a buy of the same stock resting below the market: selling now would wash."""
    fill(account, Asset.objects.get(symbol="ACME"), "10")
    place(account, type="limit", limit_price=D("9.00"), qty=D("1"))


def _untradable(account):
    AssetFactory(symbol="DEAD", tradable=False)


def _restricted_purchases(account):
    """$1,000 of unsettled sale proceeds, and three violations in 12 months: stock buys need settled cash."""
    xyz = AssetFactory(symbol="XYZ", reference_price=D("10.00"))
    quote(symbol="XYZ", bid="10.00", ask="10.00")
    quote(bid="10.00", ask="10.00")
    place(account, type="limit", limit_price=D("10.00"), qty=D("100"))
    place(account, side="sell", qty=D("100"))
    for number, days in enumerate((120, 60, 30)):
        GoodFaithViolation.objects.create(
            account=account,
            asset=xyz,
            order_ref=f"earlier-{number}",
            qty=1,
            trade_date=WEDNESDAY - timedelta(days=days),
            funds_settle_on=WEDNESDAY - timedelta(days=days - 1),
        )


CASES = {
    "accepted by both": (_nothing, buy(), None),
    "unknown symbol": (_nothing, buy(symbol="NOPE"), "asset_not_found"),
    "asset not tradable": (_untradable, buy(symbol="DEAD"), "asset_not_tradable"),
    "venue halted": (_halted, buy(), "venue_unavailable"),
    "wash trade": (_resting_buy, sell(), "potential_wash_trade"),
    "good-faith limit": (
        _restricted_purchases,
        buy("50", symbol="XYZ", type="limit", limit_price=D("10.00")),
        "good_faith_violation_limit",
    ),
    "auction window closed": (_nothing, buy(time_in_force="opg"), "auction_window_closed"),
    "take-profit below the entry": (
        _nothing,
        buy(
            "1",
            type="limit",
            limit_price=D("10.00"),
            order_class="bracket",
            take_profit=Leg(limit_price=D("10.00")),
            stop_loss=Leg(stop_price=D("9.00")),
        ),
        "invalid_take_profit",
    ),
    "insufficient buying power": (_nothing, buy("1000"), "insufficient_buying_power"),
    "no shares to sell": (_nothing, sell(), "insufficient_position"),
    "limit far through the market": (_nothing, buy(type="limit", limit_price=D("50.00")), "limit_price_too_far"),
    "above the maximum order value": (
        _nothing,
        buy("100001", type="limit", limit_price=D("10.00")),
        "max_notional_exceeded",
    ),
}


def refusal_of(call):
    try:
        call()
    except DomainError as refused:
        return (type(refused).__name__, refused.code, refused.message, refused.field, refused.fields)
    return None


@pytest.fixture(autouse=True)
def _venue_not_halted():
    yield
    venue_refusal_set("paper", None)


@pytest.mark.parametrize(("setup", "request_", "code"), list(CASES.values()), ids=list(CASES))
def test_review_refuses_what_place_refuses_with_the_same_code_and_message(
    alice_account, acme, market_open, setup, request_, code
):
    quote(bid="9.99", ask="10.01")
    setup(alice_account)
    orders, events, held = Order.objects.count(), OrderEvent.objects.count(), cash(alice_account).reserved

    reviewed = refusal_of(lambda: order_preview(account=alice_account, request=request_))
    assert (Order.objects.count(), OrderEvent.objects.count(), cash(alice_account).reserved) == (orders, events, held)
    with TestCase.captureOnCommitCallbacks(execute=False):
        placed = refusal_of(lambda: order_place(account=alice_account, request=request_))

    assert reviewed == placed
    if code is not None:
        assert placed[1] == code
    elif placed is None:
        assert Order.objects.count() > orders
