"""The trading core against a venue that fails: never lose, duplicate or misreport an order.

The venue is `ScriptedVenue` (trading/tests/venues.py), a real Broker following a script;
Celery runs eagerly, so a task's retries run at once, one after the other.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from accounts.models import AuditEvent
from portfolios.models import LedgerAccount, Position
from speedtrade.errors import DomainError
from trading import services

# Imported before `market_open` freezes the clock: alpaca-py's pydantic models built under freezegun see FakeDatetime
# (run alone, this file crashed importing them inside a test).
from trading.brokers import alpaca as _alpaca_adapter  # noqa: F401
from trading.brokers.base import venue_refusal_reason
from trading.models import Execution, Order, OrderEvent, ReconciliationCase
from trading.risk import OrderRequest
from trading.tasks import reconcile_orders, submit_order

pytestmark = pytest.mark.django_db

BUY = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": Decimal("10.00")}


def place(account, **fields) -> Order:
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(account=account, request=OrderRequest(**{**BUY, "qty": Decimal("4"), **fields}))
    order.refresh_from_db()
    return order


def cash(account) -> LedgerAccount:
    return LedgerAccount.objects.get(account=account, kind=LedgerAccount.Kind.CASH)


def events(order) -> list[str]:
    return list(order.events.values_list("event", flat=True))


def test_a_timeout_after_the_venue_accepted_is_found_by_client_order_id_not_sent_twice(
    alice_account, acme, market_open, scripted_venue
):
    scripted_venue.script = ["accept_then_lose"]
    order = place(alice_account)
    assert order.status == "accepted" and order.broker_order_id == "scripted-1"
    assert scripted_venue.submit_attempts == 1 and len(scripted_venue.book) == 1
    assert events(order) == ["new", "pending_new", "accepted"]
    assert order.events.get(event="accepted").detail == {"found_by": "client_order_id"}


def test_429_then_success_submits_once_the_venue_never_had_it(alice_account, acme, market_open, scripted_venue):
    scripted_venue.script = ["unavailable", "unavailable", "accept"]
    order = place(alice_account)
    assert order.status == "accepted" and len(scripted_venue.book) == 1
    # Before each resubmission the venue was asked whether it already had the order.
    assert scripted_venue.submit_attempts == 3 and scripted_venue.lookups == 2


def test_a_definite_rejection_rejects_with_the_venues_message_and_releases_the_cash(
    alice_account, acme, market_open, scripted_venue
):
    scripted_venue.script = ["reject:insufficient buying power"]
    order = place(alice_account)
    assert order.status == "rejected" and order.reject_reason == "insufficient buying power"
    assert cash(alice_account).reserved == 0 and order.reserved_cash == 0


def test_only_one_worker_claims_an_order(alice_account, acme, market_open, scripted_venue):
    with TestCase.captureOnCommitCallbacks(execute=False):  # placed, not yet submitted
        order, _ = services.order_place(account=alice_account, request=OrderRequest(**BUY, qty=Decimal("1")))
    assert services.order_submission_start(order_id=order.id) is not None
    assert services.order_submission_start(order_id=order.id) is None
    assert OrderEvent.objects.filter(order=order, event="pending_new").count() == 1


def test_a_redelivered_submit_asks_the_venue_and_never_submits_twice(alice_account, acme, market_open, scripted_venue):
    order = place(alice_account)
    submit_order.apply(args=[str(order.id)])  # redelivery of the same message: the order is no longer new
    with TestCase.captureOnCommitCallbacks(execute=False):
        other, _ = services.order_place(account=alice_account, request=OrderRequest(**BUY, qty=Decimal("1")))
    services.order_submission_start(order_id=other.id)  # a worker claimed it, sent it, then crashed before recording
    scripted_venue._take(other)
    submit_order.apply(args=[str(other.id)])
    other.refresh_from_db()
    assert other.status == "accepted" and scripted_venue.submit_attempts == 1 and len(scripted_venue.book) == 2


def test_an_unreachable_venue_refuses_new_orders_loses_nothing_and_recovers(
    alice_account, acme, market_open, scripted_venue
):
    scripted_venue.down = True
    order = place(alice_account)
    assert order.status == "pending_new"  # retries exhausted: the outcome stays unknown, never guessed
    assert cash(alice_account).reserved == Decimal("40.00")

    reconcile_orders()
    assert "cannot be reached" in venue_refusal_reason("scripted")
    with pytest.raises(DomainError) as refused:
        place(alice_account, qty=Decimal("1"))
    assert refused.value.code == "venue_unavailable"
    assert Order.objects.count() == 1  # nothing written for the refused order

    scripted_venue.down = False
    scripted_venue._take(order)  # the first attempt did reach the venue after all
    reconcile_orders()
    order.refresh_from_db()
    assert order.status == "accepted" and venue_refusal_reason("scripted") is None
    assert place(alice_account, qty=Decimal("1")).status == "accepted"


def test_an_order_the_venue_never_received_is_rejected_once_stuck_and_its_cash_released(
    alice_account, acme, market_open, scripted_venue, settings
):
    scripted_venue.down = True
    order = place(alice_account)
    scripted_venue.down = False
    settings.TRADING_SUBMIT_STUCK_SECONDS = 0
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(seconds=1))
    reconcile_orders()
    order.refresh_from_db()
    assert order.status == "rejected" and cash(alice_account).reserved == 0


def test_partial_fills_out_of_order_and_twice_are_booked_once(alice_account, acme, market_open, scripted_venue):
    order = place(alice_account)
    now = timezone.now()
    report = {"order_id": order.id, "broker_exec_prefix": "scripted:1", "executed_at": now}
    services.execution_apply_cumulative(**report, filled_qty=Decimal("3"), filled_avg_price=Decimal("9.90"))
    assert (
        services.execution_apply_cumulative(**report, filled_qty=Decimal("1"), filled_avg_price=Decimal("9.80")) is None
    )
    assert (
        services.execution_apply_cumulative(**report, filled_qty=Decimal("3"), filled_avg_price=Decimal("9.90")) is None
    )
    services.execution_apply_cumulative(
        **report,
        filled_qty=Decimal("4"),
        filled_avg_price=Decimal("9.925"),
        fill_qty=Decimal("1"),
        fill_price=Decimal("10.00"),
    )
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_qty == 4 and order.filled_avg_price == Decimal("9.925")
    assert list(Execution.objects.order_by("qty").values_list("qty", "price")) == [
        (Decimal("1"), Decimal("10.00")),
        (Decimal("3"), Decimal("9.90")),
    ]
    assert Position.objects.get(account=alice_account, asset=acme).qty == 4
    assert cash(alice_account).balance == Decimal("1000.00") - Decimal("39.70") and cash(alice_account).reserved == 0


def test_a_fill_for_an_order_we_consider_canceled_is_booked(alice_account, acme, market_open, scripted_venue):
    order = place(alice_account)
    services.order_cancel(account=alice_account, order_id=order.id)
    with TestCase.captureOnCommitCallbacks(execute=True):
        pass
    services.order_venue_update(order_id=order.id, to_status="canceled")
    services.execution_apply(
        order_id=order.id,
        broker_exec_id="scripted-1:1",
        qty=Decimal("2"),
        price=Decimal("9.95"),
        executed_at=timezone.now(),
    )
    order.refresh_from_db()
    assert order.status == "canceled" and order.filled_qty == 2
    assert events(order)[-1] == "fill_after_end"
    assert Position.objects.get(account=alice_account, asset=acme).qty == 2
    assert cash(alice_account).balance == Decimal("980.10") and cash(alice_account).reserved == 0


def test_a_stream_that_dropped_mid_fill_is_caught_up_by_reconciliation(
    alice_account, acme, market_open, scripted_venue
):
    order = place(alice_account)
    at = timezone.now()
    first = scripted_venue.fill(str(order.id), "1", "9.90", at)
    services.execution_apply(
        order_id=order.id, broker_exec_id=first.broker_exec_id, qty=first.qty, price=first.price, executed_at=at
    )  # the stream delivered the first fill, then dropped
    scripted_venue.fill(str(order.id), "3", "9.95", at)
    scripted_venue.set(str(order.id), status="filled")
    assert reconcile_orders()["fills"] == 1
    order.refresh_from_db()
    assert order.status == "filled" and order.filled_qty == 4 and Execution.objects.count() == 2
    assert not ReconciliationCase.objects.exists() and venue_refusal_reason("scripted") is None


def test_a_disagreement_opens_a_case_halts_the_venue_until_compliance_resolves_it(
    alice_account, acme, market_open, scripted_venue, carol
):
    order = place(alice_account)
    services.order_cancel(account=alice_account, order_id=order.id)
    services.order_venue_update(order_id=order.id, to_status="canceled")  # we ended it; the venue still has it open
    reconcile_orders()
    case = ReconciliationCase.objects.get()
    assert (case.venue, case.kind, case.order, case.status) == ("scripted", "open_only_at_venue", order, "open")
    assert "halted" in venue_refusal_reason("scripted")
    with pytest.raises(DomainError):
        place(alice_account, qty=Decimal("1"))
    reconcile_orders()
    assert ReconciliationCase.objects.count() == 1  # one open case, not one per run

    scripted_venue.set(str(order.id), status="canceled")  # operations canceled it at the venue
    services.reconciliation_case_resolve(case_id=case.id, staff=carol, resolution="Canceled at the venue by ops.")
    assert AuditEvent.objects.filter(action="trading.reconciliation_case_resolved", actor=carol).exists()
    reconcile_orders()
    assert venue_refusal_reason("scripted") is None
    assert place(alice_account, qty=Decimal("1")).status == "accepted"


def test_fills_we_booked_that_the_venue_does_not_report_open_a_case(alice_account, acme, market_open, scripted_venue):
    order = place(alice_account)
    services.execution_apply(
        order_id=order.id, broker_exec_id="ghost", qty=Decimal("1"), price=Decimal("10"), executed_at=timezone.now()
    )
    reconcile_orders()
    case = ReconciliationCase.objects.get()
    assert case.kind == "we_filled_more" and case.details == {"venue_filled_qty": "0", "our_filled_qty": "1.000000000"}


def test_compliance_resolves_a_case_in_the_admin_and_support_cannot(
    alice_account, acme, market_open, scripted_venue, carol, carol_admin
):
    from accounts.tests.factories import UserFactory
    from accounts.tests.sessions import mfa_client

    order = place(alice_account)
    services.order_cancel(account=alice_account, order_id=order.id)
    services.order_venue_update(order_id=order.id, to_status="canceled")
    reconcile_orders()
    case = ReconciliationCase.objects.get()
    compliance = carol_admin
    page = compliance.get(f"/admin/trading/reconciliationcase/{case.pk}/change/")
    assert (
        page.status_code == 200
        and b"Resolve this case" in page.content
        and b"Venue holds open an order" in page.content
    )
    support = mfa_client(UserFactory(email="sam@example.com", staff_group="Support"))
    assert support.post(f"/admin/trading/reconciliationcase/{case.pk}/resolve/", {"resolution": "x"}).status_code == 403
    assert (
        compliance.post(f"/admin/trading/reconciliationcase/{case.pk}/change/", {"status": "resolved"}).status_code
        == 403
    )

    answer = compliance.post(
        f"/admin/trading/reconciliationcase/{case.pk}/resolve/", {"resolution": "Ops canceled it."}
    )
    assert answer.status_code == 302
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_by == carol and case.resolution == "Ops canceled it."
    event = AuditEvent.objects.get(action="trading.reconciliation_case_resolved")
    assert event.actor == carol and event.after == {"status": "resolved", "resolution": "Ops canceled it."}


def test_a_venue_that_can_no_longer_be_built_does_not_stop_reconciling_the_others(
    alice_account, acme, market_open, scripted_venue, settings
):
    order = place(alice_account)
    Order.objects.filter(pk=order.pk).update(broker="alpaca")  # left open on a venue whose keys were removed
    scripted_venue.set(str(order.id), status="canceled")
    settings.ALPACA_API_KEY = settings.ALPACA_SECRET_KEY = ""
    counts = reconcile_orders()
    assert counts["venues_down"] == 1 and "not configured" in venue_refusal_reason("alpaca")
    assert venue_refusal_reason("scripted") is None
