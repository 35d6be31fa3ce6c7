"""Orders through the paper venue: market, limit, stop, trailing, IOC/FOK, partial fills, closed market, expiry."""

from decimal import Decimal

import pytest

from portfolios.models import Position
from trading.models import Execution, OrderEvent
from trading.services import execution_apply, orders_expire
from trading.tests.conftest import MARKET_OPEN, cancel, cash, place, quote, tick

pytestmark = pytest.mark.django_db


def test_market_buy_fills_at_the_ask_on_submission(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, qty=Decimal("2"))
    assert order.status == "filled"
    assert order.filled_qty == 2 and order.filled_avg_price == Decimal("10.00")
    assert Position.objects.get(account=alice_account, asset=acme).qty == 2
    assert cash(alice_account).balance == Decimal("980.00")
    assert cash(alice_account).reserved == 0 and order.reserved_cash == 0
    assert list(order.events.values_list("event", flat=True)) == ["new", "pending_new", "accepted", "fill"]


def test_market_buy_larger_than_the_quote_fills_partially_then_on_the_next_tick(alice_account, acme, market_open):
    quote(ask="10.00", ask_size="3")
    order = place(alice_account, qty=Decimal("5"))
    assert order.status == "partially_filled" and order.filled_qty == 3
    assert cash(alice_account).reserved == order.reserved_cash > 0
    tick(order, ask="10.10", ask_size="10")
    assert order.status == "filled" and order.filled_qty == 5
    assert order.filled_avg_price == Decimal("10.04")
    assert cash(alice_account).reserved == 0


def test_notional_buy_spends_its_dollars_in_fractional_shares(alice_account, acme, market_open):
    quote(ask="8.00")
    order = place(alice_account, notional=Decimal("10.00"))
    assert order.status == "filled" and order.filled_qty == Decimal("1.25")
    assert cash(alice_account).balance == Decimal("990.00") and cash(alice_account).reserved == 0


def test_limit_buy_rests_until_the_ask_crosses(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("1"), limit_price=Decimal("9.50"))
    assert order.status == "accepted" and cash(alice_account).reserved == Decimal("9.50")
    tick(order, bid="9.55", ask="9.60")
    assert order.status == "accepted"
    tick(order, bid="9.40", ask="9.45")
    assert order.status == "filled" and order.filled_avg_price == Decimal("9.45")
    assert cash(alice_account).reserved == 0


def test_stop_sell_triggers_when_the_bid_falls_to_it(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("3"))
    stop = place(
        alice_account, side="sell", type="stop", qty=Decimal("3"), stop_price=Decimal("9.00"), time_in_force="gtc"
    )
    assert stop.status == "accepted" and Position.objects.get(asset=acme).reserved_qty == 3
    tick(stop, bid="9.20", ask="9.22")
    assert stop.status == "accepted"
    tick(stop, bid="8.90", ask="8.95")
    assert stop.status == "filled" and stop.filled_avg_price == Decimal("8.90")
    position = Position.objects.get(asset=acme)
    assert position.qty == 0 and position.reserved_qty == 0


def test_trailing_stop_follows_the_high_and_fires_on_the_pullback(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("1"))
    trailing = place(
        alice_account,
        side="sell",
        type="trailing_stop",
        qty=Decimal("1"),
        trail_price=Decimal("1.00"),
        time_in_force="gtc",
    )
    tick(bid="12.00", ask="12.02")  # high water mark 12 → stop 11
    tick(trailing, bid="11.50", ask="11.52")
    assert trailing.status == "accepted"
    tick(trailing, bid="10.90", ask="10.92")
    assert trailing.status == "filled" and trailing.filled_avg_price == Decimal("10.90")


def test_an_expired_trailing_stop_never_fires_the_next_day(alice_account, acme, market_open):
    quote(ask="10.00")
    place(alice_account, qty=Decimal("1"))
    trailing = place(alice_account, side="sell", type="trailing_stop", qty=Decimal("1"), trail_price=Decimal("1.00"))
    tick(bid="12.00", ask="12.02")  # the book holds it: stop 11
    market_open.move_to("2026-03-04T21:00:01Z")
    assert orders_expire() == 1  # the book learns of it only from the database
    market_open.move_to("2026-03-04T21:01:00Z")
    tick(bid="10.50", ask="10.52")  # after hours, below its stop
    market_open.move_to("2026-03-05T14:31:00Z")  # Thursday's open
    tick(trailing, bid="10.50", ask="10.52")
    assert trailing.status == "expired" and trailing.filled_qty == 0
    assert Position.objects.get(asset=acme).qty == 1


def test_ioc_fills_what_the_quote_has_and_cancels_the_rest(alice_account, acme, market_open):
    quote(ask="10.00", ask_size="2")
    order = place(alice_account, type="limit", qty=Decimal("5"), limit_price=Decimal("10.00"), time_in_force="ioc")
    assert order.status == "canceled" and order.filled_qty == 2
    assert order.reserved_cash == 0 and cash(alice_account).reserved == 0


def test_fok_cancels_when_the_quote_cannot_fill_everything(alice_account, acme, market_open):
    quote(ask="10.00", ask_size="2")
    order = place(alice_account, type="limit", qty=Decimal("5"), limit_price=Decimal("10.00"), time_in_force="fok")
    assert order.status == "canceled" and order.filled_qty == 0
    assert not Execution.objects.exists() and cash(alice_account).reserved == 0


def test_fok_fills_entirely_when_it_can(alice_account, acme, market_open):
    quote(ask="10.00", ask_size="5")
    order = place(alice_account, type="limit", qty=Decimal("5"), limit_price=Decimal("10.00"), time_in_force="fok")
    assert order.status == "filled" and order.filled_qty == 5


def test_order_over_a_closed_market_waits_for_the_open_then_day_orders_expire(alice_account, acme, market_closed):
    quote(ask="10.00")
    order = place(alice_account, qty=Decimal("1"))
    assert order.status == "accepted" and order.expires_at.isoformat() == "2026-03-05T21:00:00+00:00"
    tick(order, ask="10.00")
    assert order.status == "accepted"  # still closed
    limit = place(alice_account, type="limit", qty=Decimal("1"), limit_price=Decimal("5.00"))
    market_closed.move_to("2026-03-05T14:31:00Z")  # Thursday, open
    tick(order, ask="10.00")
    assert order.status == "filled"
    market_closed.move_to("2026-03-05T21:00:01Z")
    assert orders_expire() == 1
    limit.refresh_from_db()
    assert limit.status == "expired" and limit.reserved_cash == 0 and cash(alice_account).reserved == 0


def test_cancel_releases_the_reservation(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.00"))
    cancel(alice_account, order)
    assert order.status == "canceled" and cash(alice_account).reserved == 0
    assert list(order.events.values_list("to_status", flat=True))[-2:] == ["pending_cancel", "canceled"]


def test_a_repeated_execution_report_changes_nothing(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.00"))
    report = {
        "order_id": order.id,
        "broker_exec_id": "X-1",
        "qty": Decimal("1"),
        "price": Decimal("9.00"),
        "executed_at": MARKET_OPEN,
    }
    assert execution_apply(**report) is not None
    assert execution_apply(**report) is None
    order.refresh_from_db()
    assert order.filled_qty == 1 and Execution.objects.count() == 1
    assert Position.objects.get(asset=acme).qty == 1


def test_out_of_order_execution_reports_add_up_the_same(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("3"), limit_price=Decimal("9.00"))
    execution_apply(
        order_id=order.id,
        broker_exec_id="late",
        qty=Decimal("2"),
        price=Decimal("8.00"),
        executed_at=MARKET_OPEN.replace(minute=5),
    )
    execution_apply(
        order_id=order.id,
        broker_exec_id="early",
        qty=Decimal("1"),
        price=Decimal("9.00"),
        executed_at=MARKET_OPEN.replace(minute=1),
    )
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_avg_price == Decimal("8.333333333")
    assert cash(alice_account).reserved == 0 and cash(alice_account).balance == Decimal("975.00")
    assert OrderEvent.objects.filter(order=order, event__in=["partial_fill", "fill"]).count() == 2


def test_a_trailing_stop_keeps_its_water_mark_across_a_restart(alice_account, acme, market_open, settings):
    from trading.brokers.paper import paper_book_reset

    settings.TRADING_TRAILING_HWM_FLUSH_SECONDS = 3600  # only the first move and a firing stop are written
    quote(ask="10.00")
    place(alice_account, qty=Decimal("1"))
    trailing = place(
        alice_account,
        side="sell",
        type="trailing_stop",
        qty=Decimal("1"),
        trail_price=Decimal("1.00"),
        time_in_force="gtc",
    )
    tick(trailing, bid="12.00", ask="12.02")
    assert trailing.hwm == Decimal("12.00") and trailing.current_stop_price == Decimal("11.00")
    tick(trailing, bid="12.50", ask="12.52")  # within the flush interval: kept in memory only
    assert trailing.hwm == Decimal("12.00")
    paper_book_reset()  # the feed process restarts: the book reloads from the database
    tick(trailing, bid="11.20", ask="11.22")  # above the persisted stop (11): no fill
    assert trailing.status == "accepted" and trailing.hwm == Decimal("12.00")
    tick(trailing, bid="10.95", ask="10.97")  # a fresh mark would be 11.20 → stop 10.20; the kept one fires
    assert trailing.status == "filled" and trailing.filled_avg_price == Decimal("10.95")
