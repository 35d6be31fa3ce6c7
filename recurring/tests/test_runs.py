"""A run places one notional market buy through order entry — once, whatever happens to the job."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Notification
from recurring.models import RecurringPlan, RecurringRun
from recurring.services import plan_create, plan_run_claim
from recurring.tasks import recurring_runs_due
from recurring.tests.conftest import WEDNESDAY
from trading.models import Order
from trading.risk import OrderRequest
from trading.services import order_place

pytestmark = pytest.mark.django_db


def daily_plan(user, amount="25.00", symbol="ACME"):
    return plan_create(user=user, symbol=symbol, amount=Decimal(amount), frequency="daily", start_date=WEDNESDAY)


def test_a_due_plan_buys_once_and_moves_to_the_next_trading_day(alice, alice_account, acme):
    plan = daily_plan(alice)

    recurring_runs_due()

    (run,) = RecurringRun.objects.filter(plan=plan)
    order = Order.objects.get(account=alice_account)
    assert (run.status, run.order_id, run.scheduled_date) == ("placed", order.pk, WEDNESDAY)
    assert (order.side, order.type, order.notional, order.time_in_force) == ("buy", "market", Decimal("25.00"), "day")
    assert order.client_order_id == run.client_order_id
    plan.refresh_from_db()
    assert plan.next_run_date == WEDNESDAY + timedelta(days=1)
    assert Notification.objects.filter(user=alice, kind="recurring_run_done").count() == 1


def test_the_job_running_twice_places_one_order(alice, alice_account, acme):
    daily_plan(alice)

    recurring_runs_due()
    recurring_runs_due()

    assert Order.objects.filter(account=alice_account).count() == 1
    assert RecurringRun.objects.count() == 1


def test_a_worker_that_died_after_placing_the_order_does_not_buy_again(alice, alice_account, acme, market_open):
    plan = daily_plan(alice)
    run = plan_run_claim(plan_id=plan.pk, now=timezone.now())
    assert run is not None
    # The dead worker got this far: the order is placed, the run not yet marked.
    request = OrderRequest(
        symbol="ACME",
        side="buy",
        type="market",
        time_in_force="day",
        notional=Decimal("25.00"),
        client_order_id=run.client_order_id,
    )
    placed, _ = order_place(account=alice_account, request=request)

    market_open.tick(timedelta(minutes=3))
    recurring_runs_due()  # finds the run still pending and finishes it

    run.refresh_from_db()
    assert (run.status, run.order_id) == ("placed", placed.pk)
    assert Order.objects.filter(account=alice_account).count() == 1


def test_a_worker_that_died_before_placing_is_picked_up(alice, alice_account, acme, market_open):
    plan = daily_plan(alice)
    run = plan_run_claim(plan_id=plan.pk, now=timezone.now())
    assert run is not None

    recurring_runs_due()  # too early to call it stuck: the plan itself has moved on, nothing is due
    assert not Order.objects.exists()
    market_open.tick(timedelta(minutes=3))
    recurring_runs_due()

    run.refresh_from_db()
    assert run.status == "placed"
    assert Order.objects.filter(account=alice_account).count() == 1


def test_insufficient_buying_power_skips_the_run_with_its_reason(alice, alice_account, acme):
    plan = daily_plan(alice, amount="5000.00")

    recurring_runs_due()
    recurring_runs_due()  # no retry storm: the skipped run stays skipped

    (run,) = RecurringRun.objects.filter(plan=plan)
    assert (run.status, run.skip_code) == ("skipped", "insufficient_buying_power")
    assert not Order.objects.exists()
    skipped = Notification.objects.get(user=alice, kind="recurring_run_skipped")
    assert skipped.title == "Recurring buy skipped: ACME"
    assert run.skip_reason in skipped.body
    plan.refresh_from_db()
    assert plan.status == "active" and plan.next_run_date == WEDNESDAY + timedelta(days=1)


def test_a_halted_asset_skips_the_run(alice, alice_account, acme):
    plan = daily_plan(alice)
    acme.tradable = False
    acme.save()

    recurring_runs_due()

    run = RecurringRun.objects.get(plan=plan)
    assert (run.status, run.skip_code) == ("skipped", "asset_not_tradable")
    assert not Order.objects.exists()


def test_a_restricted_account_skips_the_run(alice, alice_account, acme, carol):
    from accounts.services import account_restriction_set

    plan = daily_plan(alice)
    account_restriction_set(
        account=alice_account,
        kind="trading",
        blocked=True,
        actor=carol,
        reason="review",
        customer_message="under_review",
    )

    recurring_runs_due()

    run = RecurringRun.objects.get(plan=plan)
    assert (run.status, run.skip_code) == ("skipped", "account_not_tradable")
    assert not Order.objects.exists()


def test_a_run_found_after_the_close_is_missed_not_placed_late(alice, alice_account, acme, market_open):
    plan = daily_plan(alice)
    market_open.move_to("2026-03-04 21:30:00")  # 16:30 New York: the session closed

    recurring_runs_due()

    run = RecurringRun.objects.get(plan=plan, scheduled_date=WEDNESDAY)
    assert (run.status, run.skip_code) == ("skipped", "missed")
    assert not Order.objects.exists()


def test_a_plan_with_two_runs_completes(alice, alice_account, acme, market_open):
    plan = plan_create(
        user=alice, symbol="ACME", amount=Decimal("10"), frequency="daily", start_date=WEDNESDAY, max_runs=2
    )
    recurring_runs_due()
    market_open.move_to("2026-03-05 15:00:00")
    recurring_runs_due()

    plan.refresh_from_db()
    assert plan.status == "completed" and plan.next_run_at is None
    assert list(plan.events.values_list("event", flat=True)) == ["created", "completed"]
    assert Order.objects.count() == 2


def test_crypto_runs_at_its_new_york_time(alice, alice_account, market_open):
    from datetime import time

    from portfolios.tests.factories import AssetFactory
    from trading.tests.conftest import quote

    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    plan = plan_create(
        user=alice,
        symbol="BTC/USD",
        amount=Decimal("10"),
        frequency="daily",
        start_date=WEDNESDAY,
        time_of_day=time(10, 30),
    )
    recurring_runs_due()  # 10:00 New York
    assert not Order.objects.exists()

    market_open.move_to("2026-03-04 15:30:00")
    recurring_runs_due()

    order = Order.objects.get()
    assert (order.symbol, order.time_in_force, order.notional) == ("BTC/USD", "gtc", Decimal("10.00"))
    assert RecurringPlan.objects.get(pk=plan.pk).next_run_date == WEDNESDAY + timedelta(days=1)
