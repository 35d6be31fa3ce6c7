"""Portfolio reads: one valuation, one activity feed, one history, one ledger check."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db.models import Prefetch, Q, Sum
from django.utils import timezone

from accounts.models import User
from marketdata.calendars import ET
from marketdata.models import Asset
from portfolios.models import (
    Account,
    EquitySnapshot,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Position,
    Transfer,
    Watchlist,
    WatchlistEntry,
)
from portfolios.money import ZERO, to_cents, to_ratio

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


def cash_state(*, account: Account, as_of: datetime | None = None) -> CashState:
    """Cash split by settlement. Purchases are taken from settled cash first, so the
    unsettled part is what is still owed to us by the venue, capped by the balance."""
    ledger = {la.kind: la for la in LedgerAccount.objects.filter(account=account)}
    cash = ledger[Kind.CASH]
    due = (
        JournalLine.objects.filter(ledger_account=cash, settles_on__gt=today_et(as_of)).aggregate(total=Sum("amount"))[
            "total"
        ]
        or ZERO
    )
    unsettled = min(max(cash.balance, ZERO), due)
    return CashState(
        balance=cash.balance,
        settled=cash.balance - unsettled,
        unsettled=unsettled,
        reserved=cash.reserved,
        withdrawal_hold=ledger[Kind.WITHDRAWAL_HOLD].balance,
        allow_negative=cash.allow_negative,
    )


def withdrawable_cash(*, account: Account, as_of: datetime | None = None) -> Decimal:
    """Settled cash no open order holds. Open orders are assumed to spend settled cash
    first (the conservative reading), and borrowed money (a margin debit) is never
    withdrawable, so a negative settled balance means nothing to withdraw."""
    state = cash_state(account=account, as_of=as_of)
    return max(ZERO, state.settled - state.reserved)


def external_flows(*, account: Account, since: datetime | None = None) -> Decimal:
    """Money put in (+) or taken out (−) from outside: deposits, withdrawals (at the
    moment they are held), manual adjustments, and reversals of those. P&L excludes it."""
    lines = JournalLine.objects.filter(ledger_account__account=account, ledger_account__kind=Kind.CASH).filter(
        Q(entry__cause_type__in=JournalEntry.EXTERNAL_FLOWS)
        | Q(entry__reverses__cause_type__in=JournalEntry.EXTERNAL_FLOWS)
    )
    if since is not None:
        lines = lines.filter(entry__effective_at__gt=since)
    return lines.aggregate(total=Sum("amount"))["total"] or ZERO


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
    daily_plpc: Decimal
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
    as_of = as_of or timezone.now()
    today = today_et(as_of)
    cash = cash_state(account=account, as_of=as_of)
    held = Position.objects.filter(account=account).select_related("asset")
    positions = [
        position_valuation(
            position=p,
            price=prices[p.asset_id],
            lastday=previous_closes.get(p.asset_id, prices[p.asset_id]),
            today=today,
        )
        for p in held
        if p.qty > 0
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

    snapshot = _last_close_snapshot(account, today)
    if snapshot is not None:
        last_equity = snapshot.equity
        flows_today = external_flows(account=account, since=snapshot.timestamp)
    else:
        # No close recorded yet: today's cash at yesterday's prices stands in for it.
        start_of_day = datetime.combine(today, datetime.min.time(), tzinfo=ET)
        flows_today = external_flows(account=account, since=start_of_day)
        last_equity = cash.balance - flows_today + sum((to_cents(p.qty * p.lastday_price) for p in positions), ZERO)
    net_contributions = external_flows(account=account)
    daily_pl = equity - last_equity - flows_today
    pending_in = (
        Transfer.objects.filter(
            account=account, direction=Transfer.Direction.INCOMING, status__in=Transfer.OPEN_STATUSES
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    return AccountValuation(
        account=account,
        positions=positions,
        cash=cash.balance,
        settled_cash=cash.settled,
        unsettled_cash=cash.unsettled,
        reserved_cash=cash.reserved,
        withdrawable_cash=max(ZERO, cash.settled - cash.reserved),
        pending_transfer_out=cash.withdrawal_hold,
        pending_transfer_in=pending_in,
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
        daily_plpc=_ratio(daily_pl, last_equity),
        total_pl=equity - net_contributions,
        realized_pl=held.aggregate(total=Sum("realized_pl"))["total"] or ZERO,
        unrealized_pl=sum((p.unrealized_pl for p in positions), ZERO),
        net_contributions=net_contributions,
        as_of=as_of,
    )


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
