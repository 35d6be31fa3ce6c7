"""What every portfolio service shares: the account lock (first in the lock order), the customer's
ledger rows, the spendable-cash check, quantity and amount checks, and the account update to the owner's sockets."""

from decimal import Decimal

from portfolios.models import Account, JournalEntry, LedgerAccount
from speedtrade.errors import DomainError
from speedtrade.money import has_at_most_cents, to_qty
from speedtrade.realtime import publish_to_user

Kind = LedgerAccount.Kind
Cause = JournalEntry.Cause


def locked_account(account: Account) -> Account:
    return Account.objects.select_for_update().get(pk=account.pk)


def customer_ledger_account(account: Account, kind: str, *, lock: bool = False) -> LedgerAccount:
    queryset = LedgerAccount.objects.select_for_update() if lock else LedgerAccount.objects
    return queryset.get(account=account, kind=kind)


def require_spendable(cash: LedgerAccount, amount: Decimal) -> None:
    """`cash` as read in the caller's transaction after it locked the account (every caller reads it there:
    nothing can have moved it since, so it is not read again — one round trip less per fill)."""
    if cash.balance - cash.reserved < amount:
        raise DomainError(
            f"Not enough cash: {cash.balance - cash.reserved} available, {amount} needed.",
            code="insufficient_cash",
            field="amount",
        )


def publish_account_update(account: Account, event: str, *, cash_balance: Decimal | None = None, **details) -> None:
    """Tell the owner's sockets something changed; clients refetch `/account` for figures. `cash_balance`: the
    cash as the caller's transaction leaves it, when the caller knows it (else it is read)."""
    if cash_balance is None:
        cash_balance = customer_ledger_account(account, Kind.CASH).balance
    publish_to_user(
        account.user_id,
        "account_updates",
        {"event": event, "account_id": str(account.pk), "cash": str(cash_balance), **details},
    )


def require_positive_cents(amount: Decimal) -> None:
    if amount <= 0 or not has_at_most_cents(amount):
        raise ValueError(f"Reservation amounts are positive whole cents, not {amount}.")


def require_positive_qty(qty: Decimal) -> None:
    if qty <= 0 or to_qty(qty) != qty:
        raise ValueError(f"Quantities are positive with at most 9 decimals, not {qty}.")
