"""Cash by settlement, what may be withdrawn, good faith (cash accounts), the money that came from
outside (deposits, withdrawals, adjustments), and the ledger check."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from django.db.models import Aggregate, Max, Q, Subquery, Sum

from marketdata.models import Asset
from portfolios.models import (
    Account,
    GoodFaithViolation,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    UnsettledFundsPurchase,
)
from portfolios.selectors.common import Kind, today_et
from speedtrade.money import ZERO

if TYPE_CHECKING:
    # A dev-only package (django-stubs): the annotations naming it are strings at run time.
    from django_stubs_ext import WithAnnotations


class LedgerSums(TypedDict):
    """The aggregates on a `ledger_by_kind` row: `due_*` always, the others when valuation asks for them."""

    due_total: Decimal | None  # NULL: no line settles after today
    due_last: date | None
    flows_today: NotRequired[Decimal | None]
    lines_before: NotRequired[int]
    net_contributions: NotRequired[Decimal | None]
    realized_pl: NotRequired[Decimal | None]
    pending_transfer_in: NotRequired[Decimal | None]


@dataclass(frozen=True)
class CashState:
    balance: Decimal  # customer cash (excludes withdrawal holds), settled or not
    settled: Decimal
    unsettled: Decimal  # sale proceeds before their settlement date
    reserved: Decimal  # held by open buy orders
    withdrawal_hold: Decimal  # held for withdrawals not yet paid out
    allow_negative: bool  # margin account
    unsettled_until: date | None = None  # the latest settlement date of unsettled proceeds


def ledger_by_kind(
    account: Account, today: date, **sums: Aggregate | Subquery
) -> dict[str, "WithAnnotations[LedgerAccount, LedgerSums]"]:
    """The account's ledger rows by kind, in one statement: each row carries `due_total`/`due_last`
    (lines settling after `today`) and whatever other aggregates `sums` asks for (conditional
    aggregation over the same join, so more figures cost no more round trips)."""
    due = Q(lines__settles_on__gt=today)
    rows = LedgerAccount.objects.filter(account=account).annotate(
        due_total=Sum("lines__amount", filter=due), due_last=Max("lines__settles_on", filter=due), **sums
    )
    # cast: the plugin types an annotate() only from literal keywords, and `sums` names its own.
    return {row.kind: cast("WithAnnotations[LedgerAccount, LedgerSums]", row) for row in rows}


def cash_state_from(ledger: Mapping[str, "WithAnnotations[LedgerAccount, LedgerSums]"]) -> CashState:
    cash = ledger[Kind.CASH]
    unsettled = min(max(cash.balance, ZERO), cash.due_total or ZERO)
    return CashState(
        balance=cash.balance,
        settled=cash.balance - unsettled,
        unsettled=unsettled,
        reserved=cash.reserved,
        withdrawal_hold=ledger[Kind.WITHDRAWAL_HOLD].balance,
        allow_negative=cash.allow_negative,
        unsettled_until=cash.due_last if unsettled > 0 else None,
    )


def cash_state(*, account: Account, as_of: datetime | None = None) -> CashState:
    """Cash split by settlement. Purchases are taken from settled cash first, so the
    unsettled part is what is still owed to us by the venue, capped by the balance."""
    return cash_state_from(ledger_by_kind(account, today_et(as_of)))


def withdrawable_cash(*, account: Account, as_of: datetime | None = None) -> Decimal:
    """Settled cash no open order holds. Open orders are assumed to spend settled cash
    first (the conservative reading), and borrowed money (a margin debit) is never
    withdrawable, so a negative settled balance means nothing to withdraw."""
    state = cash_state(account=account, as_of=as_of)
    return max(ZERO, state.settled - state.reserved)


@dataclass(frozen=True)
class UnsettledShares:
    """Shares of one asset that were bought with funds still unsettled on a given day."""

    qty: Decimal
    funds_settle_on: date | None


def shares_bought_with_unsettled_funds(*, account: Account, asset: Asset, on: date) -> UnsettledShares:
    """Selling more of `asset` than the account holds beyond these shares, before
    `funds_settle_on`, is a good-faith violation."""
    exposure = UnsettledFundsPurchase.objects.filter(
        account=account, asset=asset, open_qty__gt=0, funds_settle_on__gt=on
    ).aggregate(qty=Sum("open_qty"), last=Max("funds_settle_on"))
    return UnsettledShares(qty=exposure["qty"] or ZERO, funds_settle_on=exposure["last"])


def good_faith_violation_dates(*, account: Account, since: date) -> list[date]:
    """Trade dates of the account's good-faith violations after `since`, oldest first."""
    return list(
        GoodFaithViolation.objects.filter(account=account, trade_date__gt=since)
        .order_by("trade_date")
        .values_list("trade_date", flat=True)
    )


def external_flow_lines(since: datetime | None = None) -> Q:
    """A ledger row's cash lines that are money put in (+) or taken out (−) from outside: deposits,
    withdrawals (at the moment they are held), manual adjustments, and reversals of those, after
    `since`. P&L excludes them. A filter for aggregating `LedgerAccount.lines`."""
    external = JournalEntry.EXTERNAL_FLOWS
    lines = Q(kind=Kind.CASH) & (
        Q(lines__entry__cause_type__in=external) | Q(lines__entry__reverses__cause_type__in=external)
    )
    return lines & Q(lines__entry__effective_at__gt=since) if since is not None else lines


def ledger_discrepancies() -> list[str]:
    """Everything wrong with the ledger, as sentences; empty when it is sound."""
    problems = [
        f"journal entry {row['entry_id']} sums to {row['total']}"
        for row in JournalLine.objects.values("entry_id").annotate(total=Sum("amount")).exclude(total=0)
    ]
    totals = dict(
        JournalLine.objects.values("ledger_account_id")
        .annotate(total=Sum("amount"))
        .values_list("ledger_account_id", "total")
    )
    for ledger_account in LedgerAccount.objects.filter(account__isnull=False).select_related("account"):
        summed = totals.get(ledger_account.pk, ZERO)
        if ledger_account.balance != summed:
            problems.append(f"{ledger_account}: cached balance {ledger_account.balance} ≠ lines {summed}")
        if ledger_account.kind == Kind.CASH and not ledger_account.allow_negative and summed < 0:
            problems.append(f"{ledger_account}: cash account is negative ({summed})")
    grand_total = sum(totals.values(), ZERO)
    if grand_total != 0:
        problems.append(f"the whole ledger sums to {grand_total}")
    return problems
