"""The ledger balances after every kind of entry, and the database refuses to let it not."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError, ProgrammingError

from portfolios import services
from portfolios.models import JournalEntry, JournalLine, LedgerAccount, Transfer
from portfolios.services import Leg
from portfolios.tests.conftest import WEDNESDAY
from portfolios.tests.helpers import assert_ledger_sound, balances
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db
D = Decimal


def test_deposit_credits_cash_from_the_bank(alice_account):
    services.deposit_settled_post(account=alice_account, amount=D("250.00"))
    assert balances(alice_account) == {"cash": D("250.00"), "withdrawal_hold": 0}
    assert services.platform_ledger_account("bank").lines.get().amount == D("-250.00")
    assert_ledger_sound()


def test_withdrawal_holds_at_creation_and_pays_out_at_settlement(funded):
    transfer = services.transfer_create(account=funded, direction="outgoing", amount=D("100.00"))
    assert balances(funded) == {"cash": D("900.00"), "withdrawal_hold": D("100.00")}
    assert_ledger_sound()
    services.transfer_submit(transfer_id=transfer.pk)
    services.transfer_settle(transfer_id=transfer.pk)
    assert balances(funded) == {"cash": D("900.00"), "withdrawal_hold": 0}
    assert_ledger_sound()


def test_canceling_a_withdrawal_releases_its_hold(funded):
    transfer = services.transfer_create(account=funded, direction="outgoing", amount=D("100.00"))
    services.transfer_cancel(transfer=transfer, actor=None)
    assert balances(funded) == {"cash": D("1000.00"), "withdrawal_hold": 0}
    assert_ledger_sound()


def test_a_rejected_withdrawal_returns_the_money(funded):
    transfer = services.transfer_create(account=funded, direction="outgoing", amount=D("100.00"))
    services.transfer_submit(transfer_id=transfer.pk)
    services.transfer_reject(transfer_id=transfer.pk, reason="R01 insufficient funds at the bank")
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.REJECTED
    assert balances(funded)["cash"] == D("1000.00")
    assert_ledger_sound()


def test_fills_and_fees_move_cash_against_the_venue_and_fee_accounts(funded, acme):
    services.fill_apply(
        account=funded,
        asset=acme,
        side="buy",
        qty=D("3"),
        price=D("10.005"),
        fee=D("0.50"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    # 3 × 10.005 = 30.015 → 30.02 (half-up, the one rounding rule)
    assert balances(funded)["cash"] == D("1000.00") - D("30.02") - D("0.50")
    assert services.platform_ledger_account("venue_settlement").lines.get().amount == D("30.02")
    assert services.platform_ledger_account("fees").lines.get().amount == D("0.50")
    services.fill_apply(
        account=funded,
        asset=acme,
        side="sell",
        qty=D("1"),
        price=D("12"),
        fee=D("0"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    assert balances(funded)["cash"] == D("969.48") + D("12.00")
    assert_ledger_sound()


def test_a_reversal_mirrors_the_entry(funded):
    deposit = JournalEntry.objects.get(cause_type="deposit")
    services.journal_entry_reverse(entry=deposit, memo="ACH return R10")
    assert balances(funded)["cash"] == 0
    with pytest.raises(DomainError, match="already reversed"):
        services.journal_entry_reverse(entry=deposit, memo="again")
    assert_ledger_sound()


def test_posting_refuses_unbalanced_or_fractional_entries(funded):
    cash = LedgerAccount.objects.get(account=funded, kind="cash")
    bank = services.platform_ledger_account("bank")
    with pytest.raises(ValueError, match="Unbalanced"):
        services.journal_entry_post(
            cause_type="adjustment", legs=[Leg(cash, D("1")), Leg(bank, D("-2"))], account=funded
        )
    with pytest.raises(ValueError, match="whole cents"):
        services.journal_entry_post(
            cause_type="adjustment", legs=[Leg(cash, D("0.001")), Leg(bank, D("-0.001"))], account=funded
        )


def test_the_database_refuses_an_unbalanced_entry_at_commit(funded):
    cash = LedgerAccount.objects.get(account=funded, kind="cash")
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        entry = JournalEntry.objects.create(account=funded, cause_type="adjustment", effective_at=WEDNESDAY)
        JournalLine.objects.create(entry=entry, ledger_account=cash, amount=D("5"))
        with connection.cursor() as cursor:  # what COMMIT does to deferred constraints
            cursor.execute("SET CONSTRAINTS portfolios_journalline_balanced IMMEDIATE")


def test_the_database_refuses_to_change_or_delete_ledger_rows(funded):
    line = JournalLine.objects.first()
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(amount=D("1"))
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).delete()
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=line.entry_id).update(memo="edited")


def test_cash_account_cash_can_never_be_negative_in_the_database(alice_account):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(account=alice_account, kind="cash").update(balance=D("-0.01"))


def test_verify_ledger_reports_a_cached_balance_that_drifted(funded, capsys):
    call_command("verify_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    LedgerAccount.objects.filter(account=funded, kind="cash").update(balance=D("999.99"))
    with pytest.raises(CommandError, match="1 ledger problem"):
        call_command("verify_ledger")
    assert "cached balance 999.99" in capsys.readouterr().err
