"""opg and cls orders: Alpaca's placement windows, execution at the opening and closing auctions."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from portfolios.models import Position
from trading.models import Order
from trading.paper_fills import on_ticks
from trading.risk import OrderRejected, OrderRequest
from trading.services import order_place
from trading.tests.conftest import cash, place, quote

pytestmark = pytest.mark.django_db

# Wednesday 2026-03-04 (EST, UTC−5): open 14:30 UTC, close 21:00 UTC.
PRE_MARKET = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # 08:00 ET
OPEN = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with freeze_time(PRE_MARKET, tick=True) as frozen:
        yield frozen


def test_opg_orders_fill_whole_at_the_first_tick_of_the_open(alice_account, acme, clock):
    quote(bid="9.90", ask="9.95")
    market = place(alice_account, qty=Decimal("3"), time_in_force="opg")
    capped = place(alice_account, type="limit", qty=Decimal("1"), limit_price=Decimal("9.50"), time_in_force="opg")
    assert (market.status, capped.status) == ("accepted", "accepted")
    on_ticks([quote(bid="9.80", ask="9.85")])  # pre-market: the auction has not happened
    market.refresh_from_db()
    assert market.status == "accepted"
    clock.move_to(OPEN)
    on_ticks([quote(bid="10.05", ask="10.07", ask_size="1")])  # the auction ignores the quoted size
    market.refresh_from_db()
    capped.refresh_from_db()
    assert market.status == "filled" and market.filled_qty == 3 and market.filled_avg_price == Decimal("10.05")
    assert capped.status == "canceled" and "opening auction" in capped.reject_reason
    assert Position.objects.get(asset=acme).qty == 3 and cash(alice_account).reserved == 0
    on_ticks([quote(bid="9.00", ask="9.02")])  # later ticks do not revive a missed opg order
    capped.refresh_from_db()
    assert capped.filled_qty == 0


def test_cls_orders_fill_at_the_last_tick_before_the_close(alice_account, acme, clock):
    clock.move_to(datetime(2026, 3, 4, 15, 0, tzinfo=UTC))  # 10:00 ET
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("10.50"), time_in_force="cls")
    assert order.status == "accepted" and order.expires_at == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    on_ticks([quote(bid="10.10", ask="10.12")])  # during the session: no fill, though the limit is crossed
    clock.move_to(datetime(2026, 3, 4, 20, 59, 59, tzinfo=UTC))
    on_ticks([quote(bid="10.20", ask="10.22")])  # the closing print
    order.refresh_from_db()
    assert order.status == "accepted"
    clock.move_to(datetime(2026, 3, 4, 21, 0, 2, tzinfo=UTC))
    on_ticks([quote(bid="10.40", ask="10.42")])
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal("10.20") and order.filled_qty == 2


@pytest.mark.parametrize(
    ("at", "tif", "accepted"),
    [
        (datetime(2026, 3, 4, 14, 27, 59, tzinfo=UTC), "opg", True),  # 09:27:59 ET
        (datetime(2026, 3, 4, 14, 28, tzinfo=UTC), "opg", False),  # 09:28 ET
        (datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "opg", False),  # 18:59 ET
        (datetime(2026, 3, 5, 0, 0, tzinfo=UTC), "opg", True),  # 19:00 ET: for Thursday's open
        (datetime(2026, 3, 4, 20, 49, 59, tzinfo=UTC), "cls", True),  # 15:49:59 ET
        (datetime(2026, 3, 4, 20, 50, tzinfo=UTC), "cls", False),  # 15:50 ET
        (datetime(2026, 3, 5, 0, 0, tzinfo=UTC), "cls", True),
    ],
)
def test_auction_orders_are_accepted_only_in_alpacas_windows(alice_account, acme, at, tif, accepted):
    request = OrderRequest(symbol="ACME", side="buy", type="market", time_in_force=tif, qty=Decimal("1"))
    with freeze_time(at):
        quote(ask="10.00")
        if accepted:
            order, _ = order_place(account=alice_account, request=request)
            assert order.status == "new"
        else:
            with pytest.raises(OrderRejected) as refusal:
                order_place(account=alice_account, request=request)
            assert refusal.value.code == "auction_window_closed"
            assert not Order.objects.exists() and cash(alice_account).reserved == 0
