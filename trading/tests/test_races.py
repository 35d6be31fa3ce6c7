"""Races between a user's replace/cancel and a venue's fill, made deterministic.

One side runs inside an open transaction holding the account row lock; the other starts
in a second thread (its own database connection) and is seen waiting on that lock in
pg_stat_activity before the first commits. Whatever the order, exactly one outcome:
no lost fill, and reservations that add up.
"""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import TestCase

from marketdata.bars import BarValue
from marketdata.services import bars_record
from portfolios.models import Position
from speedtrade.errors import DomainError
from trading.brokers.base import BROKERS, SubmitOutcome
from trading.brokers.paper import PaperVenue
from trading.models import Order
from trading.services import execution_apply, order_cancel, order_replace, order_venue_update, orders_expire
from trading.tests.conftest import MARKET_OPEN, cash, place, quote
from trading.tests.races import LOCK_WAIT_LIMIT_SECONDS, Competitor, race

# The competing transaction needs committed rows to wait for: real commits, restored afterwards.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def fill(order, qty, exec_id="venue-1"):
    return lambda: execution_apply(
        order_id=order.id, broker_exec_id=exec_id, qty=Decimal(qty), price=Decimal("9.00"), executed_at=MARKET_OPEN
    )


@pytest.fixture
def resting_buy(alice_account, acme, market_open):
    quote(ask="10.00")
    order = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.00"))
    assert order.status == "accepted" and cash(alice_account).reserved == Decimal("18.00")
    return order


def open_reservations(account) -> Decimal:
    return sum(Order.objects.filter(account=account).values_list("reserved_cash", flat=True), Decimal(0))


def test_replace_first_then_the_fill_books_on_the_replaced_order_and_shrinks_the_replacement(
    alice_account, resting_buy
):
    new, competitor = race(
        lambda: order_replace(account=alice_account, order_id=resting_buy.id, changes={"limit_price": Decimal("9.50")}),
        fill(resting_buy, "1"),
    )
    assert competitor.error is None and competitor.result is not None
    old = Order.objects.get(pk=resting_buy.id)
    new.refresh_from_db()
    assert old.status == "replaced" and old.filled_qty == 1
    assert list(old.events.values_list("event", flat=True))[-3:] == ["pending_replace", "replaced", "fill_after_end"]
    assert new.status == "accepted" and new.qty == 1 and new.reserved_cash == Decimal("9.50")
    assert Position.objects.get(account=alice_account).qty == 1
    assert cash(alice_account).balance == Decimal("991.00")
    assert cash(alice_account).reserved == open_reservations(alice_account) == Decimal("9.50")


def test_fill_first_then_the_replace_covers_only_what_is_left(alice_account, resting_buy):
    _, competitor = race(
        fill(resting_buy, "1"),
        lambda: order_replace(account=alice_account, order_id=resting_buy.id, changes={"limit_price": Decimal("9.50")}),
    )
    assert competitor.error is None
    new = Order.objects.get(pk=competitor.result.pk)
    old = Order.objects.get(pk=resting_buy.id)
    assert old.status == "replaced" and old.filled_qty == 1 and not old.events.filter(event="fill_after_end").exists()
    assert new.qty == 1 and new.reserved_cash == Decimal("9.50")
    assert cash(alice_account).reserved == open_reservations(alice_account) == Decimal("9.50")


def test_a_complete_fill_first_makes_the_replace_refused(alice_account, resting_buy):
    _, competitor = race(
        fill(resting_buy, "2"),
        lambda: order_replace(account=alice_account, order_id=resting_buy.id, changes={"limit_price": Decimal("9.50")}),
    )
    assert isinstance(competitor.error, DomainError) and competitor.error.code == "not_replaceable"
    assert Order.objects.count() == 1 and Order.objects.get().status == "filled"
    assert cash(alice_account).reserved == 0 and cash(alice_account).balance == Decimal("982.00")


def test_cancel_confirmed_first_then_the_fill_is_booked_after_the_end(alice_account, resting_buy):
    def cancel_confirmed():
        order_cancel(account=alice_account, order_id=resting_buy.id)
        order_venue_update(order_id=resting_buy.id, to_status="canceled")

    race(cancel_confirmed, fill(resting_buy, "1"))
    order = Order.objects.get(pk=resting_buy.id)
    assert order.status == "canceled" and order.filled_qty == 1 and order.reserved_cash == 0
    assert order.events.filter(event="fill_after_end").count() == 1
    assert Position.objects.get(account=alice_account).qty == 1
    assert cash(alice_account).reserved == 0 and cash(alice_account).balance == Decimal("991.00")


def test_fill_first_then_the_cancel_is_refused(alice_account, resting_buy):
    _, competitor = race(fill(resting_buy, "2"), lambda: order_cancel(account=alice_account, order_id=resting_buy.id))
    assert isinstance(competitor.error, DomainError) and competitor.error.code == "not_cancelable"
    order = Order.objects.get(pk=resting_buy.id)
    assert order.status == "filled" and not order.events.filter(event="pending_cancel").exists()
    assert cash(alice_account).reserved == 0


def test_a_fill_reported_after_expiry_is_booked_once(alice_account, resting_buy, market_open):
    market_open.move_to("2026-03-04T21:00:01Z")
    assert orders_expire() == 1
    report = fill(resting_buy, "2", exec_id="late-1")
    assert report() is not None and report() is None  # the same report again changes nothing
    order = Order.objects.get(pk=resting_buy.id)
    assert order.status == "expired" and order.filled_qty == 2
    assert list(order.events.values_list("event", flat=True))[-2:] == ["expired", "fill_after_end"]
    assert Position.objects.get(account=alice_account).qty == 2
    assert cash(alice_account).reserved == 0 and cash(alice_account).balance == Decimal("982.00")


class AcknowledgeLaterVenue(PaperVenue):
    """The paper venue, but replacing like a remote venue: the swap is known only when it answers."""

    replaces_at_once = False
    replaced: list = []

    def replace(self, order, replacement):
        AcknowledgeLaterVenue.replaced.append((order.id, replacement.id))
        return super().replace(order, replacement)


@pytest.mark.django_db
def test_a_replace_waits_in_pending_replace_for_a_venue_that_acknowledges_later(
    alice_account, acme, market_open, monkeypatch
):
    monkeypatch.setitem(BROKERS, "paper", f"{__name__}.AcknowledgeLaterVenue")
    monkeypatch.setattr(AcknowledgeLaterVenue, "replaced", [])
    quote(ask="10.00")
    old = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.00"))
    with TestCase.captureOnCommitCallbacks() as callbacks:
        new = order_replace(account=alice_account, order_id=old.id, changes={"limit_price": Decimal("9.50")})
    old.refresh_from_db()
    assert old.status == "pending_replace" and old.replaced_by_id == new.id and old.reserved_cash == 0
    assert cash(alice_account).reserved == new.reserved_cash == Decimal("19.00")
    fill(old, "1")()  # the old order still trades at the venue meanwhile: the replacement shrinks
    new.refresh_from_db()
    assert new.qty == 1 and new.reserved_cash == Decimal("9.50") and cash(alice_account).reserved == Decimal("9.50")
    for callback in callbacks:  # the commit: the replacement is submitted as a replace of the old order
        callback()
    old.refresh_from_db()
    new.refresh_from_db()
    assert AcknowledgeLaterVenue.replaced == [(old.id, new.id)]
    assert (old.status, new.status) == ("replaced", "accepted") and old.filled_qty == 1
    assert list(old.events.values_list("event", flat=True))[-3:] == ["pending_replace", "partial_fill", "replaced"]


class RefuseReplaceVenue(AcknowledgeLaterVenue):
    def replace(self, order, replacement):
        return SubmitOutcome(accepted=False, reject_reason="Too late to replace.")


@pytest.mark.django_db
def test_a_replace_the_venue_refuses_leaves_the_old_order_live_and_funded_again(
    alice_account, acme, market_open, monkeypatch
):
    monkeypatch.setitem(BROKERS, "paper", f"{__name__}.RefuseReplaceVenue")
    quote(ask="10.00")
    old = place(alice_account, type="limit", qty=Decimal("2"), limit_price=Decimal("9.00"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        new = order_replace(account=alice_account, order_id=old.id, changes={"limit_price": Decimal("9.50")})
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.status == "rejected" and new.reject_reason == "Too late to replace." and new.reserved_cash == 0
    assert old.status == "accepted" and old.replaced_by_id is None and old.reserved_cash == Decimal("18.00")
    assert list(old.events.values_list("event", flat=True))[-2:] == ["pending_replace", "order_replace_rejected"]
    assert cash(alice_account).reserved == Decimal("18.00")


def test_a_fill_in_progress_holds_up_nobody_else_on_its_asset(alice_account, resting_buy, acme):
    """A fill locks its order's and position's rows, not their asset's: the feed recording the asset's bar meanwhile
    goes ahead (it waited on the asset row behind every fill, and the bar writer deadlocked with the order engine's
    batch)."""

    def bar_recorded_without_waiting():
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a wait on the asset row fails the test instead of hanging
        one = Decimal("10.00")
        bar = BarValue(acme.symbol, "1Min", MARKET_OPEN, one, one, one, one, Decimal(1), 1, one)
        with transaction.atomic():
            return bars_record(bars=[bar])

    fill(resting_buy, "1", "venue-1")()  # alice holds acme: the second fill locks her position
    competitor = Competitor(bar_recorded_without_waiting)
    with transaction.atomic():
        fill(resting_buy, "1", "venue-2")()
        competitor.start()
        competitor.join(LOCK_WAIT_LIMIT_SECONDS)
    assert competitor.error is None and competitor.result == 1
