from decimal import Decimal

from portfolios.models import JournalEntry, JournalLine, LedgerAccount
from portfolios.selectors import ledger_discrepancies, lot_discrepancies


def balances(account) -> dict[str, Decimal]:
    """The customer's ledger balances by kind, summed from the lines (not the cache)."""
    return {
        la.kind: sum((line.amount for line in la.lines.all()), Decimal("0"))
        for la in LedgerAccount.objects.filter(account=account)
    }


def assert_ledger_sound() -> None:
    assert ledger_discrepancies() == []
    assert lot_discrepancies() == []
    for entry in JournalEntry.objects.prefetch_related("lines"):
        assert sum(line.amount for line in entry.lines.all()) == 0, entry


def ledger_row_count() -> tuple[int, int]:
    return JournalEntry.objects.count(), JournalLine.objects.count()
