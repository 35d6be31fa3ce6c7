"""Fills: one execution's cash, fee and position, and the good-faith record of early sales."""

from datetime import date, datetime
from decimal import Decimal
from typing import cast

from django.db import models, transaction

from accounts.audit import audit_event_record
from marketdata.calendars import ET, settlement_date
from marketdata.models import Asset
from portfolios import selectors
from portfolios.models import Account, GoodFaithViolation, JournalEntry, Position, UnsettledFundsPurchase
from portfolios.services.common import (
    Cause,
    Kind,
    customer_ledger_account,
    locked_account,
    publish_account_update,
    require_positive_qty,
    require_spendable,
)
from portfolios.services.ledger import Leg, journal_entry_post, platform_ledger_account
from portfolios.services.lots import lot_open, lots_close
from speedtrade.errors import DomainError
from speedtrade.money import ZERO, FillWorthNothing, fill_cash, has_at_most_cents, qty_up, to_cents, to_price


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
    account_locked: bool = False,
) -> Position:
    """Book one execution: cash, fee and position, in the caller's transaction.

    Trading's `execution_book` calls this after releasing the order's reservation for this fill
    (a cash account's reservation may never exceed its cash). `cause` is the execution row; one
    fill entry per cause is enforced by a unique constraint.

    `account_locked`: `account` is the row the caller locked in this transaction, and a refusal
    here fails the caller's fill as a whole (its savepoint or transaction rolls back what it
    wrote): no second lock of the account and no savepoint of its own, three round trips less per
    fill (`execution_book`). Otherwise the account is locked (and re-read) here, in a savepoint.

    Average cost: a buy adds its cash value to `cost_basis` and sets `avg_entry_price =
    cost_basis / qty`; a sell leaves `avg_entry_price` alone, removes the proportional
    share of `cost_basis` (all of it when the position closes) and realizes
    `proceeds − cost removed − fee`. Fees are realized costs when charged: a buy's fee
    lowers `realized_pl` at once and never enters the cost basis.

    Tax lots are the record for taxes: a buy opens a lot at its cash plus fee, a sell closes lots
    (those chosen for its order, then the account's lot method) for its cash less fee
    (`portfolios.services.lots`).
    """
    if side not in JournalEntry.Side.values:
        raise ValueError(f"Unknown side {side!r}.")
    require_positive_qty(qty)
    if price <= 0 or fee < 0 or not has_at_most_cents(fee):
        raise ValueError("Price must be positive and the fee whole, non-negative cents.")
    with transaction.atomic(savepoint=not account_locked):
        # Lock order: Account, then Position, then the customer's cash ledger row.
        if not account_locked:
            account = locked_account(account)
        # `of`: positions are ordered by their asset's symbol, a join: the lock must not take the asset's row too.
        position = Position.objects.select_for_update(of=("self",)).filter(account=account, asset=asset).first()
        if position is None:
            position = Position.objects.create(account=account, asset=asset)
        cash = customer_ledger_account(account, Kind.CASH, lock=True)
        venue = platform_ledger_account(Kind.VENUE_SETTLEMENT)
        try:
            value = fill_cash(qty, price, side)  # in the firm's favour; a fill worth nothing is refused
        except FillWorthNothing as worthless:
            raise DomainError(str(worthless), code="fill_worth_nothing", field="qty") from None
        trade = {"asset": asset, "side": side, "qty": qty, "price": price}
        order_ref = str(getattr(cause, "order_id", "") or "")
        trade_date = executed_at.astimezone(ET).date()
        # Good faith applies to cash accounts' stock trades; crypto settles at once.
        good_faith_tracked = account.type == Account.Type.CASH and not asset.is_crypto
        unsettled_used = ZERO

        if side == JournalEntry.Side.BUY:
            if not cash.allow_negative:
                require_spendable(cash, value + fee)
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
                    account=account, asset=asset, qty=qty, held=position.qty, trade_date=trade_date, order_ref=order_ref
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
        if side == JournalEntry.Side.BUY:
            lot_open(account=account, asset=asset, entry=entry, qty=qty, cost=value + fee, acquired_at=executed_at)
        else:
            lots_close(
                account=account,
                asset=asset,
                entry=entry,
                qty=qty,
                net_proceeds=value - fee,
                sold_at=executed_at,
                order_ref=order_ref,
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
                # cast: unsettled funds were used, so there are unsettled proceeds and their date is set.
                funds_settle_on=cast(date, funds.unsettled_until),
            )
        cash_moved = sum((leg.amount for leg in legs if leg.ledger_account is cash), ZERO) - fee
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
        publish_account_update(
            account,
            "fill",
            cash_balance=cash.balance + cash_moved,  # as the entries left it: no second read of the row
            symbol=asset.symbol,
            side=side,
            qty=str(qty),
            price=str(price),
            position_qty=str(position.qty),
        )
    return position


def _sale_before_settlement_record(
    *, account: Account, asset: Asset, qty: Decimal, held: Decimal, trade_date: date, order_ref: str
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
