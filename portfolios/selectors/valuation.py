"""The one valuation: positions and the account (equity, buying power, margin, today's P&L)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from uuid import UUID

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from marketdata.calendars import session_before
from marketdata.models import Asset
from portfolios.models import Account, EquitySnapshot, JournalEntry, LedgerAccount, Position, Transfer
from portfolios.selectors.cash import CashState, LedgerSums, cash_state_from, external_flow_lines, ledger_by_kind
from portfolios.selectors.common import Kind, ratio, today_et
from speedtrade.db import prepared_cursor
from speedtrade.money import ZERO, to_cents

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Margin parameters (FINRA Rule 4210 as amended 2026-06-04; Regulation T). See
# docs/notes/portfolios.md for the formulas.
REG_T_INITIAL_RATE = Decimal("0.50")  # Reg T: 50% initial margin on marginable stock
MAINTENANCE_RATE = Decimal("0.25")  # 4210(c): 25% maintenance on long marginable stock
NON_MARGINABLE_RATE = Decimal("1")  # crypto and non-marginable stock: fully paid
MARGIN_MINIMUM_EQUITY = Decimal("2000")  # 4210(b): no credit below $2,000 equity


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
        change_today=ratio(price - lastday, lastday),
        unrealized_pl=unrealized,
        unrealized_plpc=ratio(unrealized, position.cost_basis),
        unrealized_intraday_pl=market_value - intraday_cost,
        unrealized_intraday_plpc=ratio(market_value - intraday_cost, intraday_cost),
        realized_pl=position.realized_pl,
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


def valuation_inputs(*, account: Account, as_of: datetime | None = None, account_read: bool = False) -> ValuationInputs:
    """What the valuation reads: the last close, the ledger with every sum the figures need (settlement, external
    flows, realized P&L, incoming transfers), the open positions — two prepared statements on PostgreSQL (the hot
    path of `GET /account`, where compiling the ORM's three was half the request's CPU), the ORM's three
    elsewhere; `portfolios/tests/test_valuation_reads.py` holds them equal. `account_read`: the account's own row
    is read again with them (in the ledger's statement on PostgreSQL), for a caller that shows it from an instance
    that may be stale (the lean path's, kept with the credential): `inputs.account` is then that row."""
    as_of = as_of or timezone.now()
    today = today_et(as_of)
    read = _read_with_sql if connection.vendor == "postgresql" else _read_with_orm
    reads = read(account, today, previous_close=_previous_session_close(today), account_read=account_read)
    return _inputs_from(account, as_of, reads)


def _inputs_from(account: Account, as_of: datetime, reads: "ValuationReads") -> ValuationInputs:
    last_close, ledger, held, account_row = reads
    account = account_row or account
    since = last_close.timestamp if last_close is not None else _previous_session_close(today_et(as_of))
    sums = ledger[Kind.CASH]
    net_contributions = sums.net_contributions or ZERO
    # Since a close snapshot: what came in or left after it, by the contributions it recorded (the same
    # as the ledger's flows since its timestamp, and right too for the demo's illustrated history,
    # whose snapshots carry the deposit the ledger dates today).
    flows_today = (
        net_contributions - last_close.net_contributions if last_close is not None else sums.flows_today or ZERO
    )
    # Nothing had happened in the account by the previous close: there is no base for today.
    first_day = last_close is None and not sums.lines_before and all(p.opened_at and p.opened_at > since for p in held)
    return ValuationInputs(
        account=account,
        cash=cash_state_from(ledger),
        held=held,
        realized_pl=sums.realized_pl or ZERO,
        last_close_equity=last_close.equity if last_close is not None else None,
        flows_today=flows_today,
        first_day=first_day,
        net_contributions=net_contributions,
        pending_transfer_in=sums.pending_transfer_in or ZERO,
        as_of=as_of,
    )


@lru_cache(maxsize=8)
def _previous_session_close(today: date) -> datetime:
    """The close of the session before `today`, where today's P&L starts without a close snapshot. A calendar
    lookup through pandas (~15 % of a `GET /account`'s CPU when asked per request); the sessions never change."""
    return session_before(today).close


class LastClose(NamedTuple):
    """The latest session-close snapshot before today: what today's P&L is measured from."""

    timestamp: datetime
    equity: Decimal
    net_contributions: Decimal


Ledger = dict[str, "WithAnnotations[LedgerAccount, LedgerSums]"]
ValuationReads = tuple[LastClose | None, Ledger, list[Position], Account | None]  # the account's row if asked


def _read_with_orm(
    account: Account, today: date, *, previous_close: datetime, account_read: bool = False
) -> ValuationReads:
    """The reads through the ORM, three statements (SQLite, the embedded default), four with the account's row."""
    account_row = Account.objects.get(pk=account.pk) if account_read else None
    snapshot = (
        EquitySnapshot.objects.filter(account=account, kind=EquitySnapshot.Kind.SESSION_CLOSE, session_date__lt=today)
        .order_by("-session_date")
        .first()
    )
    last_close = LastClose(snapshot.timestamp, snapshot.equity, snapshot.net_contributions) if snapshot else None
    since = last_close.timestamp if last_close is not None else previous_close
    ledger = ledger_by_kind(
        account,
        today,
        flows_today=Sum("lines__amount", filter=external_flow_lines(since)),
        lines_before=Count("lines", filter=Q(lines__entry__effective_at__lte=since)),
        net_contributions=Sum("lines__amount", filter=external_flow_lines()),
        realized_pl=_account_sum(Position.objects.all(), "realized_pl"),
        pending_transfer_in=_account_sum(
            Transfer.objects.filter(direction=Transfer.Direction.INCOMING, status__in=Transfer.OPEN_STATUSES), "amount"
        ),
    )
    return last_close, ledger, position_list(account=account), account_row


def _account_sum(rows: QuerySet, field: str) -> Subquery:
    """Σ `field` over the ledger row's account's `rows`, as a scalar subquery of the ledger statement."""
    per_account = rows.filter(account=OuterRef("account")).order_by().values("account")
    return Subquery(per_account.annotate(total=Sum(field)).values("total"))


# The ORM's statements written out (`_read_with_orm` is the reference): the last close in a CTE whose timestamp,
# or the previous session's close without one, is where today's flows start; the ledger rows with every sum, from
# the account's row (its columns first where asked: `_ledger_sql`; a row without a ledger account if it has none).
LEDGER_SQL = """
WITH last_close AS (
    SELECT "timestamp", equity, net_contributions FROM portfolios_equitysnapshot
    WHERE account_id = %(account)s AND kind = %(close_kind)s AND session_date < %(today)s
    ORDER BY session_date DESC LIMIT 1
), bounds AS (
    SELECT COALESCE((SELECT "timestamp" FROM last_close), %(previous_close)s) AS since
)
SELECT {account_columns}l.id, l.account_id, l.kind, l.allow_negative, l.balance, l.reserved,
    SUM(line.amount) FILTER (WHERE line.settles_on > %(today)s),
    MAX(line.settles_on) FILTER (WHERE line.settles_on > %(today)s),
    SUM(line.amount) FILTER (
        WHERE l.kind = %(cash)s AND (entry.cause_type = ANY(%(external)s) OR reversed.cause_type = ANY(%(external)s))
        AND entry.effective_at > bounds.since
    ),
    COUNT(line.id) FILTER (WHERE entry.effective_at <= bounds.since),
    SUM(line.amount) FILTER (
        WHERE l.kind = %(cash)s AND (entry.cause_type = ANY(%(external)s) OR reversed.cause_type = ANY(%(external)s))
    ),
    (SELECT SUM(realized_pl) FROM portfolios_position WHERE account_id = %(account)s),
    (SELECT SUM(amount) FROM portfolios_transfer
        WHERE account_id = %(account)s AND direction = %(incoming)s AND status = ANY(%(open_transfer)s)),
    (SELECT "timestamp" FROM last_close), (SELECT equity FROM last_close), (SELECT net_contributions FROM last_close)
FROM portfolios_account a
CROSS JOIN bounds
LEFT OUTER JOIN portfolios_ledgeraccount l ON l.account_id = a.id
LEFT OUTER JOIN portfolios_journalline line ON line.ledger_account_id = l.id
LEFT OUTER JOIN portfolios_journalentry entry ON entry.id = line.entry_id
LEFT OUTER JOIN portfolios_journalentry reversed ON reversed.id = entry.reverses_id
WHERE a.id = %(account)s
GROUP BY a.id, l.id, bounds.since
"""
_LEDGER_COLUMNS = ["id", "account_id", "kind", "allow_negative", "balance", "reserved"]
_LEDGER_SUMS = ["due_total", "due_last", "flows_today", "lines_before", "net_contributions"]
_LEDGER_SUMS += ["realized_pl", "pending_transfer_in"]


_ACCOUNT_FIELDS = [f.attname for f in Account._meta.concrete_fields]


@cache
def _ledger_sql(*, account_read: bool) -> str:
    account_columns = "".join(f'a."{f.column}", ' for f in Account._meta.concrete_fields) if account_read else ""
    return LEDGER_SQL.format(account_columns=account_columns)


@cache
def _positions_sql() -> tuple[str, list[str], list[str]]:
    """`position_list`'s statement: open positions with their assets, by symbol; and the two models' columns."""
    position_fields = [f.attname for f in Position._meta.concrete_fields]
    asset_fields = [f.attname for f in Asset._meta.concrete_fields]
    columns = [f'p."{f.column}"' for f in Position._meta.concrete_fields]
    columns += [f'a."{f.column}"' for f in Asset._meta.concrete_fields]
    select = ", ".join(columns)  # the models' own column names
    sql = (
        f"SELECT {select} FROM portfolios_position p JOIN marketdata_asset a ON a.id = p.asset_id"  # noqa: S608
        " WHERE p.account_id = %s AND p.qty > 0 ORDER BY a.symbol"
    )
    return sql, position_fields, asset_fields


def _read_with_sql(
    account: Account, today: date, *, previous_close: datetime, account_read: bool = False
) -> ValuationReads:
    """The same reads in two prepared statements (PostgreSQL), the account's row in the first where asked."""
    positions_sql, position_fields, asset_fields = _positions_sql()
    params: dict[str, Any] = {  # the arrays are PostgreSQL's (`= ANY(...)`), not in the stubs' parameter types
        "account": account.pk,
        "today": today,
        "previous_close": previous_close,
        "close_kind": EquitySnapshot.Kind.SESSION_CLOSE.value,
        "cash": Kind.CASH.value,
        "external": [cause.value for cause in JournalEntry.EXTERNAL_FLOWS],
        "incoming": Transfer.Direction.INCOMING.value,
        "open_transfer": [status.value for status in Transfer.OPEN_STATUSES],
    }
    with prepared_cursor() as cursor:
        cursor.execute(_ledger_sql(account_read=account_read), params)
        rows = cursor.fetchall()
        if account_read and not rows:
            raise Account.DoesNotExist("Account matching query does not exist.")  # as the ORM's get
        cursor.execute(positions_sql, [account.pk])
        position_rows = cursor.fetchall()
    account_row = None
    if account_read:
        account_row = Account.from_db("default", _ACCOUNT_FIELDS, rows[0][: len(_ACCOUNT_FIELDS)])
        rows = [row[len(_ACCOUNT_FIELDS) :] for row in rows]
    ledger: Ledger = {}
    for row in rows:
        if row[0] is None:
            continue  # the account has no ledger account
        ledger_account = LedgerAccount.from_db("default", _LEDGER_COLUMNS, row[: len(_LEDGER_COLUMNS)])
        sums = row[len(_LEDGER_COLUMNS) : len(_LEDGER_COLUMNS) + len(_LEDGER_SUMS)]
        for name, value in zip(_LEDGER_SUMS, sums, strict=True):
            setattr(ledger_account, name, value)
        ledger[ledger_account.kind] = cast("WithAnnotations[LedgerAccount, LedgerSums]", ledger_account)
    last_close = LastClose(*rows[0][-3:]) if rows and rows[0][-3] is not None else None
    held = []
    for row in position_rows:
        position = Position.from_db("default", position_fields, row[: len(position_fields)])
        Position.asset.field.set_cached_value(
            position, Asset.from_db("default", asset_fields, row[len(position_fields) :])
        )
        held.append(position)
    return last_close, ledger, held, account_row


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
    return last_equity, daily_pl, ratio(daily_pl, last_equity) if has_base else None


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
