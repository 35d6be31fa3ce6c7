"""Posting: balanced journal entries (moving customer balances) and their reversal."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.models import User
from portfolios.models import Account, JournalEntry, JournalLine, LedgerAccount
from portfolios.services.common import Cause, Kind, locked_account, require_spendable
from speedtrade.errors import DomainError
from speedtrade.money import cents_in_db, has_at_most_cents


@dataclass(frozen=True)
class Leg:
    """One line to post: a ledger account and a signed amount in cents."""

    ledger_account: LedgerAccount
    amount: Decimal
    settles_on: date | None = None


def platform_ledger_account(kind: str) -> LedgerAccount:
    ledger_account, _ = LedgerAccount.objects.get_or_create(account=None, kind=kind, defaults={"allow_negative": True})
    return ledger_account


def journal_entry_post(
    *,
    cause_type: str,
    legs: list[Leg],
    account: Account | None,
    cause: models.Model | None = None,
    memo: str = "",
    effective_at: datetime | None = None,
    reverses: JournalEntry | None = None,
    trade: dict | None = None,
) -> JournalEntry:
    """Insert one balanced entry and move the cached balances of the customer accounts in it.

    Call inside the caller's transaction with the Account row already locked. Refuses an
    entry whose lines do not sum to zero or hold fractions of a cent; on PostgreSQL a
    deferred constraint trigger checks the sum again at commit.
    """
    entry, lines = journal_entry_build(
        cause_type=cause_type,
        legs=legs,
        account=account,
        cause=cause,
        memo=memo,
        effective_at=effective_at,
        reverses=reverses,
        trade=trade,
    )
    entry.save(force_insert=True)
    JournalLine.objects.bulk_create(lines)
    for line in sorted(lines, key=lambda line: line.ledger_account.pk):
        if line.ledger_account.account_id is not None:
            LedgerAccount.objects.filter(pk=line.ledger_account.pk).update(
                balance=cents_in_db(F("balance") + line.amount)
            )
    return entry


def journal_entry_build(
    *,
    cause_type: str,
    legs: list[Leg],
    account: Account | None,
    cause: models.Model | None = None,
    memo: str = "",
    effective_at: datetime | None = None,
    reverses: JournalEntry | None = None,
    trade: dict | None = None,
) -> tuple[JournalEntry, list[JournalLine]]:
    """`journal_entry_post`'s entry and lines, checked and unsaved (the lines without their zero legs); a batch of
    fills saves many together (`fills_apply_at_once`), moving the customer balances itself."""
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2:
        raise ValueError("A journal entry needs at least two non-zero lines.")
    if any(not has_at_most_cents(leg.amount) for leg in legs):
        raise ValueError("Ledger amounts are whole cents; round with speedtrade.money first.")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"Unbalanced journal entry: lines sum to {sum(leg.amount for leg in legs)}.")
    entry = JournalEntry(
        account=account,
        cause_type=cause_type,
        cause_content_type=ContentType.objects.get_for_model(cause) if cause is not None else None,
        cause_object_id=str(cause.pk) if cause is not None else "",
        reverses=reverses,
        memo=memo,
        effective_at=effective_at or timezone.now(),
        **(trade or {}),
    )
    lines = [
        JournalLine(entry=entry, ledger_account=leg.ledger_account, amount=leg.amount, settles_on=leg.settles_on)
        for leg in legs
    ]
    return entry, lines


@transaction.atomic
def journal_entry_reverse(*, entry: JournalEntry, memo: str, actor: User | None = None) -> JournalEntry:
    """Cancel an entry's effect with its mirror image (ACH return, fee refund). Fills are
    not reversed here: a busted trade also changes a position, which trading owns."""
    if entry.cause_type in (Cause.FILL, Cause.REVERSAL):
        raise DomainError(f"A {entry.cause_type} entry cannot be reversed here.", code="not_reversible")
    if entry.account is not None:
        locked_account(entry.account)
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise DomainError("This entry is already reversed.", code="already_reversed")
    lines = list(entry.lines.select_related("ledger_account"))
    cash = next((line for line in lines if line.ledger_account.kind == Kind.CASH), None)
    if cash is not None and cash.amount > 0 and not cash.ledger_account.allow_negative:
        require_spendable(cash.ledger_account, cash.amount)
    reversal = journal_entry_post(
        cause_type=Cause.REVERSAL,
        legs=[Leg(line.ledger_account, -line.amount) for line in lines],
        account=entry.account,
        memo=memo,
        reverses=entry,
    )
    audit_event_record(
        action="ledger.entry_reversed",
        actor=actor,
        target=reversal,
        subject_user=entry.account.user if entry.account is not None else None,
        before={"entry": str(entry.pk)},
        after={"memo": memo},
    )
    return reversal
