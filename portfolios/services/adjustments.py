"""Manual cash adjustments: proposed by one person, decided by another (four eyes)."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.models import User
from portfolios.models import Account, CashAdjustment
from portfolios.services.common import (
    Cause,
    Kind,
    customer_ledger_account,
    locked_account,
    publish_account_update,
    require_spendable,
)
from portfolios.services.ledger import Leg, journal_entry_post, platform_ledger_account
from speedtrade.errors import DomainError, full_clean
from speedtrade.four_eyes import require_not_own_record, require_permission, require_second_person
from speedtrade.money import has_at_most_cents


def _require_permission(user: User, codename: str) -> None:
    require_permission(user, f"portfolios.{codename}")


def _require_not_own_account(user: User, account: Account) -> None:
    """Staff never propose or decide adjustments of their own brokerage account."""
    require_not_own_record(
        user,
        owner_id=account.user_id,
        message="This is your own account: another Compliance officer must propose or decide its adjustments.",
    )


@transaction.atomic
def cash_adjustment_propose(
    *, account: Account, amount: Decimal, reason: str, proposed_by: User, request=None
) -> CashAdjustment:
    _require_permission(proposed_by, "add_cashadjustment")
    _require_not_own_account(proposed_by, account)
    if amount == 0 or not has_at_most_cents(amount):
        raise DomainError("Amount is non-zero whole cents.", code="invalid_amount", field="amount")
    if not reason.strip():
        raise DomainError("A reason is required.", code="reason_required", field="reason")
    adjustment = CashAdjustment(account=account, amount=amount, reason=reason.strip(), proposed_by=proposed_by)
    full_clean(adjustment)
    adjustment.save()
    audit_event_record(
        action="cash_adjustment.proposed",
        actor=proposed_by,
        target=adjustment,
        subject_user=account.user,
        after={"amount": str(amount), "reason": adjustment.reason},
        request=request,
    )
    return adjustment


def _locked_proposal(adjustment: CashAdjustment, decided_by: User) -> tuple[Account, CashAdjustment]:
    _require_permission(decided_by, "approve_cashadjustment")
    account = locked_account(adjustment.account)
    _require_not_own_account(decided_by, account)
    adjustment = CashAdjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != CashAdjustment.Status.PROPOSED:
        raise DomainError(f"This adjustment is already {adjustment.status}.", code="already_decided")
    require_second_person(
        proposed_by_id=adjustment.proposed_by_id,
        decided_by=decided_by,
        message="A different person must decide on an adjustment than the one who proposed it.",
    )
    return account, adjustment


@transaction.atomic
def cash_adjustment_approve(*, adjustment: CashAdjustment, approved_by: User, request=None) -> CashAdjustment:
    """Second person approves: post adjustments ↔ customer cash."""
    account, adjustment = _locked_proposal(adjustment, approved_by)
    cash = customer_ledger_account(account, Kind.CASH)
    if adjustment.amount < 0 and not cash.allow_negative:
        require_spendable(cash, -adjustment.amount)
    adjustment.journal_entry = journal_entry_post(
        cause_type=Cause.ADJUSTMENT,
        legs=[Leg(cash, adjustment.amount), Leg(platform_ledger_account(Kind.ADJUSTMENTS), -adjustment.amount)],
        account=account,
        cause=adjustment,
        memo=adjustment.reason[:255],
    )
    adjustment.status = CashAdjustment.Status.APPROVED
    adjustment.decided_by, adjustment.decided_at = approved_by, timezone.now()
    adjustment.save(update_fields=["journal_entry", "status", "decided_by", "decided_at"])
    audit_event_record(
        action="cash_adjustment.approved",
        actor=approved_by,
        target=adjustment,
        subject_user=account.user,
        before={"status": CashAdjustment.Status.PROPOSED},
        after={
            "status": adjustment.status,
            "amount": str(adjustment.amount),
            "entry": str(adjustment.journal_entry_id),
        },
        request=request,
    )
    publish_account_update(account, "adjustment")
    return adjustment


@transaction.atomic
def cash_adjustment_reject(*, adjustment: CashAdjustment, rejected_by: User, request=None) -> CashAdjustment:
    account, adjustment = _locked_proposal(adjustment, rejected_by)
    adjustment.status = CashAdjustment.Status.REJECTED
    adjustment.decided_by, adjustment.decided_at = rejected_by, timezone.now()
    adjustment.save(update_fields=["status", "decided_by", "decided_at"])
    audit_event_record(
        action="cash_adjustment.rejected",
        actor=rejected_by,
        target=adjustment,
        subject_user=account.user,
        before={"status": CashAdjustment.Status.PROPOSED},
        after={"status": adjustment.status},
        request=request,
    )
    return adjustment
