"""Deposits and withdrawals: creation, the bank rail's submit/settle/reject/return, and recovery."""

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.models import AccountRestriction, User
from portfolios import selectors
from portfolios.bank_rail import submit_to_bank_rail
from portfolios.models import Account, JournalEntry, Transfer
from portfolios.services.accounts import account_restriction_apply
from portfolios.services.common import Cause, Kind, customer_ledger_account, locked_account, publish_account_update
from portfolios.services.ledger import Leg, journal_entry_post, journal_entry_reverse, platform_ledger_account
from speedtrade.errors import Conflict, DomainError, NotPermitted, full_clean
from speedtrade.money import dollars, has_at_most_cents
from speedtrade.task_queue import task_queue_or_leave_to_sweep


def _validate_transfer_amount(amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise DomainError("Amount must be a number.", code="invalid_amount", field="amount")
    if amount <= 0:
        raise DomainError("Amount must be positive.", code="invalid_amount", field="amount")
    if not has_at_most_cents(amount):
        raise DomainError("Amount has at most two decimal places.", code="invalid_amount", field="amount")
    if amount > settings.TRANSFER_MAX_AMOUNT:
        raise DomainError(
            f"A single transfer is at most {dollars(settings.TRANSFER_MAX_AMOUNT)}.",
            code="amount_too_large",
            field="amount",
        )


@transaction.atomic
def transfer_create(
    *, account: Account, direction: str, amount: Decimal, actor: User | None = None, request=None
) -> Transfer:
    """Queue a deposit or a withdrawal. A withdrawal moves its amount into the account's
    withdrawal hold at once, so it can neither be spent nor withdrawn twice."""
    _validate_transfer_amount(amount)
    if direction not in Transfer.Direction.values:
        raise DomainError("Direction is incoming or outgoing.", code="invalid_direction", field="direction")
    account = locked_account(account)
    # API, dashboard, operator tools and any bank rail all create transfers here: the one gate.
    refusal = selectors.transfer_refusal_reason(account=account)
    if refusal:
        raise NotPermitted(
            f"Deposits and withdrawals are not possible on this account: {refusal}.",
            code="transfers_blocked",
        )
    transfer = Transfer(account=account, direction=direction, amount=amount)
    full_clean(transfer)
    if direction == Transfer.Direction.OUTGOING:
        withdrawable = selectors.withdrawable_cash(account=account)
        if amount > withdrawable:
            raise DomainError(
                f"You can withdraw at most {dollars(withdrawable)} (settled cash not held by open orders).",
                code="insufficient_withdrawable_cash",
                field="amount",
            )
        transfer.save()
        journal_entry_post(
            cause_type=Cause.WITHDRAWAL,
            legs=[
                Leg(customer_ledger_account(account, Kind.CASH), -amount),
                Leg(customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), amount),
            ],
            account=account,
            cause=transfer,
            memo="withdrawal requested: cash held",
        )
    else:
        transfer.save()
    audit_event_record(
        action="transfer.created",
        actor=actor,
        target=transfer,
        subject_user=account.user,
        after={"direction": direction, "amount": str(amount)},
        request=request,
    )
    _schedule_settlement(transfer)
    publish_account_update(account, "transfer", transfer_id=str(transfer.pk), status=transfer.status)
    return transfer


_SETTLE_TRANSFER = "portfolios.tasks.settle_transfer"


def _schedule_settlement(transfer: Transfer) -> None:
    transaction.on_commit(
        lambda: task_queue_or_leave_to_sweep(
            _SETTLE_TRANSFER, str(transfer.pk), countdown=settings.TRANSFER_SETTLEMENT_DELAY_SECONDS
        )
    )


def transfers_recover(*, now: datetime) -> int:
    """Queue settlement again for every transfer left open past its due time; returns how many.

    A transfer's one settlement message can be lost (a broker restarted without it, a worker killed
    before the redelivery): without this a deposit would stay `queued` forever. Settlement is
    idempotent under the transfer's row lock, so queueing a transfer whose message is merely late
    settles it once.
    """

    due_before = now - timedelta(
        seconds=settings.TRANSFER_SETTLEMENT_DELAY_SECONDS + settings.TRANSFER_RECOVERY_AFTER_SECONDS
    )
    stuck = Transfer.objects.filter(status__in=Transfer.OPEN_STATUSES, updated_at__lt=due_before)
    queued = 0
    for transfer_id in stuck.values_list("pk", flat=True):
        queued += task_queue_or_leave_to_sweep(_SETTLE_TRANSFER, str(transfer_id))
    return queued


def _locked_transfer(transfer_id) -> tuple[Account, Transfer]:
    account_id = Transfer.objects.values_list("account_id", flat=True).get(pk=transfer_id)
    account = Account.objects.select_for_update().get(pk=account_id)
    return account, Transfer.objects.select_for_update().get(pk=transfer_id)


def _release_withdrawal_hold(account: Account, transfer: Transfer, memo: str) -> None:
    journal_entry_post(
        cause_type=Cause.WITHDRAWAL,
        legs=[
            Leg(customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), -transfer.amount),
            Leg(customer_ledger_account(account, Kind.CASH), transfer.amount),
        ],
        account=account,
        cause=transfer,
        memo=memo,
    )


def _transfer_move(transfer: Transfer, status: str, *, actor: User | None, request=None, **changes) -> None:
    before = transfer.status
    transfer.status = status
    for field, value in changes.items():
        setattr(transfer, field, value)
    transfer.save(update_fields=["status", "updated_at", *changes])
    audit_event_record(
        action=f"transfer.{status}",
        actor=actor,
        target=transfer,
        subject_user=transfer.account.user,
        before={"status": before},
        after={"status": status, **{k: str(v) for k, v in changes.items()}},
        request=request,
    )
    publish_account_update(transfer.account, "transfer", transfer_id=str(transfer.pk), status=status)


@transaction.atomic
def transfer_cancel(*, transfer: Transfer, actor: User | None, request=None) -> Transfer:
    """Cancel a transfer the bank rail has not yet taken; a withdrawal's hold goes back to cash."""
    account, transfer = _locked_transfer(transfer.pk)
    if transfer.status != Transfer.Status.QUEUED:
        raise DomainError(
            f"Only queued transfers can be canceled; this one is {transfer.status}.", code="transfer_not_cancelable"
        )
    if transfer.direction == Transfer.Direction.OUTGOING:
        _release_withdrawal_hold(account, transfer, "withdrawal canceled: hold released")
    _transfer_move(transfer, Transfer.Status.CANCELED, actor=actor, request=request, reason="canceled by customer")
    return transfer


@transaction.atomic
def transfer_submit(*, transfer_id) -> Transfer:
    """Hand a queued transfer to the bank rail (queued → pending). Idempotent."""
    account, transfer = _locked_transfer(transfer_id)
    if transfer.status == Transfer.Status.QUEUED:
        _transfer_move(transfer, Transfer.Status.PENDING, actor=None, rail_reference=submit_to_bank_rail(transfer))
    return transfer


@transaction.atomic
def transfer_settle(*, transfer_id) -> Transfer:
    """The bank rail confirmed the money moved (pending → settled). Idempotent.

    Deposits credit cash now; withdrawals pay out of their hold.
    """
    account, transfer = _locked_transfer(transfer_id)
    if transfer.status != Transfer.Status.PENDING:
        return transfer
    bank = platform_ledger_account(Kind.BANK)
    if transfer.direction == Transfer.Direction.INCOMING:
        legs = [Leg(bank, -transfer.amount), Leg(customer_ledger_account(account, Kind.CASH), transfer.amount)]
        memo = "deposit settled"
    else:
        legs = [
            Leg(customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), -transfer.amount),
            Leg(bank, transfer.amount),
        ]
        memo = "withdrawal settled: paid out"
    cause_type = Cause.DEPOSIT if transfer.direction == Transfer.Direction.INCOMING else Cause.WITHDRAWAL
    journal_entry_post(cause_type=cause_type, legs=legs, account=account, cause=transfer, memo=memo)
    _transfer_move(transfer, Transfer.Status.SETTLED, actor=None, settled_at=timezone.now())
    return transfer


@transaction.atomic
def transfer_reject(*, transfer_id, reason: str) -> Transfer:
    """The bank rail refused the transfer (e.g. an ACH return before settlement)."""
    account, transfer = _locked_transfer(transfer_id)
    if transfer.status not in Transfer.OPEN_STATUSES:
        return transfer
    if transfer.direction == Transfer.Direction.OUTGOING:
        _release_withdrawal_hold(account, transfer, f"withdrawal rejected: {reason}"[:255])
    _transfer_move(transfer, Transfer.Status.REJECTED, actor=None, reason=reason[:255])
    return transfer


@transaction.atomic
def transfer_return(*, transfer_id, reason: str) -> Transfer:
    """The bank returned a transfer (an ACH return such as R01, insufficient funds).

    Still open: the same as a rejection. Settled: the settlement entry is reversed (a deposit
    leaves the cash, a withdrawal comes back to it) and a returned deposit blocks the
    account's transfers until compliance resolves it (lifting the restriction). If the
    deposit's cash was already spent, the account is frozen instead and the shortfall audited.
    """
    account, transfer = _locked_transfer(transfer_id)
    if transfer.status in Transfer.OPEN_STATUSES:
        return transfer_reject(transfer_id=transfer_id, reason=reason)
    if transfer.status != Transfer.Status.SETTLED:
        return transfer
    settlement = JournalEntry.objects.filter(
        cause_content_type=ContentType.objects.get_for_model(Transfer),
        cause_object_id=str(transfer.pk),
        cause_type__in=[Cause.DEPOSIT, Cause.WITHDRAWAL],
    ).latest("created_at")
    restriction_kind, restriction_reason = "transfers", f"Deposit returned ({reason}): withdrawals held until resolved."
    try:
        with transaction.atomic():
            journal_entry_reverse(entry=settlement, memo=f"transfer returned: {reason}"[:255])
            if transfer.direction == Transfer.Direction.OUTGOING:
                _release_withdrawal_hold(account, transfer, "withdrawal returned: cash back")
    except DomainError as exc:
        restriction_kind = "account"
        restriction_reason = f"Deposit of {transfer.amount} returned ({reason}) after the cash was spent: {exc.message}"
    _transfer_move(transfer, Transfer.Status.RETURNED, actor=None, reason=reason[:255])
    if transfer.direction == Transfer.Direction.INCOMING:
        # Already restricted: the earlier restriction stands until compliance lifts it.
        with contextlib.suppress(Conflict):
            account_restriction_apply(
                account=account,
                kind=restriction_kind,
                blocked=True,
                actor=None,
                reason=restriction_reason,
                customer_message=AccountRestriction.CustomerMessage.DEPOSIT_RETURNED,
            )
    return transfer


@transaction.atomic
def deposit_settled_post(*, account: Account, amount: Decimal, actor: User | None = None) -> Transfer:
    """A deposit that has already cleared (operator tooling, demo data): one settled transfer."""
    transfer = transfer_create(account=account, direction=Transfer.Direction.INCOMING, amount=amount, actor=actor)
    transfer_submit(transfer_id=transfer.pk)
    return transfer_settle(transfer_id=transfer.pk)
