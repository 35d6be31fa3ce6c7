"""Fills: one execution's cash, fee and position, and the good-faith record of early sales."""

import functools
import operator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from django.core.exceptions import ValidationError
from django.db import models, transaction

from accounts.audit import audit_event_record
from marketdata.calendars import ET, settlement_date
from marketdata.models import Asset
from portfolios import selectors
from portfolios.models import (
    Account,
    GoodFaithViolation,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LotClosing,
    LotSelection,
    Position,
    TaxLot,
    UnsettledFundsPurchase,
)
from portfolios.services.common import (
    Cause,
    Kind,
    customer_ledger_account,
    locked_account,
    publish_account_update,
    require_positive_qty,
    require_spendable,
)
from portfolios.services.ledger import Leg, journal_entry_build, journal_entry_post, platform_ledger_account
from portfolios.services.lots import (
    lot_build,
    lot_closings_build,
    lot_open,
    lots_chosen,
    lots_close,
    wash_sale_window,
)
from speedtrade.db import rows_update
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
    _fill_check(side=side, qty=qty, price=price, fee=fee)
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
        value = _fill_value(qty=qty, price=price, side=side)
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
        held = position.qty
        position_fill(position, asset=asset, side=side, qty=qty, value=value, fee=fee, executed_at=executed_at)
        if side == JournalEntry.Side.SELL and good_faith_tracked:
            _sale_before_settlement_record(
                account=account, asset=asset, qty=qty, held=held, trade_date=trade_date, order_ref=order_ref
            )
        legs = fill_legs(cash=cash, venue=venue, asset=asset, side=side, value=value, trade_date=trade_date)
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
        position.full_clean(exclude=["id", "account", "asset"], validate_constraints=False)
        position.save()
        # The cash as the entries left it: no second read of the row.
        fill_announce(
            account=account,
            asset=asset,
            side=side,
            qty=qty,
            price=price,
            position_qty=position.qty,
            cash=cash.balance + cash_moved,
        )
    return position


def _fill_check(*, side: str, qty: Decimal, price: Decimal, fee: Decimal) -> None:
    if side not in JournalEntry.Side.values:
        raise ValueError(f"Unknown side {side!r}.")
    require_positive_qty(qty)
    if price <= 0 or fee < 0 or not has_at_most_cents(fee):
        raise ValueError("Price must be positive and the fee whole, non-negative cents.")


def _fill_value(*, qty: Decimal, price: Decimal, side: str) -> Decimal:
    try:
        return fill_cash(qty, price, side)  # in the firm's favour; a fill worth nothing is refused
    except FillWorthNothing as worthless:
        raise DomainError(str(worthless), code="fill_worth_nothing", field="qty") from None


def position_fill(
    position: Position, *, asset: Asset, side: str, qty: Decimal, value: Decimal, fee: Decimal, executed_at: datetime
) -> None:
    """One fill's effect on a position, in memory (average cost: see `fill_apply`). `value`: the fill's cash.
    Refuses a sell of shares not held or reserved for other orders."""
    if side == JournalEntry.Side.BUY:
        if position.qty == 0:
            position.opened_at, position.closed_at = executed_at, None
        position.qty += qty
        position.cost_basis += value
        position.avg_entry_price = to_price(position.cost_basis / position.qty)
        position.realized_pl -= fee
        return
    if qty > position.qty - position.reserved_qty:
        raise DomainError(
            f"Cannot sell {qty} {asset.symbol}: {position.qty - position.reserved_qty} unreserved held.",
            code="insufficient_qty",
            field="qty",
        )
    closing = qty == position.qty
    cost_removed = position.cost_basis if closing else to_cents(position.cost_basis * qty / position.qty)
    position.qty -= qty
    position.cost_basis -= cost_removed
    position.realized_pl += value - cost_removed - fee
    if closing:
        position.closed_at = executed_at


def fill_legs(
    *, cash: LedgerAccount, venue: LedgerAccount, asset: Asset, side: str, value: Decimal, trade_date: date
) -> list[Leg]:
    """A fill's cash between the customer and the venue; a sale's proceeds settle on the asset class's date."""
    if side == JournalEntry.Side.BUY:
        return [Leg(cash, -value), Leg(venue, value)]
    settles_on = settlement_date(asset.asset_class, trade_date)
    return [Leg(venue, -value), Leg(cash, value, settles_on if settles_on > trade_date else None)]


def fill_announce(
    *, account: Account, asset: Asset, side: str, qty: Decimal, price: Decimal, position_qty: Decimal, cash: Decimal
) -> None:
    """The owner's account update for one booked fill: the cash and position quantity as it left them."""
    publish_account_update(
        account,
        "fill",
        cash_balance=cash,
        symbol=asset.symbol,
        side=side,
        qty=str(qty),
        price=str(price),
        position_qty=str(position_qty),
    )


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


@dataclass(frozen=True)
class FillAtOnce:
    """One fee-less fill of a batch for `fills_apply_at_once`, and what its order's reservation gives back first
    (`release_cash`, `release_qty`: trading's `execution_book` releases them just before `fill_apply`)."""

    account: Account
    asset: Asset
    side: str
    qty: Decimal
    price: Decimal
    executed_at: datetime
    cause: models.Model  # the execution, unsaved with its id set: the entry's cause
    order_ref: str
    release_cash: Decimal = ZERO
    release_qty: Decimal = ZERO


@dataclass(frozen=True)
class FillBooked:
    """What a fill of a batch left: the position's quantity and the cash balance (its account update)."""

    position_qty: Decimal
    cash: Decimal


def fills_apply_at_once(fills: list[FillAtOnce], *, now: datetime) -> dict[int, FillBooked]:
    """`fill_apply` for a batch of fills on accounts the caller has locked in its transaction, set-based: the
    rows read and locked in one statement per table (positions, then cash ledger rows, then the lots sold), every
    fill worked out in memory in its order with `fill_apply`'s own pieces, and each table written in one
    statement, with the reservations' releases. The same rows and values as booking them one at a time.

    Returns what each booked fill left, by its index in `fills`. An account with a fill this does not book
    set-based is left out whole, for the caller to book its fills one at a time, in their order: a
    good-faith-tracked trade (a cash account's stock), a stock sale (wash sales), a sale with lots chosen on its
    ticket, a crypto sale after a purchase in the same batch (a lot not yet written), a stock purchase within 30
    days of a loss sale, and any refusal (not enough cash, shares) — there the one-at-a-time path refuses that
    fill alone.
    """
    left = {fill.account.pk for fill in fills if not _books_at_once(fill)}
    bought: set[tuple] = set()
    for fill in fills:
        if fill.side == JournalEntry.Side.SELL and (fill.account.pk, fill.asset.pk) in bought:
            left.add(fill.account.pk)
        elif fill.side == JournalEntry.Side.BUY:
            bought.add((fill.account.pk, fill.asset.pk))
    left |= _accounts_with_chosen_lots_or_recent_losses([fill for fill in fills if fill.account.pk not in left])
    taking = [fill for fill in fills if fill.account.pk not in left]
    if not taking:
        return {}
    pairs = {(fill.account.pk, fill.asset.pk) for fill in taking}
    # Lock order: (the caller's accounts,) positions, the customers' cash ledger rows, then the lots sold.
    positions = {
        (position.account_id, position.asset_id): position
        for position in Position.objects.select_for_update(of=("self",)).filter(_any_pair(pairs)).order_by("pk")
    }
    cash_rows = {
        row.account_id: row
        for row in LedgerAccount.objects.select_for_update()
        .filter(account_id__in={account for account, _ in pairs}, kind=Kind.CASH)
        .order_by("pk")
    }
    sold = {(fill.account.pk, fill.asset.pk) for fill in taking if fill.side == JournalEntry.Side.SELL}
    lots: dict[tuple, list[TaxLot]] = {}
    if sold:
        for lot in TaxLot.objects.select_for_update().filter(_any_pair(sold), open_qty__gt=0):
            lots.setdefault((lot.account_id, lot.asset_id), []).append(lot)
    venue = platform_ledger_account(Kind.VENUE_SETTLEMENT)

    booked: dict[int, FillBooked] = {}
    writes = _FillWrites()
    by_account: dict = {}
    for index, fill in enumerate(fills):
        if fill.account.pk not in left:
            by_account.setdefault(fill.account.pk, []).append((index, fill))
    for account_fills in by_account.values():
        account_writes = _FillWrites()
        try:
            account_booked = {
                index: _fill_in_memory(fill, positions, cash_rows, lots, venue, account_writes)
                for index, fill in account_fills
            }
        except (DomainError, ValueError, ValidationError):
            continue  # its rows in memory are not written; the caller books its fills one at a time
        booked |= account_booked
        writes.add(account_writes)
    writes.save(now)
    return booked


def _books_at_once(fill: FillAtOnce) -> bool:
    good_faith_tracked = fill.account.type == Account.Type.CASH and not fill.asset.is_crypto
    return not good_faith_tracked and (fill.side == JournalEntry.Side.BUY or fill.asset.is_crypto)


def _any_pair(pairs: set[tuple]) -> models.Q:
    """Rows of any of these (account id, asset id) pairs."""
    return functools.reduce(operator.or_, (models.Q(account_id=account, asset_id=asset) for account, asset in pairs))


def _accounts_with_chosen_lots_or_recent_losses(fills: list[FillAtOnce]) -> set:
    """Accounts whose sale has lots chosen on its ticket, or whose stock purchase may replace a loss sale."""
    accounts = set()
    sales = {fill.order_ref: fill.account.pk for fill in fills if fill.side == JournalEntry.Side.SELL}
    if sales:
        chosen = LotSelection.objects.filter(order_ref__in=list(sales), open_qty__gt=0)
        accounts |= {sales[order_ref] for order_ref in chosen.values_list("order_ref", flat=True)}
    stock_buys = [fill for fill in fills if fill.side == JournalEntry.Side.BUY and not fill.asset.is_crypto]
    if stock_buys:
        windows = functools.reduce(
            operator.or_,
            (
                wash_sale_window("sold_at", fill.executed_at.astimezone(ET).date())
                & models.Q(account_id=fill.account.pk, asset_id=fill.asset.pk)
                for fill in stock_buys
            ),
        )
        accounts |= set(LotClosing.objects.filter(windows, gain__lt=0).values_list("account_id", flat=True))
    return accounts


@dataclass
class _FillWrites:
    """A batch's rows to write, in the order `fill_apply` writes them."""

    new_positions: dict = field(default_factory=dict)
    positions: dict = field(default_factory=dict)
    cash_rows: dict = field(default_factory=dict)
    entries: list[JournalEntry] = field(default_factory=list)
    lines: list[JournalLine] = field(default_factory=list)
    new_lots: list[TaxLot] = field(default_factory=list)
    lots_sold: dict = field(default_factory=dict)
    closings: list[LotClosing] = field(default_factory=list)

    def add(self, other: "_FillWrites") -> None:
        self.new_positions |= other.new_positions
        self.positions |= other.positions
        self.cash_rows |= other.cash_rows
        self.entries += other.entries
        self.lines += other.lines
        self.new_lots += other.new_lots
        self.lots_sold |= other.lots_sold
        self.closings += other.closings

    def save(self, now: datetime) -> None:
        Position.objects.bulk_create(self.new_positions.values())
        for position in self.positions.values():
            position.updated_at = now  # `auto_now`, which a bulk update does not set
        rows_update(
            list(self.positions.values()),
            [
                "qty",
                "reserved_qty",
                "avg_entry_price",
                "cost_basis",
                "realized_pl",
                "opened_at",
                "closed_at",
                "updated_at",
            ],
        )
        rows_update(list(self.cash_rows.values()), ["balance", "reserved"])
        JournalEntry.objects.bulk_create(self.entries)
        JournalLine.objects.bulk_create(self.lines)
        TaxLot.objects.bulk_create(self.new_lots)
        rows_update(list(self.lots_sold.values()), ["open_qty", "open_basis"])
        LotClosing.objects.bulk_create(self.closings)


def _fill_in_memory(
    fill: FillAtOnce,
    positions: dict[tuple, Position],
    cash_rows: dict,
    lots: dict[tuple, list[TaxLot]],
    venue: LedgerAccount,
    writes: _FillWrites,
) -> FillBooked:
    """One fill of `fills_apply_at_once` on the rows in memory, as `execution_book`'s release and `fill_apply`
    change them; the rows it changed and inserts it makes go to `writes`."""
    account, asset, side, qty = fill.account, fill.asset, fill.side, fill.qty
    _fill_check(side=side, qty=qty, price=fill.price, fee=ZERO)
    key = (account.pk, asset.pk)
    cash = cash_rows[account.pk]
    if fill.release_cash > 0:
        if cash.reserved < fill.release_cash:
            raise ValueError(
                f"Order {fill.order_ref} releases {fill.release_cash}, more than the account has reserved."
            )
        cash.reserved -= fill.release_cash
    position = positions.get(key)
    if position is None:
        position = positions[key] = Position(account=account, asset=asset)
        writes.new_positions[key] = position
    elif key not in writes.new_positions:
        writes.positions[key] = position
    if fill.release_qty > 0:
        if key in writes.new_positions or position.reserved_qty < fill.release_qty:
            raise ValueError(
                f"Order {fill.order_ref} releases {fill.release_qty} {asset.symbol}, more than is reserved."
            )
        position.reserved_qty -= fill.release_qty
    value = _fill_value(qty=qty, price=fill.price, side=side)
    if side == JournalEntry.Side.BUY and not cash.allow_negative:
        require_spendable(cash, value)
    position_fill(position, asset=asset, side=side, qty=qty, value=value, fee=ZERO, executed_at=fill.executed_at)
    trade_date = fill.executed_at.astimezone(ET).date()
    legs = fill_legs(cash=cash, venue=venue, asset=asset, side=side, value=value, trade_date=trade_date)
    entry, lines = journal_entry_build(
        cause_type=Cause.FILL,
        legs=legs,
        account=account,
        cause=fill.cause,
        effective_at=fill.executed_at,
        trade={"asset": asset, "side": side, "qty": qty, "price": fill.price},
    )
    cash.balance += sum((line.amount for line in lines if line.ledger_account is cash), ZERO)
    writes.cash_rows[account.pk] = cash
    writes.entries.append(entry)
    writes.lines += lines
    if side == JournalEntry.Side.BUY:
        writes.new_lots.append(
            lot_build(account=account, asset=asset, entry=entry, qty=qty, cost=value, acquired_at=fill.executed_at)
        )
    else:
        held = [lot for lot in lots.get(key, []) if lot.open_qty > 0]
        taken = lots_chosen(held, qty=qty, method=account.lot_method)
        writes.closings += lot_closings_build(taken, entry=entry, qty=qty, net_proceeds=value, sold_at=fill.executed_at)
        writes.lots_sold |= {lot.pk: lot for lot, _ in taken}
    position.full_clean(exclude=["id", "account", "asset"], validate_constraints=False)
    return FillBooked(position_qty=position.qty, cash=cash.balance)
