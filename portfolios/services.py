"""Portfolio writes: the only code that moves money or shares.

Lock order, everywhere: the customer's `Account` row first (`select_for_update`), then
the `Position` row, then the customer's own `LedgerAccount` rows (ascending id). Every
path that changes an account's money takes the Account lock first, so two paths on one
account serialise instead of deadlocking. Platform ledger accounts are never locked or
updated (their balances are summed from lines), so fills on different accounts never
wait for each other.
"""

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.audit import audit_event_record
from accounts.models import AccountRestriction, User
from marketdata import selectors as marketdata_selectors
from marketdata.calendars import ET, EquitySession, equity_session, equity_sessions, settlement_date
from marketdata.models import Asset
from portfolios import selectors
from portfolios.bank_rail import submit_to_bank_rail
from portfolios.models import (
    Account,
    CashAdjustment,
    EquitySnapshot,
    GoodFaithViolation,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Position,
    Transfer,
    UnsettledFundsPurchase,
    Watchlist,
    WatchlistEntry,
)
from portfolios.pricing import prices_for, session_close_prices_for
from speedtrade.errors import Conflict, DomainError, NotFound, NotPermitted, full_clean
from speedtrade.money import (
    ZERO,
    FillWorthNothing,
    cents_in_db,
    dollars,
    fill_cash,
    has_at_most_cents,
    qty_in_db,
    qty_up,
    to_cents,
    to_price,
    to_qty,
)
from speedtrade.realtime import publish_to_user
from speedtrade.task_queue import task_queue_or_leave_to_sweep

Kind = LedgerAccount.Kind
Cause = JournalEntry.Cause


# --- Accounts -------------------------------------------------------------------------


@transaction.atomic
def account_open(*, user: User, account_type: str = Account.Type.CASH) -> Account:
    account = Account(user=user, type=account_type)
    full_clean(account)
    account.save()
    LedgerAccount.objects.bulk_create(
        [
            LedgerAccount(account=account, kind=Kind.CASH, allow_negative=account_type == Account.Type.MARGIN),
            LedgerAccount(account=account, kind=Kind.WITHDRAWAL_HOLD),
        ]
    )
    audit_event_record(
        action="account.opened", actor=None, target=account, subject_user=user, after={"type": account_type}
    )
    return account


def _locked_account(account: Account) -> Account:
    return Account.objects.select_for_update().get(pk=account.pk)


# --- Status and restrictions (accounts' KYC and compliance actions call these) -------------


def accounts_activate(*, user: User, actor: User | None, request=None) -> list[Account]:
    """KYC approved: the user's onboarding accounts become active (and so may trade). Runs in the
    approval's transaction, which has locked the application (application, then accounts)."""
    activated = []
    for account in Account.objects.select_for_update().filter(user_id=user.pk, status=Account.Status.ONBOARDING):
        account.status = Account.Status.ACTIVE
        account.save(update_fields=["status"])
        audit_event_record(
            action="account.activated",
            actor=actor,
            target=account,
            subject_user=user,
            before={"status": Account.Status.ONBOARDING},
            after={"status": Account.Status.ACTIVE},
            request=request,
        )
        activated.append(account)
    return activated


@transaction.atomic
def account_restriction_apply(
    *,
    account: Account,
    kind: str,
    blocked: bool,
    actor: User | None,
    reason: str,
    customer_message: str = "",
    request=None,
) -> AccountRestriction:
    """Block or unblock trading, transfers or the whole account (`kind`, an `AccountRestriction.Kind`).

    Writes the `Account` flag (what enforcement reads) and an `AccountRestriction` row (the
    reason and its history), cancels open orders when trading stops, and audits it with the
    actor (None: the system, e.g. a returned deposit). Locks the account row. Who may do it
    is checked by the caller (`accounts.services.account_restriction_set` for staff).
    """
    account = Account.objects.select_for_update().select_related("user").get(pk=account.pk)
    flag = AccountRestriction.ACCOUNT_FLAG[kind]
    active = AccountRestriction.objects.filter(account=account, kind=kind, lifted_at__isnull=True).first()
    label = AccountRestriction.Kind(kind).label.lower()
    if blocked and (active or getattr(account, flag)):
        raise Conflict(f"Already in place: {label}.", code="restriction_exists")
    if not blocked and not (active or getattr(account, flag)):
        raise Conflict(f"Not in place: {label}.", code="restriction_missing")
    before = {flag: getattr(account, flag)}
    if blocked:
        restriction = AccountRestriction.objects.create(
            account=account, kind=kind, reason=reason, customer_message=customer_message, created_by=actor
        )
    else:
        restriction = active
        if restriction is not None:
            restriction.lifted_at = timezone.now()
            restriction.lifted_by = actor
            restriction.lift_reason = reason
            restriction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    setattr(account, flag, blocked)
    account.save(update_fields=[flag])
    canceled = []
    if blocked and kind in (AccountRestriction.Kind.TRADING, AccountRestriction.Kind.ACCOUNT):
        # No order keeps working on a frozen account or one blocked from trading. Orders are
        # trading's, which builds on this app: it is named in settings, not imported.
        orders_cancel = import_string(settings.ACCOUNT_RESTRICTED_ORDERS_CANCEL)
        canceled = [str(order.pk) for order in orders_cancel(account=account)]
    verb = {AccountRestriction.Kind.ACCOUNT: ("frozen", "unfrozen")}.get(kind, (f"{kind}_blocked", f"{kind}_unblocked"))
    audit_event_record(
        action=f"account.{verb[0] if blocked else verb[1]}",
        actor=actor,
        target=account,
        subject_user=account.user,
        before=before,
        after={
            flag: blocked,
            "reason": reason,
            **({"customer_message": customer_message, "orders_canceled": canceled} if blocked else {}),
        },
        request=request,
    )
    return restriction


# --- Posting --------------------------------------------------------------------------


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
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2:
        raise ValueError("A journal entry needs at least two non-zero lines.")
    if any(not has_at_most_cents(leg.amount) for leg in legs):
        raise ValueError("Ledger amounts are whole cents; round with speedtrade.money first.")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"Unbalanced journal entry: lines sum to {sum(leg.amount for leg in legs)}.")
    entry = JournalEntry.objects.create(
        account=account,
        cause_type=cause_type,
        cause_content_type=ContentType.objects.get_for_model(cause) if cause is not None else None,
        cause_object_id=str(cause.pk) if cause is not None else "",
        reverses=reverses,
        memo=memo,
        effective_at=effective_at or timezone.now(),
        **(trade or {}),
    )
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry=entry, ledger_account=leg.ledger_account, amount=leg.amount, settles_on=leg.settles_on)
            for leg in legs
        ]
    )
    for leg in sorted(legs, key=lambda leg: leg.ledger_account.pk):
        if leg.ledger_account.account_id is not None:
            LedgerAccount.objects.filter(pk=leg.ledger_account.pk).update(
                balance=cents_in_db(F("balance") + leg.amount)
            )
    return entry


@transaction.atomic
def journal_entry_reverse(*, entry: JournalEntry, memo: str, actor: User | None = None) -> JournalEntry:
    """Cancel an entry's effect with its mirror image (ACH return, fee refund). Fills are
    not reversed here: a busted trade also changes a position, which trading owns."""
    if entry.cause_type in (Cause.FILL, Cause.REVERSAL):
        raise DomainError(f"A {entry.cause_type} entry cannot be reversed here.", code="not_reversible")
    if entry.account_id:
        _locked_account(entry.account)
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise DomainError("This entry is already reversed.", code="already_reversed")
    lines = list(entry.lines.select_related("ledger_account"))
    cash = next((line for line in lines if line.ledger_account.kind == Kind.CASH), None)
    if cash is not None and cash.amount > 0 and not cash.ledger_account.allow_negative:
        _require_spendable(cash.ledger_account, cash.amount)
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
        subject_user=entry.account.user if entry.account_id else None,
        before={"entry": str(entry.pk)},
        after={"memo": memo},
    )
    return reversal


def _customer_ledger_account(account: Account, kind: str, *, lock: bool = False) -> LedgerAccount:
    queryset = LedgerAccount.objects.select_for_update() if lock else LedgerAccount.objects
    return queryset.get(account=account, kind=kind)


def _require_spendable(cash: LedgerAccount, amount: Decimal) -> None:
    cash.refresh_from_db(fields=["balance", "reserved"])
    if cash.balance - cash.reserved < amount:
        raise DomainError(
            f"Not enough cash: {cash.balance - cash.reserved} available, {amount} needed.",
            code="insufficient_cash",
            field="amount",
        )


def _publish_account_update(account: Account, event: str, **details) -> None:
    """Tell the owner's sockets something changed; clients refetch `/account` for figures."""
    cash = _customer_ledger_account(account, Kind.CASH)
    publish_to_user(
        account.user_id,
        "account_updates",
        {"event": event, "account_id": str(account.pk), "cash": str(cash.balance), **details},
    )


# --- Buying-power reservations (called by trading with the Account row locked) ----------
#
# Counters on one row instead of journal entries: reserving is part of order entry (target
# 1,000 orders/s) and moves no money, so it is one conditional UPDATE. The per-order
# amounts live on trading's order rows; `verify_ledger` compares their sum with these.


def cash_reserve(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Hold `amount` of buying power for an open buy order. A cash account can never hold
    more than its cash (checked in the same UPDATE); margin checks are trading's."""
    _require_positive_cents(amount)
    rows = (
        LedgerAccount.objects.filter(account=account, kind=Kind.CASH)
        .filter(models.Q(allow_negative=True) | models.Q(balance__gte=cents_in_db(F("reserved") + amount)))
        .update(reserved=cents_in_db(F("reserved") + amount))
    )
    if rows != 1:
        raise DomainError(f"Insufficient buying power for order {order_ref}.", code="insufficient_buying_power")


def cash_release(*, account: Account, amount: Decimal, order_ref: str) -> None:
    """Give back buying power an order no longer needs (fill, cancel, rejection)."""
    _require_positive_cents(amount)
    rows = LedgerAccount.objects.filter(account=account, kind=Kind.CASH, reserved__gte=amount).update(
        reserved=cents_in_db(F("reserved") - amount)
    )
    if rows != 1:
        raise ValueError(f"Order {order_ref} releases {amount}, more than the account has reserved.")


def position_reserve(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    """Hold shares for an open sell order, so two orders cannot sell the same share."""
    _require_positive_qty(qty)
    rows = Position.objects.filter(account=account, asset=asset, qty__gte=qty_in_db(F("reserved_qty") + qty)).update(
        reserved_qty=qty_in_db(F("reserved_qty") + qty)
    )
    if rows != 1:
        raise DomainError(
            f"Order {order_ref} sells more {asset.symbol} than is held and not already on sale.",
            code="insufficient_qty",
            field="qty",
        )


def position_release(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    _require_positive_qty(qty)
    rows = Position.objects.filter(account=account, asset=asset, reserved_qty__gte=qty).update(
        reserved_qty=qty_in_db(F("reserved_qty") - qty)
    )
    if rows != 1:
        raise ValueError(f"Order {order_ref} releases {qty} {asset.symbol}, more than is reserved.")


def _require_positive_cents(amount: Decimal) -> None:
    if amount <= 0 or not has_at_most_cents(amount):
        raise ValueError(f"Reservation amounts are positive whole cents, not {amount}.")


def _require_positive_qty(qty: Decimal) -> None:
    if qty <= 0 or to_qty(qty) != qty:
        raise ValueError(f"Quantities are positive with at most 9 decimals, not {qty}.")


# --- Fills ----------------------------------------------------------------------------


def fill_apply(
    *,
    account: Account,
    asset: Asset,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    executed_at: datetime,
    cause: models.Model | None,
) -> Position:
    """Book one execution: cash, fee and position, in the caller's transaction.

    Trading's `apply_execution` calls this after releasing the order's reservation for
    this fill (a cash account's reservation may never exceed its cash). `cause` is the
    execution row; one fill entry per cause is enforced by a unique constraint.

    Average cost: a buy adds its cash value to `cost_basis` and sets `avg_entry_price =
    cost_basis / qty`; a sell leaves `avg_entry_price` alone, removes the proportional
    share of `cost_basis` (all of it when the position closes) and realizes
    `proceeds − cost removed − fee`. Fees are realized costs when charged: a buy's fee
    lowers `realized_pl` at once and never enters the cost basis.
    """
    if side not in JournalEntry.Side.values:
        raise ValueError(f"Unknown side {side!r}.")
    _require_positive_qty(qty)
    if price <= 0 or fee < 0 or not has_at_most_cents(fee):
        raise ValueError("Price must be positive and the fee whole, non-negative cents.")
    with transaction.atomic():
        # Lock order: Account, then Position, then the customer's cash ledger row.
        account = _locked_account(account)
        position = Position.objects.select_for_update().filter(account=account, asset=asset).first()
        if position is None:
            position = Position.objects.create(account=account, asset=asset)
        cash = _customer_ledger_account(account, Kind.CASH, lock=True)
        venue = platform_ledger_account(Kind.VENUE_SETTLEMENT)
        try:
            value = fill_cash(qty, price, side)  # in the firm's favour; a fill worth nothing is refused
        except FillWorthNothing as worthless:
            raise DomainError(str(worthless), code="fill_worth_nothing", field="qty") from None
        trade = {"asset": asset, "side": side, "qty": qty, "price": price}
        trade_date = executed_at.astimezone(ET).date()
        # Good faith applies to cash accounts' stock trades; crypto settles at once.
        good_faith_tracked = account.type == Account.Type.CASH and not asset.is_crypto
        unsettled_used = ZERO

        if side == JournalEntry.Side.BUY:
            if not cash.allow_negative:
                _require_spendable(cash, value + fee)
            if good_faith_tracked:
                funds = selectors.cash_state(account=account, as_of=executed_at)
                unsettled_used = min(max(ZERO, value - max(funds.settled, ZERO)), funds.unsettled)
            legs = [Leg(cash, -value), Leg(venue, value)]
            if position.qty == 0:
                position.opened_at, position.closed_at = executed_at, None
            position.qty += qty
            position.cost_basis += value
            position.avg_entry_price = to_price(position.cost_basis / position.qty)
            position.realized_pl -= fee
        else:
            if qty > position.qty - position.reserved_qty:
                raise DomainError(
                    f"Cannot sell {qty} {asset.symbol}: {position.qty - position.reserved_qty} unreserved held.",
                    code="insufficient_qty",
                    field="qty",
                )
            if good_faith_tracked:
                _sale_before_settlement_record(
                    account=account, asset=asset, qty=qty, held=position.qty, trade_date=trade_date, cause=cause
                )
            settles_on = settlement_date(asset.asset_class, trade_date)
            legs = [Leg(venue, -value), Leg(cash, value, settles_on if settles_on > trade_date else None)]
            closing = qty == position.qty
            cost_removed = position.cost_basis if closing else to_cents(position.cost_basis * qty / position.qty)
            position.qty -= qty
            position.cost_basis -= cost_removed
            position.realized_pl += value - cost_removed - fee
            if closing:
                position.closed_at = executed_at

        entry = journal_entry_post(
            cause_type=Cause.FILL, legs=legs, account=account, cause=cause, effective_at=executed_at, trade=trade
        )
        if unsettled_used:
            # The shares those funds paid for, pro rata, rounded up: selling them early is the violation.
            at_risk = qty_up(qty * unsettled_used / value)
            UnsettledFundsPurchase.objects.create(
                account=account,
                asset=asset,
                entry=entry,
                unsettled_amount=unsettled_used,
                qty=min(at_risk, qty),
                open_qty=min(at_risk, qty),
                funds_settle_on=funds.unsettled_until,
            )
        if fee:
            journal_entry_post(
                cause_type=Cause.FEE,
                legs=[Leg(cash, -fee), Leg(platform_ledger_account(Kind.FEES), fee)],
                account=account,
                cause=cause,
                memo=f"{side} {qty} {asset.symbol}",
                effective_at=executed_at,
            )
        # Field checks here (digits, places: PostgreSQL would round silently); the table's CHECK
        # constraints hold the rest at the UPDATE, without a savepoint and SELECT per constraint.
        position.full_clean(exclude=["account", "asset"], validate_constraints=False)
        position.save()
        _publish_account_update(
            account,
            "fill",
            symbol=asset.symbol,
            side=side,
            qty=str(qty),
            price=str(price),
            position_qty=str(position.qty),
        )
    return position


def _sale_before_settlement_record(
    *, account: Account, asset: Asset, qty: Decimal, held: Decimal, trade_date: date, cause: models.Model | None
) -> GoodFaithViolation | None:
    """Record a good-faith violation when a sale reaches shares bought with funds not yet settled.

    A sale takes fully paid shares first (`held` minus the shares still at risk), then the
    at-risk purchases whose funds settle soonest. One violation per sale order: partial
    fills of the same order add to it. Call with the Account row locked.
    """
    purchases = list(
        UnsettledFundsPurchase.objects.select_for_update().filter(
            account=account, asset=asset, open_qty__gt=0, funds_settle_on__gt=trade_date
        )
    )
    at_risk = sum((purchase.open_qty for purchase in purchases), ZERO)
    violating = qty - max(ZERO, held - at_risk)
    if violating <= 0:
        return None
    remaining, funds_settle_on = violating, trade_date
    for purchase in purchases:
        taken = min(purchase.open_qty, remaining)
        purchase.open_qty -= taken
        purchase.save(update_fields=["open_qty"])
        funds_settle_on = max(funds_settle_on, purchase.funds_settle_on)
        remaining -= taken
        if not remaining:
            break
    order_ref = str(getattr(cause, "order_id", "") or "")
    violation = GoodFaithViolation.objects.filter(account=account, order_ref=order_ref).first() if order_ref else None
    if violation is None:
        violation = GoodFaithViolation.objects.create(
            account=account,
            asset=asset,
            order_ref=order_ref,
            qty=violating,
            trade_date=trade_date,
            funds_settle_on=funds_settle_on,
        )
    else:
        violation.qty += violating
        violation.funds_settle_on = max(violation.funds_settle_on, funds_settle_on)
        violation.save(update_fields=["qty", "funds_settle_on"])
    audit_event_record(
        action="good_faith.violation",
        actor=None,
        target=violation,
        subject_user=account.user,
        after={"symbol": asset.symbol, "qty": str(violating), "funds_settle_on": str(funds_settle_on)},
    )
    return violation


# --- Transfers ------------------------------------------------------------------------


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
    account = _locked_account(account)
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
                Leg(_customer_ledger_account(account, Kind.CASH), -amount),
                Leg(_customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), amount),
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
    _publish_account_update(account, "transfer", transfer_id=str(transfer.pk), status=transfer.status)
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
            Leg(_customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), -transfer.amount),
            Leg(_customer_ledger_account(account, Kind.CASH), transfer.amount),
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
    _publish_account_update(transfer.account, "transfer", transfer_id=str(transfer.pk), status=status)


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
        legs = [Leg(bank, -transfer.amount), Leg(_customer_ledger_account(account, Kind.CASH), transfer.amount)]
        memo = "deposit settled"
    else:
        legs = [
            Leg(_customer_ledger_account(account, Kind.WITHDRAWAL_HOLD), -transfer.amount),
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


# --- Manual cash adjustments (four eyes) ----------------------------------------------


def _require_permission(user: User, codename: str) -> None:
    if not user.has_perm(f"portfolios.{codename}"):
        raise NotPermitted("You may not do this.", code="permission_denied")


def _require_not_own_account(user: User, account: Account) -> None:
    """Staff never propose or decide adjustments of their own brokerage account."""
    if account.user_id == user.pk:
        raise NotPermitted(
            "This is your own account: another Compliance officer must propose or decide its adjustments.",
            code="own_record",
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
    account = _locked_account(adjustment.account)
    _require_not_own_account(decided_by, account)
    adjustment = CashAdjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != CashAdjustment.Status.PROPOSED:
        raise DomainError(f"This adjustment is already {adjustment.status}.", code="already_decided")
    if adjustment.proposed_by_id == decided_by.pk:
        raise DomainError(
            "A different person must decide on an adjustment than the one who proposed it.", code="four_eyes"
        )
    return account, adjustment


@transaction.atomic
def cash_adjustment_approve(*, adjustment: CashAdjustment, approved_by: User, request=None) -> CashAdjustment:
    """Second person approves: post adjustments ↔ customer cash."""
    account, adjustment = _locked_proposal(adjustment, approved_by)
    cash = _customer_ledger_account(account, Kind.CASH)
    if adjustment.amount < 0 and not cash.allow_negative:
        _require_spendable(cash, -adjustment.amount)
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
    _publish_account_update(account, "adjustment")
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


# --- Equity snapshots (portfolio history, `last_equity`) ---------------------------------


def _snapshot_rows(
    accounts: list[Account], at: datetime, *, session: EquitySession | None = None, **extra
) -> list[EquitySnapshot]:
    held = selectors.assets_held(accounts)
    prices, previous_closes = prices_for(held) if session is None else session_close_prices_for(held, session=session)
    rows = []
    for account in accounts:
        valuation = selectors.account_valuation(
            account=account, prices=prices, previous_closes=previous_closes, as_of=at
        )
        rows.append(
            EquitySnapshot(
                account=account,
                timestamp=at,
                equity=valuation.equity,
                cash=valuation.cash,
                long_market_value=valuation.long_market_value,
                net_contributions=valuation.net_contributions,
                profit_loss=valuation.total_pl,
                **extra,
            )
        )
    return rows


def _open_accounts():
    return Account.objects.exclude(status=Account.Status.CLOSED)


@transaction.atomic
def equity_snapshots_take(*, at: datetime) -> int:
    """One intraday snapshot per open account at `at`; an account that already has one there is skipped."""
    done = EquitySnapshot.objects.filter(kind=EquitySnapshot.Kind.INTRADAY, timestamp=at)
    accounts = list(_open_accounts().exclude(pk__in=done.values("account_id")))
    rows = _snapshot_rows(accounts, at, kind=EquitySnapshot.Kind.INTRADAY)
    # ignore_conflicts: a concurrent run (a second beat's task) may have written some meanwhile.
    return len(EquitySnapshot.objects.bulk_create(rows, ignore_conflicts=True))


def snapshot_slot(at: datetime) -> datetime:
    """The start of the EQUITY_SNAPSHOT_INTERVAL_SECONDS interval holding `at`: every run in it shares one timestamp."""
    interval = max(settings.EQUITY_SNAPSHOT_INTERVAL_SECONDS, 1)
    return datetime.fromtimestamp(int(at.timestamp()) // interval * interval, tz=at.tzinfo)


@transaction.atomic
def session_close_snapshots_take(*, at: datetime) -> int:
    """After today's session has closed, one close snapshot per account that lacks one."""
    session = equity_session(at.astimezone(ET).date())
    if session is None or at < session.close:
        return 0
    done = EquitySnapshot.objects.filter(kind=EquitySnapshot.Kind.SESSION_CLOSE, session_date=session.date)
    accounts = list(_open_accounts().exclude(pk__in=done.values("account_id")))
    rows = _snapshot_rows(
        accounts, at, session=session, kind=EquitySnapshot.Kind.SESSION_CLOSE, session_date=session.date
    )
    return len(EquitySnapshot.objects.bulk_create(rows, ignore_conflicts=True))


DEMO_HISTORY_STEP = timedelta(minutes=15)


@transaction.atomic
def equity_history_backfill(*, account: Account, days: int, now: datetime) -> int:
    """Demo history for an account that has none: what its present holdings were worth over the
    last `days` (every 15 minutes, and at each session's close), from the stored bars.

    Only for the demo (`seed_demo`): the account did not exist then, so this is an illustration
    of its holdings' moves, never a record. Returns how many snapshots were written.
    """
    if EquitySnapshot.objects.filter(account=account).exists():
        return 0
    inputs = selectors.valuation_inputs(account=account, as_of=now)
    cash, contributions, positions = inputs.cash.balance, inputs.net_contributions, inputs.held
    start = snapshot_slot(now - timedelta(days=days))

    def snapshot(at: datetime, **extra) -> EquitySnapshot:
        prices = marketdata_selectors.prices_at([p.asset for p in positions], at) if positions else {}
        long_value = sum((to_cents(p.qty * prices[p.asset_id]) for p in positions), ZERO)
        equity = cash + long_value
        return EquitySnapshot(
            account=account,
            timestamp=at,
            equity=equity,
            cash=cash,
            long_market_value=long_value,
            net_contributions=contributions,
            profit_loss=equity - contributions,
            **extra,
        )

    rows = [
        snapshot(start + step * DEMO_HISTORY_STEP, kind=EquitySnapshot.Kind.INTRADAY)
        for step in range(int((now - start) / DEMO_HISTORY_STEP))
    ]
    rows += [
        snapshot(session.close, kind=EquitySnapshot.Kind.SESSION_CLOSE, session_date=session.date)
        for session in equity_sessions(start.astimezone(ET).date(), now.astimezone(ET).date())
        if session.close <= now
    ]
    return len(EquitySnapshot.objects.bulk_create(rows))


# --- Watchlists ------------------------------------------------------------------------
# Each write locks the watchlist row: concurrent edits of one list apply one after the other.


def _watchlist_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError("A watchlist name has 1 to 64 characters.", code="invalid_name", field="name")
    return name


def _watchlist_assets(symbols) -> list[Asset]:
    """The assets named, in order, each once; unknown symbols refuse the whole request."""
    found, unknown = marketdata_selectors.assets_by_symbols(symbols)
    if unknown:
        raise DomainError(f"Unknown symbol(s): {', '.join(unknown)}.", code="asset_not_found", field="symbols")
    return list({asset.pk: asset for asset in found.values()}.values())


def _watchlist_require_unique_name(account: Account, name: str, *, exclude=None) -> None:
    others = Watchlist.objects.filter(account=account, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise DomainError(f"You already have a watchlist named {name!r}.", code="watchlist_name_taken", field="name")


def _locked_watchlist(watchlist: Watchlist) -> Watchlist:
    return Watchlist.objects.select_for_update().get(pk=watchlist.pk)


def _watchlist_entries_write(watchlist: Watchlist, assets: list[Asset]) -> None:
    WatchlistEntry.objects.filter(watchlist=watchlist).delete()
    WatchlistEntry.objects.bulk_create(
        WatchlistEntry(watchlist=watchlist, asset=asset, position=index) for index, asset in enumerate(assets)
    )


@transaction.atomic
def watchlist_create(*, account: Account, name: str, symbols=()) -> Watchlist:
    name = _watchlist_name(name)
    assets = _watchlist_assets(symbols)
    # The account lock serialises creations, so two lists of one name cannot both pass the check.
    _locked_account(account)
    _watchlist_require_unique_name(account, name)
    watchlist = Watchlist.objects.create(account=account, name=name)
    _watchlist_entries_write(watchlist, assets)
    return watchlist


@transaction.atomic
def watchlist_rename(*, watchlist: Watchlist, name: str) -> Watchlist:
    name = _watchlist_name(name)
    _locked_account(watchlist.account)
    watchlist = _locked_watchlist(watchlist)
    _watchlist_require_unique_name(watchlist.account, name, exclude=watchlist)
    watchlist.name = name
    watchlist.save(update_fields=["name", "updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbols_set(*, watchlist: Watchlist, symbols) -> Watchlist:
    """Replace the list's assets with these, in this order."""
    assets = _watchlist_assets(symbols)
    watchlist = _locked_watchlist(watchlist)
    _watchlist_entries_write(watchlist, assets)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbol_add(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    """Append one asset at the end of the list."""
    (asset,) = _watchlist_assets([symbol])
    watchlist = _locked_watchlist(watchlist)
    entries = WatchlistEntry.objects.filter(watchlist=watchlist)
    if entries.filter(asset=asset).exists():
        raise DomainError(
            f"{asset.symbol} is already in {watchlist.name!r}.", code="symbol_already_in_watchlist", field="symbol"
        )
    last = entries.aggregate(last=models.Max("position"))["last"]
    WatchlistEntry.objects.create(watchlist=watchlist, asset=asset, position=0 if last is None else last + 1)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_symbol_remove(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    watchlist = _locked_watchlist(watchlist)
    found, _ = marketdata_selectors.assets_by_symbols([symbol])
    asset = found.get(symbol.strip())
    deleted = 0
    if asset is not None:
        deleted, _ = WatchlistEntry.objects.filter(watchlist=watchlist, asset=asset).delete()
    if not deleted:
        raise NotFound(f"{symbol} is not in {watchlist.name!r}.", code="symbol_not_in_watchlist", field="symbol")
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic
def watchlist_delete(*, watchlist: Watchlist) -> None:
    _locked_watchlist(watchlist).delete()


@transaction.atomic
def watchlist_update(*, watchlist: Watchlist, name: str | None = None, symbols=None) -> Watchlist:
    """Rename and/or replace the assets, all or nothing (Alpaca's PUT)."""
    if name is not None:
        watchlist = watchlist_rename(watchlist=watchlist, name=name)
    if symbols is not None:
        watchlist = watchlist_symbols_set(watchlist=watchlist, symbols=symbols)
    return watchlist
