"""Trade confirmations (SEC Rule 10b-10): what they say, and that the job issues each once by the next business day."""

from datetime import date, timedelta
from decimal import Decimal

from django.test import TestCase
from django.utils import timezone

from documents import services
from documents.models import AccountDocument, DocumentKind
from portfolios.models import LedgerAccount
from trading.services import execution_apply
from trading.tests.conftest import place


def _partly_filled_order(account, scripted_venue, at):
    """A limit buy of 10 ACME filled 4 @ 10.00 (fee 0.35) then 3 @ 10.01 (fee 0.15) through the fill service."""
    order = place(account, type="limit", limit_price=Decimal("10.05"), qty=Decimal(10), time_in_force="gtc")
    with TestCase.captureOnCommitCallbacks(execute=True):
        execution_apply(
            order_id=order.id, broker_exec_id="x-1", qty=Decimal(4), price=Decimal("10.00"), fee=Decimal("0.35"),
            executed_at=at,
        )  # fmt: skip
        execution_apply(
            order_id=order.id, broker_exec_id="x-2", qty=Decimal(3), price=Decimal("10.01"), fee=Decimal("0.15"),
            executed_at=at + timedelta(minutes=5),
        )  # fmt: skip
    order.refresh_from_db()
    return order


def test_a_partly_filled_order_is_confirmed_with_each_fill_its_fees_and_settlement(
    alice_account, acme, market_open, scripted_venue
):
    order = _partly_filled_order(alice_account, scripted_venue, at=timezone.now())
    assert order.status == "partially_filled" and order.filled_qty == 7

    document = services.trade_confirmation_issue(order=order, trade_date=date(2026, 3, 4))

    data = document.data
    assert document.kind == DocumentKind.TRADE_CONFIRMATION and document.order == order
    assert (data["side"], data["symbol"], data["quantity"]) == ("buy", "ACME", "7")
    assert Decimal(data["average_price"]) == Decimal("10.004285714")  # (4 × 10.00 + 3 × 10.01) / 7
    assert [(f["qty"], f["price"], f["amount"], f["fee"]) for f in data["fills"]] == [
        ("4", "10", "40.00", "0.35"),
        ("3", "10.01", "30.03", "0.15"),
    ]
    assert (data["gross_amount"], data["fees"], data["net_amount"]) == ("70.03", "0.50", "-70.53")
    assert (data["trade_date"], data["settlement_date"]) == ("2026-03-04", "2026-03-05")  # T+1
    assert (data["capacity"], data["venue"], data["order_id"]) == ("agent", "scripted", str(order.id))
    # The net amount is what left the customer's cash in the ledger.
    cash = LedgerAccount.objects.get(account=alice_account, kind=LedgerAccount.Kind.CASH)
    assert cash.balance == Decimal("1000.00") + Decimal(data["net_amount"])
    with document.file.open("rb") as stored:
        assert stored.read(5) == b"%PDF-"


def test_the_job_confirms_a_working_order_the_next_day_once_and_an_ended_one_at_once(
    alice_account, acme, market_open, scripted_venue
):
    order = _partly_filled_order(alice_account, scripted_venue, at=timezone.now())

    assert services.trade_confirmations_issue_due() == 0  # still working today: confirmed once, tomorrow
    market_open.tick(timedelta(days=1))
    assert services.trade_confirmations_issue_due() == 1
    assert services.trade_confirmations_issue_due() == 0  # idempotent
    assert AccountDocument.objects.filter(order=order).count() == 1
