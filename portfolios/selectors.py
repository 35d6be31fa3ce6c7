"""Portfolio reads: one valuation, one activity feed, one history, one ledger check."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from accounts.models import AccountRestriction, KYCApplication, User
from marketdata.calendars import ET, session_before
from marketdata.models import Asset
from portfolios.models import (
    Account,
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
from speedtrade.money import ZERO, to_cents, to_ratio

Kind = LedgerAccount.Kind

# Margin parameters (FINRA Rule 4210 as amended 2026-06-04; Regulation T). See
# docs/notes/portfolios.md for the formulas.
REG_T_INITIAL_RATE = Decimal("0.50")  # Reg T: 50% initial margin on marginable stock
MAINTENANCE_RATE = Decimal("0.25")  # 4210(c): 25% maintenance on long marginable stock
NON_MARGINABLE_RATE = Decimal("1")  # crypto and non-marginable stock: fully paid
MARGIN_MINIMUM_EQUITY = Decimal("2000")  # 4210(b): no credit below $2,000 equity


def primary_account(*, user: User) -> Account | None:
    """The user's first account: the one the dashboard and `/api/v1/account` show."""
    return Account.objects.filter(user=user).order_by("created_at").first()


def account_cash_balance(*, account: Account) -> Decimal:
    return LedgerAccount.objects.get(account=account, kind=Kind.CASH).balance


def today_et(at: datetime | None = None) -> date:
    """The trading date (New York) settlement is counted in."""
    return (at or timezone.now()).astimezone(ET).date()


# --- Cash -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CashState:
    balance: Decimal  # customer cash (excludes withdrawal holds), settled or not
    settled: Decimal
    unsettled: Decimal  # sale proceeds before their settlement date
    reserved: Decimal  # held by open buy orders
    withdrawal_hold: Decimal  # held for withdrawals not yet paid out
    allow_negative: bool  # margin account
    unsettled_until: date | None = None  # the latest settlement date of unsettled proceeds


def _ledger(account: Account, today: date, **sums) -> dict[str, LedgerAccount]:
    """The account's ledger rows by kind, in one statement: each row carries `due_total`/`due_last`
    (lines settling after `today`) and whatever other aggregates `sums` asks for (conditional
    aggregation over the same join, so more figures cost no more round trips)."""
    due = Q(lines__settles_on__gt=today)
    rows = LedgerAccount.objects.filter(account=account).annotate(
        due_total=Sum("lines__amount", filter=due), due_last=Max("lines__settles_on", filter=due), **sums
    )
    return {row.kind: row for row in rows}


def _cash_state(ledger: Mapping[str, LedgerAccount]) -> CashState:
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
    return _cash_state(_ledger(account, today_et(as_of)))


def withdrawable_cash(*, account: Account, as_of: datetime | None = None) -> Decimal:
    """Settled cash no open order holds. Open orders are assumed to spend settled cash
    first (the conservative reading), and borrowed money (a margin debit) is never
    withdrawable, so a negative settled balance means nothing to withdraw."""
    state = cash_state(account=account, as_of=as_of)
    return max(ZERO, state.settled - state.reserved)


# --- Good faith (cash accounts) ----------------------------------------------------------


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


def _external_flow_lines(since: datetime | None = None) -> Q:
    """A ledger row's cash lines that are money put in (+) or taken out (−) from outside: deposits,
    withdrawals (at the moment they are held), manual adjustments, and reversals of those, after
    `since`. P&L excludes them. A filter for aggregating `LedgerAccount.lines`."""
    external = JournalEntry.EXTERNAL_FLOWS
    lines = Q(kind=Kind.CASH) & (
        Q(lines__entry__cause_type__in=external) | Q(lines__entry__reverses__cause_type__in=external)
    )
    return lines & Q(lines__entry__effective_at__gt=since) if since is not None else lines


# --- Valuation ------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionValuation:
    position: Position
    asset: Asset
    qty: Decimal
    qty_available: Decimal
    avg_entry_price: Decimal
    cost_basis: Decimal
    current_price: Decimal
    lastday_price: Decimal
    market_value: Decimal
    change_today: Decimal
    unrealized_pl: Decimal
    unrealized_plpc: Decimal
    unrealized_intraday_pl: Decimal
    unrealized_intraday_plpc: Decimal
    realized_pl: Decimal


@dataclass(frozen=True)
class AccountValuation:
    account: Account
    positions: list[PositionValuation]
    cash: Decimal
    settled_cash: Decimal
    unsettled_cash: Decimal
    reserved_cash: Decimal
    withdrawable_cash: Decimal
    pending_transfer_out: Decimal
    pending_transfer_in: Decimal
    long_market_value: Decimal
    equity: Decimal
    last_equity: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    multiplier: int
    buying_power: Decimal
    regt_buying_power: Decimal
    intraday_buying_power: Decimal
    non_marginable_buying_power: Decimal
    daily_pl: Decimal
    daily_plpc: Decimal | None  # None when there is no base to measure from (first day, base <= 0)
    total_pl: Decimal
    realized_pl: Decimal
    unrealized_pl: Decimal
    net_contributions: Decimal
    as_of: datetime = field(default_factory=timezone.now)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return to_ratio(numerator / denominator) if denominator else ZERO


def position_valuation(*, position: Position, price: Decimal, lastday: Decimal, today: date) -> PositionValuation:
    """One position's figures at `price`, against yesterday's close `lastday`."""
    market_value = to_cents(position.qty * price)
    unrealized = market_value - position.cost_basis
    # Shares bought today have no "yesterday"; their intraday P&L starts at the entry price.
    opened_today = position.opened_at is not None and today_et(position.opened_at) == today
    intraday_base = position.avg_entry_price if opened_today else lastday
    intraday_cost = to_cents(position.qty * intraday_base)
    return PositionValuation(
        position=position,
        asset=position.asset,
        qty=position.qty,
        qty_available=position.qty - position.reserved_qty,
        avg_entry_price=position.avg_entry_price,
        cost_basis=position.cost_basis,
        current_price=price,
        lastday_price=lastday,
        market_value=market_value,
        change_today=_ratio(price - lastday, lastday),
        unrealized_pl=unrealized,
        unrealized_plpc=_ratio(unrealized, position.cost_basis),
        unrealized_intraday_pl=market_value - intraday_cost,
        unrealized_intraday_plpc=_ratio(market_value - intraday_cost, intraday_cost),
        realized_pl=position.realized_pl,
    )


def _last_close_snapshot(account: Account, today: date) -> EquitySnapshot | None:
    return (
        EquitySnapshot.objects.filter(account=account, kind=EquitySnapshot.Kind.SESSION_CLOSE, session_date__lt=today)
        .order_by("-session_date")
        .first()
    )


@dataclass(frozen=True)
class ValuationInputs:
    """Everything a valuation reads from the database; prices come separately.

    Loading them once and pricing them many times is how the live `/ws/trades` account
    stream revalues on every tick without a query (`portfolios.consumers`).
    """

    account: Account
    cash: CashState
    held: list[Position]  # open positions, asset loaded
    realized_pl: Decimal  # Σ over all positions, closed ones included
    last_close_equity: Decimal | None  # the latest session-close snapshot before today
    flows_today: Decimal  # external flows since that close (or since the previous session's close without one)
    first_day: bool  # no cash or position before the previous session's close: nothing to measure today from
    net_contributions: Decimal
    pending_transfer_in: Decimal
    as_of: datetime


def valuation_inputs(*, account: Account, as_of: datetime | None = None) -> ValuationInputs:
    """Three statements whatever the holdings: the last close, the ledger with every sum the
    figures need (settlement, external flows, realized P&L, incoming transfers), the open positions."""
    as_of = as_of or timezone.now()
    today = today_et(as_of)
    snapshot = _last_close_snapshot(account, today)
    since = snapshot.timestamp if snapshot is not None else session_before(today).close
    ledger = _ledger(
        account,
        today,
        flows_today=Sum("lines__amount", filter=_external_flow_lines(since)),
        lines_before=Count("lines", filter=Q(lines__entry__effective_at__lte=since)),
        net_contributions=Sum("lines__amount", filter=_external_flow_lines()),
        realized_pl=_account_sum(Position.objects.all(), "realized_pl"),
        pending_transfer_in=_account_sum(
            Transfer.objects.filter(direction=Transfer.Direction.INCOMING, status__in=Transfer.OPEN_STATUSES), "amount"
        ),
    )
    sums = ledger[Kind.CASH]
    net_contributions = sums.net_contributions or ZERO
    # Since a close snapshot: what came in or left after it, by the contributions it recorded (the same
    # as the ledger's flows since its timestamp, and right too for the demo's illustrated history,
    # whose snapshots carry the deposit the ledger dates today).
    flows_today = net_contributions - snapshot.net_contributions if snapshot is not None else sums.flows_today or ZERO
    held = position_list(account=account)
    # Nothing had happened in the account by the previous close: there is no base for today.
    first_day = snapshot is None and not sums.lines_before and all(p.opened_at and p.opened_at > since for p in held)
    return ValuationInputs(
        account=account,
        cash=_cash_state(ledger),
        held=held,
        realized_pl=sums.realized_pl or ZERO,
        last_close_equity=snapshot.equity if snapshot is not None else None,
        flows_today=flows_today,
        first_day=first_day,
        net_contributions=net_contributions,
        pending_transfer_in=sums.pending_transfer_in or ZERO,
        as_of=as_of,
    )


def _account_sum(rows: QuerySet, field: str) -> Subquery:
    """Σ `field` over the ledger row's account's `rows`, as a scalar subquery of the ledger statement."""
    per_account = rows.filter(account=OuterRef("account")).order_by().values("account")
    return Subquery(per_account.annotate(total=Sum(field)).values("total"))


def account_valuation(
    *,
    account: Account,
    prices: Mapping[UUID, Decimal],
    previous_closes: Mapping[UUID, Decimal],
    as_of: datetime | None = None,
) -> AccountValuation:
    """Every figure the API, dashboard and admin show for an account.

    Prices come in as arguments (see `portfolios.pricing.prices_for`), so this reads
    only the account's own ledger, positions and snapshots and never a feed.
    """
    inputs = valuation_inputs(account=account, as_of=as_of)
    return valuation_priced(inputs=inputs, prices=prices, previous_closes=previous_closes)


def valuation_priced(
    *,
    inputs: ValuationInputs,
    prices: Mapping[UUID, Decimal],
    previous_closes: Mapping[UUID, Decimal],
    as_of: datetime | None = None,
) -> AccountValuation:
    """`account_valuation`'s figures from loaded inputs, priced at `as_of` (default: when they were loaded).

    No database access."""
    account, cash, as_of = inputs.account, inputs.cash, as_of or inputs.as_of
    today = today_et(as_of)
    positions = [
        position_valuation(
            position=p,
            price=prices[p.asset_id],
            lastday=previous_closes.get(p.asset_id, prices[p.asset_id]),
            today=today,
        )
        for p in inputs.held
    ]
    long_market_value = sum((p.market_value for p in positions), ZERO)
    equity = cash.balance + long_market_value
    marginable_value = sum((p.market_value for p in positions if p.asset.marginable and not p.asset.is_crypto), ZERO)
    non_marginable_value = long_market_value - marginable_value
    initial_margin = to_cents(REG_T_INITIAL_RATE * marginable_value + NON_MARGINABLE_RATE * non_marginable_value)
    maintenance_margin = to_cents(MAINTENANCE_RATE * marginable_value + NON_MARGINABLE_RATE * non_marginable_value)

    cash_buying_power = max(ZERO, cash.balance - cash.reserved)
    margin_enabled = account.type == Account.Type.MARGIN and equity >= MARGIN_MINIMUM_EQUITY
    if margin_enabled:
        multiplier = 2
        excess_equity = max(ZERO, equity - initial_margin)
        regt_buying_power = max(ZERO, excess_equity * 2 - cash.reserved)
        intraday_buying_power = max(ZERO, max(ZERO, equity - maintenance_margin) / MAINTENANCE_RATE - cash.reserved)
        non_marginable_buying_power = max(ZERO, min(excess_equity, max(cash.balance, ZERO)) - cash.reserved)
        buying_power = regt_buying_power
    else:
        # Cash accounts (and margin accounts under the $2,000 minimum) buy with their own
        # cash, settled or not; unsettled proceeds are usable for purchases, not withdrawals.
        multiplier = 1
        buying_power = regt_buying_power = intraday_buying_power = non_marginable_buying_power = cash_buying_power

    last_equity, daily_pl, daily_plpc = _daily_pl(inputs, equity, positions)
    return AccountValuation(
        account=account,
        positions=positions,
        cash=cash.balance,
        settled_cash=cash.settled,
        unsettled_cash=cash.unsettled,
        reserved_cash=cash.reserved,
        withdrawable_cash=max(ZERO, cash.settled - cash.reserved),
        pending_transfer_out=cash.withdrawal_hold,
        pending_transfer_in=inputs.pending_transfer_in,
        long_market_value=long_market_value,
        equity=equity,
        last_equity=last_equity,
        initial_margin=initial_margin,
        maintenance_margin=maintenance_margin,
        multiplier=multiplier,
        buying_power=to_cents(buying_power),
        regt_buying_power=to_cents(regt_buying_power),
        intraday_buying_power=to_cents(intraday_buying_power),
        non_marginable_buying_power=to_cents(non_marginable_buying_power),
        daily_pl=daily_pl,
        daily_plpc=daily_plpc,
        total_pl=equity - inputs.net_contributions,
        realized_pl=inputs.realized_pl,
        unrealized_pl=sum((p.unrealized_pl for p in positions), ZERO),
        net_contributions=inputs.net_contributions,
        as_of=as_of,
    )


def _daily_pl(
    inputs: ValuationInputs, equity: Decimal, positions: list[PositionValuation]
) -> tuple[Decimal, Decimal, Decimal | None]:
    """Today's P&L, defined once: (last_equity, daily_pl, daily_plpc).

    last_equity is the equity at the previous session's close: its snapshot when one was taken;
    0 for an account opened since (first day); otherwise rebuilt from what is held now, each
    position at the price today's P&L starts from (the previous close, or the entry price of
    shares bought today, whose cost left the cash). daily_pl = equity − last_equity − the
    deposits and withdrawals since that close. The percentage is against last_equity, and there
    is none on the first day or when last_equity is not positive.
    """
    flows = inputs.flows_today
    if inputs.last_close_equity is not None:
        last_equity = inputs.last_close_equity
    elif inputs.first_day:
        last_equity = ZERO
    else:
        held_at_start = sum((p.market_value - p.unrealized_intraday_pl for p in positions), ZERO)
        last_equity = inputs.cash.balance - flows + held_at_start
    daily_pl = equity - last_equity - flows
    has_base = not inputs.first_day and last_equity > 0
    return last_equity, daily_pl, _ratio(daily_pl, last_equity) if has_base else None


def position_list(*, account: Account) -> list[Position]:
    """Open positions, by symbol."""
    return list(Position.objects.filter(account=account, qty__gt=0).select_related("asset"))


def position_get(*, account: Account, symbol_or_asset_id: str) -> Position | None:
    """An open position by symbol (case-insensitive) or asset id; None if not held."""
    positions = Position.objects.filter(account=account, qty__gt=0).select_related("asset")
    try:
        return positions.filter(asset_id=UUID(symbol_or_asset_id)).first()
    except ValueError:
        return positions.filter(asset__symbol__iexact=symbol_or_asset_id).first()


def assets_held(accounts: Iterable[Account]) -> list[Asset]:
    return list(Asset.objects.filter(positions__account__in=list(accounts), positions__qty__gt=0).distinct())


# --- Activities -----------------------------------------------------------------------

ACTIVITY_TYPES = ("FILL", "TRANS", "FEE", "JNLC")
_ENTRY_ACTIVITY = {
    JournalEntry.Cause.FILL: "FILL",
    JournalEntry.Cause.FEE: "FEE",
    JournalEntry.Cause.ADJUSTMENT: "JNLC",
    JournalEntry.Cause.REVERSAL: "JNLC",
}


def _activity_id(at: datetime, pk) -> str:
    return f"{at.astimezone(ET):%Y%m%d%H%M%S%f}"[:17] + f"::{pk}"


def _entry_activity(entry: JournalEntry, cash_amount: Decimal) -> dict:
    activity_type = _ENTRY_ACTIVITY[entry.cause_type]
    common = {
        "id": _activity_id(entry.effective_at, entry.pk),
        "account_id": entry.account_id,
        "activity_type": activity_type,
    }
    if activity_type == "FILL":
        cause = entry.cause
        return {
            **common,
            "transaction_time": entry.effective_at,
            "type": "fill",
            "price": entry.price,
            "qty": entry.qty,
            "side": entry.side,
            "symbol": entry.asset.symbol,
            "order_id": getattr(cause, "order_id", None),
            "execution_id": entry.cause_object_id,
            "net_amount": cash_amount,
        }
    return {
        **common,
        "date": entry.effective_at.astimezone(ET).date(),
        "net_amount": cash_amount,
        "description": entry.memo,
        "status": "executed",
    }


def account_activities(
    *,
    account: Account,
    activity_types: Iterable[str] = ACTIVITY_TYPES,
    after: datetime | None = None,
    until: datetime | None = None,
    direction: str = "desc",
    page_size: int = 100,
) -> list[dict]:
    """Fills, fees, adjustments and settled transfers in one time-ordered feed (Alpaca's
    activity shapes). TRANS are transfers that settled; open ones are in `/transfers`."""
    types = set(activity_types)
    newest_first = direction == "desc"
    order = "-" if newest_first else ""
    activities: list[tuple[datetime, dict]] = []
    entry_causes = [cause for cause, kind in _ENTRY_ACTIVITY.items() if kind in types]
    if entry_causes:
        entries = (
            JournalEntry.objects.filter(account=account, cause_type__in=entry_causes)
            .select_related("asset")
            .prefetch_related("cause")  # one query per cause type, not one per fill (order_id)
        )
        if after:
            entries = entries.filter(effective_at__gt=after)
        if until:
            entries = entries.filter(effective_at__lt=until)
        entries = list(entries.order_by(f"{order}effective_at", f"{order}created_at")[:page_size])
        cash_amounts = dict(
            JournalLine.objects.filter(entry__in=entries, ledger_account__kind=Kind.CASH).values_list(
                "entry_id", "amount"
            )
        )
        activities += [(e.effective_at, _entry_activity(e, cash_amounts.get(e.pk, ZERO))) for e in entries]
    if "TRANS" in types:
        transfers = Transfer.objects.filter(account=account, status=Transfer.Status.SETTLED)
        if after:
            transfers = transfers.filter(settled_at__gt=after)
        if until:
            transfers = transfers.filter(settled_at__lt=until)
        for transfer in transfers.order_by(f"{order}settled_at")[:page_size]:
            sign = 1 if transfer.direction == Transfer.Direction.INCOMING else -1
            activities.append(
                (
                    transfer.settled_at,
                    {
                        "id": _activity_id(transfer.settled_at, transfer.pk),
                        "account_id": account.pk,
                        "activity_type": "TRANS",
                        "date": transfer.settled_at.astimezone(ET).date(),
                        "net_amount": sign * transfer.amount,
                        "description": f"{transfer.direction} transfer",
                        "status": "executed",
                    },
                )
            )
    activities.sort(key=lambda pair: pair[0], reverse=newest_first)
    return [activity for _, activity in activities[:page_size]]


# --- Portfolio history ----------------------------------------------------------------

PERIODS = {
    "1D": timedelta(days=1),
    "1W": timedelta(weeks=1),
    "1M": timedelta(days=30),
    "3M": timedelta(days=90),
    "1A": timedelta(days=365),
    "all": None,
}
TIMEFRAMES = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": None}


@dataclass(frozen=True)
class PortfolioHistory:
    timestamp: list[int]
    equity: list[Decimal]
    profit_loss: list[Decimal]
    profit_loss_pct: list[Decimal | None]
    base_value: Decimal | None
    timeframe: str


def portfolio_history(
    *, account: Account, period: str = "1M", timeframe: str = "1D", as_of: datetime | None = None
) -> PortfolioHistory:
    """The equity curve from snapshots: the last snapshot in each `timeframe` bucket (1D:
    session-close snapshots). P&L is measured from the first point and excludes deposits
    and withdrawals; `profit_loss_pct` is relative to the first point's equity."""
    as_of = as_of or timezone.now()
    snapshots = EquitySnapshot.objects.filter(account=account, timestamp__lte=as_of)
    if PERIODS[period] is not None:
        snapshots = snapshots.filter(timestamp__gte=as_of - PERIODS[period])
    bucket_seconds = TIMEFRAMES[timeframe]
    if bucket_seconds is None:
        snapshots = snapshots.filter(kind=EquitySnapshot.Kind.SESSION_CLOSE)
    points: dict[int, EquitySnapshot] = {}
    for snapshot in snapshots.order_by("timestamp"):
        seconds = int(snapshot.timestamp.timestamp())
        bucket = seconds - seconds % bucket_seconds if bucket_seconds else seconds
        points[bucket] = snapshot  # the latest snapshot in the bucket wins
    if not points:
        return PortfolioHistory([], [], [], [], None, timeframe)
    first = next(iter(points.values()))
    base_value = first.equity
    profit_loss = [snap.profit_loss - first.profit_loss for snap in points.values()]
    return PortfolioHistory(
        timestamp=list(points),
        equity=[snap.equity for snap in points.values()],
        profit_loss=profit_loss,
        profit_loss_pct=[_ratio(pl, base_value) if base_value else None for pl in profit_loss],
        base_value=base_value,
        timeframe=timeframe,
    )


# --- Ledger verification --------------------------------------------------------------


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


# --- Watchlists --------------------------------------------------------------------------


def _watchlists(account: Account):
    entries = WatchlistEntry.objects.select_related("asset").order_by("position")
    return Watchlist.objects.filter(account=account).prefetch_related(Prefetch("entries", queryset=entries))


def watchlist_list(*, account: Account) -> list[Watchlist]:
    """The account's watchlists with their assets in order (three queries, however many lists)."""
    return list(_watchlists(account))


def watchlist_get(*, account: Account, watchlist_id=None, name: str | None = None) -> Watchlist | None:
    """One of the account's watchlists by id or by name; None for anyone else's."""
    watchlists = _watchlists(account)
    if watchlist_id is not None:
        return watchlists.filter(pk=watchlist_id).first()
    return watchlists.filter(name=name).first()


# --- May the account trade or move money (KYC approval, status, restrictions) -------------


def account_active_restrictions(*, account) -> dict[str, AccountRestriction]:
    return {r.kind: r for r in AccountRestriction.objects.filter(account=account, lifted_at__isnull=True)}


def trading_refusal_reason(*, account) -> str | None:
    """Why this account may not trade now, or None. The trading core's pre-trade check."""
    return _approval_refusal(account) or _restriction_refusal(
        account, [AccountRestriction.Kind.ACCOUNT, AccountRestriction.Kind.TRADING]
    )


def transfer_refusal_reason(*, account) -> str | None:
    """Why this account may not move money now, or None: like trading, only an approved, active,
    unrestricted account is funded or withdraws (customer identification comes first)."""
    return _approval_refusal(account) or _restriction_refusal(
        account, [AccountRestriction.Kind.ACCOUNT, AccountRestriction.Kind.TRANSFERS]
    )


def _approval_refusal(account) -> str | None:
    if account.status == Account.Status.CLOSED:
        return "account closed"
    # One EXISTS on the order-entry path, not the full status (application + latest decision).
    if not KYCApplication.objects.filter(user_id=account.user_id, status=KYCApplication.Status.APPROVED).exists():
        return "KYC not approved"
    if account.status != Account.Status.ACTIVE:
        return "account not active"
    return None


_REFUSAL_PREFIX = {
    AccountRestriction.Kind.ACCOUNT: "account frozen",
    AccountRestriction.Kind.TRADING: "trading blocked",
    AccountRestriction.Kind.TRANSFERS: "transfers blocked",
}


def _restriction_refusal(account, kinds) -> str | None:
    # The flags on the (already loaded) account decide; the reason is only looked up when
    # one is set, so an unrestricted account costs no query here on the order-entry path.
    for kind in kinds:
        if getattr(account, AccountRestriction.ACCOUNT_FLAG[kind]):
            # The customer reads this (order ticket, transfers page, API): the message staff chose
            # for them, never the internal note.
            restriction = account_active_restrictions(account=account).get(kind)
            message = AccountRestriction.CustomerMessage(
                restriction.customer_message if restriction else AccountRestriction.CustomerMessage.UNDER_REVIEW
            )
            return f"{_REFUSAL_PREFIX[kind]}: {message.label}"
    return None
