"""Reads for account documents: the customer's documents, and the figures each kind of document states.

Figures are built as JSON-ready dicts (money, prices and quantities as decimal strings, dates as ISO strings):
they are stored as the document's `data` and the PDF is rendered from exactly that dict, so the file and
the data behind it cannot disagree.

Statements read the ledger itself (customer cash lines, and the fill entries' shares), not the activity feed:
the feed dates a withdrawal when it is paid out, the ledger when the cash left the customer's balance, and a
statement must add up to the cent — opening cash + every line of the month = closing cash.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from django.db.models import Case, DecimalField, F, QuerySet, Sum, When
from django.utils import timezone

from documents.models import AccountDocument, DocumentKind
from marketdata.calendars import ET, settlement_date
from marketdata.models import Asset
from marketdata.selectors import prices_at
from portfolios.models import Account, JournalEntry, JournalLine, LedgerAccount, LotClosing
from portfolios.pricing import prices_for
from portfolios.selectors import lot_closings
from speedtrade.errors import NotFound
from speedtrade.money import ZERO, cents_in_db, decimal_string, qty_in_db, to_cents, to_price, trade_value
from trading import selectors as trading_selectors
from trading.models import Execution, Order

CAPACITY = "agent"  # SpeedTrade acts as its customers' agent on every trade (10b-10(a)(2)(i))
VENUE_NAMES = {"paper": "SpeedTrade paper venue (simulated)", "alpaca": "Alpaca Securities LLC"}


def money(value: Decimal) -> str:
    """Whole cents as a decimal string with both places ("12.30"), as a statement prints them."""
    return f"{to_cents(value):f}"


def number(value: Decimal | None) -> str | None:
    return decimal_string(value)


def et_midnight(day: date) -> datetime:
    """The start of `day` in New York: documents are dated in the market's time zone."""
    return datetime.combine(day, time(0), tzinfo=ET)


def venue_name(broker: str) -> str:
    if broker.startswith("ccxt:"):
        return f"{broker.removeprefix('ccxt:')} (crypto exchange)"
    return VENUE_NAMES.get(broker, broker)


# --- the customer's documents --------------------------------------------------------------


def document_list(
    *, user, kind: str | None = None, start: date | None = None, end: date | None = None
) -> QuerySet[AccountDocument]:
    """The user's documents, newest first; a period filter keeps documents whose period overlaps [start, end]."""
    documents = AccountDocument.objects.filter(account__user=user).select_related("account", "corrects")
    if kind:
        documents = documents.filter(kind=kind)
    if start is not None:
        documents = documents.filter(period_end__gte=start)
    if end is not None:
        documents = documents.filter(period_start__lte=end)
    return documents.order_by("-issued_at", "kind")


def document_get(*, user, document_id) -> AccountDocument:
    """One of the user's documents; another user's is simply not found."""
    document = document_list(user=user).filter(pk=document_id).first()
    if document is None:
        raise NotFound("No such document.", code="not_found")
    return document


# --- trade confirmations (SEC Rule 10b-10) -------------------------------------------------


@dataclass(frozen=True)
class ConfirmationDue:
    order: Order
    trade_date: date


def confirmations_due(*, now: datetime, lookback: timedelta = timedelta(days=10)) -> list[ConfirmationDue]:
    """(order, trade date) pairs with fills and no confirmation yet, whose trade date is over (before today in
    New York) or whose order has stopped working: an order still filling today is confirmed once, tomorrow."""
    today = now.astimezone(ET).date()
    confirmed = set(
        AccountDocument.objects.filter(
            kind=DocumentKind.TRADE_CONFIRMATION,
            corrects__isnull=True,
            period_start__gte=today - lookback,
        ).values_list("order_id", "period_start")
    )
    due: dict[tuple[UUID, date], ConfirmationDue] = {}
    for execution in trading_selectors.executions_between(since=et_midnight(today - lookback)):
        order = execution.order
        trade_date = execution.executed_at.astimezone(ET).date()
        key = (order.pk, trade_date)
        if key in confirmed or key in due:
            continue
        if trade_date < today or not order.is_open:
            due[key] = ConfirmationDue(order=order, trade_date=trade_date)
    return list(due.values())


def _fill_line(execution: Execution, side: str) -> dict:
    return {
        "execution_id": execution.broker_exec_id,
        "executed_at": execution.executed_at.isoformat(),
        "qty": number(execution.qty),
        "price": number(execution.price),
        "amount": money(trade_value(execution.qty, execution.price, side)),
        "fee": money(execution.fee),
    }


def trade_confirmation_figures(*, order: Order, trade_date: date) -> dict:
    """What 10b-10 requires the customer be told of the order's fills on `trade_date`."""
    executions = list(
        trading_selectors.executions_between(
            order=order, since=et_midnight(trade_date), until=et_midnight(trade_date + timedelta(days=1))
        )
    )
    if not executions:
        raise NotFound(f"Order {order.pk} has no fills on {trade_date}.", code="no_fills")
    qty = sum((e.qty for e in executions), ZERO)
    gross = sum((trade_value(e.qty, e.price, order.side) for e in executions), ZERO)
    fees = sum((e.fee for e in executions), ZERO)
    account = order.account
    user = account.user
    return {
        "order_id": str(order.pk),
        "client_order_id": order.client_order_id,
        "account_number": account.account_number,
        "customer": user.get_full_name() or user.email,
        "side": order.side,
        "symbol": order.symbol,
        "asset_name": order.asset.name,
        "asset_class": order.asset_class,
        "order_type": order.type,
        "time_in_force": order.time_in_force,
        "limit_price": number(order.limit_price),
        "stop_price": number(order.stop_price),
        "ordered_qty": number(order.qty),
        "ordered_notional": number(order.notional),
        "order_status": order.status,
        "quantity": number(qty),
        "average_price": number(to_price(sum((e.qty * e.price for e in executions), ZERO) / qty)),
        "gross_amount": money(gross),
        "fees": money(fees),
        # What moved in the customer's cash: a buy pays the trade and its fees, a sale receives the trade less fees.
        "net_amount": money(-(gross + fees) if order.side == Order.Side.BUY else gross - fees),
        "fills": [_fill_line(e, order.side) for e in executions],
        "venue": venue_name(order.broker),
        "capacity": CAPACITY,
        "trade_date": trade_date.isoformat(),
        "settlement_date": settlement_date(order.asset_class, trade_date).isoformat(),
    }


# --- monthly statements (FINRA Rule 2231) ---------------------------------------------------

_ENTRY_LABELS: dict[str, str] = {
    JournalEntry.Cause.DEPOSIT: "Deposit",
    JournalEntry.Cause.WITHDRAWAL: "Withdrawal",
    JournalEntry.Cause.FILL: "Trade",
    JournalEntry.Cause.FEE: "Fee",
    JournalEntry.Cause.ADJUSTMENT: "Adjustment",
    JournalEntry.Cause.REVERSAL: "Reversal",
}
# Summary rows: which causes add up to each (dividends: none are booked yet; the row stays, at zero).
_SUMMARY = {
    "deposits": (JournalEntry.Cause.DEPOSIT,),
    "withdrawals": (JournalEntry.Cause.WITHDRAWAL,),
    "trades": (JournalEntry.Cause.FILL,),
    "fees": (JournalEntry.Cause.FEE,),
    "dividends": (),
    "adjustments": (JournalEntry.Cause.ADJUSTMENT, JournalEntry.Cause.REVERSAL),
}


def _customer_cash_lines(account: Account) -> QuerySet[JournalLine]:
    return JournalLine.objects.filter(ledger_account__account=account, ledger_account__kind=LedgerAccount.Kind.CASH)


def cash_at(*, account: Account, at: datetime) -> Decimal:
    """The customer's cash as the ledger had it just before `at`."""
    lines = _customer_cash_lines(account).filter(entry__effective_at__lt=at)
    # Rounded in the database: exact on PostgreSQL, and what keeps SQLite's float sums on whole cents.
    return lines.aggregate(s=cents_in_db(Sum("amount")))["s"] or ZERO


def holdings_at(*, account: Account, at: datetime) -> dict[UUID, Decimal]:
    """Shares held per asset just before `at`, from the fill entries (bought − sold); zero holdings left out."""
    signed = Case(When(side=JournalEntry.Side.SELL, then=-F("qty")), default=F("qty"), output_field=DecimalField())
    rows = (
        JournalEntry.objects.filter(account=account, cause_type=JournalEntry.Cause.FILL, effective_at__lt=at)
        .values("asset_id")
        .annotate(qty=qty_in_db(Sum(signed)))
    )
    return {row["asset_id"]: row["qty"] for row in rows if row["qty"]}


def _holdings_valued(holdings: dict[UUID, Decimal], *, at: datetime, now: datetime) -> list[dict]:
    """Each holding at its price at `at` (the newest bar before it); a period that ends now is valued at the
    latest prices, as the account page values it (`portfolios.pricing.prices_for`)."""
    assets = list(Asset.objects.filter(pk__in=holdings).order_by("symbol"))
    prices = prices_for(assets)[0] if at >= now else prices_at(assets, at)
    return [
        {
            "symbol": asset.symbol,
            "name": asset.name,
            "qty": number(holdings[asset.pk]),
            "price": number(prices[asset.pk]),
            "value": money(holdings[asset.pk] * prices[asset.pk]),
        }
        for asset in assets
    ]


def _activity_line(entry: JournalEntry, amount: Decimal) -> dict:
    description = entry.memo
    if entry.cause_type == JournalEntry.Cause.FILL and entry.asset is not None and entry.qty is not None:
        verb = "Bought" if entry.side == JournalEntry.Side.BUY else "Sold"
        description = f"{verb} {decimal_string(entry.qty)} {entry.asset.symbol} at {decimal_string(entry.price)}"
    return {
        "date": entry.effective_at.astimezone(ET).date().isoformat(),
        "at": entry.effective_at.isoformat(),
        "type": _ENTRY_LABELS.get(entry.cause_type, entry.cause_type),
        "cause": entry.cause_type,
        "description": description or _ENTRY_LABELS.get(entry.cause_type, ""),
        "symbol": entry.asset.symbol if entry.asset is not None else "",
        "qty": number(entry.qty),
        "price": number(entry.price),
        "amount": money(amount),
    }


def realized_gains_lines(*, account: Account, since: datetime, until: datetime) -> list[dict]:
    """Every sale of a tax lot in [since, until): the lines of the realized gains sections."""
    return [
        {
            "symbol": closing.asset.symbol,
            "description": f"{decimal_string(closing.qty)} {closing.asset.symbol}",
            "qty": number(closing.qty),
            "acquired_on": closing.acquired_at.astimezone(ET).date().isoformat(),
            "sold_on": closing.sold_at.astimezone(ET).date().isoformat(),
            "proceeds": money(closing.proceeds),
            "cost_basis": money(closing.cost_basis),
            "wash_sale_disallowed": money(closing.wash_sale_disallowed),
            # 1099-B: gain or loss = proceeds − basis + wash sale loss disallowed.
            "gain": money(closing.reported_gain),
            "term": closing.term,
        }
        for closing in lot_closings(account=account, since=since, until=until)
    ]


def gains_totals(lines: list[dict]) -> dict:
    def total(field: str, term: str | None = None) -> str:
        return money(sum((Decimal(line[field]) for line in lines if term in (None, line["term"])), ZERO))

    return {
        "proceeds": total("proceeds"),
        "cost_basis": total("cost_basis"),
        "wash_sale_disallowed": total("wash_sale_disallowed"),
        "short_term_gain": total("gain", "short"),
        "long_term_gain": total("gain", "long"),
        "gain": total("gain"),
    }


def _customer_header(account: Account) -> dict:
    user = account.user
    return {
        "account_number": account.account_number,
        "account_type": account.type,
        "customer": user.get_full_name() or user.email,
        "email": user.email,
    }


def monthly_statement_figures(*, account: Account, start: date, end: date, now: datetime | None = None) -> dict:
    """The account over [start, end] (New York dates; a period still running ends now): opening and closing
    cash and equity, the holdings at each end valued at that moment, every cash line in between and the
    realized gains. opening cash + Σ activity = closing cash, and equity = cash + holdings, to the cent."""
    now = now or timezone.now()
    opens, closes = et_midnight(start), min(et_midnight(end + timedelta(days=1)), now)
    opening_cash, closing_cash = cash_at(account=account, at=opens), cash_at(account=account, at=closes)
    opening_holdings = _holdings_valued(holdings_at(account=account, at=opens), at=opens, now=now)
    closing_holdings = _holdings_valued(holdings_at(account=account, at=closes), at=closes, now=now)
    lines = list(
        _customer_cash_lines(account)
        .filter(entry__effective_at__gte=opens, entry__effective_at__lt=closes)
        .select_related("entry__asset")
        .order_by("entry__effective_at", "entry__created_at", "id")
    )
    by_entry: dict[UUID, tuple[JournalEntry, Decimal]] = {}
    for line in lines:
        entry, amount = by_entry.get(line.entry_id, (line.entry, ZERO))
        by_entry[line.entry_id] = (entry, amount + line.amount)
    activity = [_activity_line(entry, amount) for entry, amount in by_entry.values()]
    per_cause: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entry, amount in by_entry.values():
        cause = entry.reverses.cause_type if entry.cause_type == JournalEntry.Cause.REVERSAL and entry.reverses else ""
        per_cause[cause or entry.cause_type] += amount
    summary = {name: money(sum((per_cause[c] for c in causes), ZERO)) for name, causes in _SUMMARY.items()}
    opening_value = sum((Decimal(h["value"]) for h in opening_holdings), ZERO)
    closing_value = sum((Decimal(h["value"]) for h in closing_holdings), ZERO)
    gains = realized_gains_lines(account=account, since=opens, until=closes)
    return {
        **_customer_header(account),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "valued_at": closes.astimezone(UTC).isoformat(),
        "month_to_date": closes < et_midnight(end + timedelta(days=1)),
        "opening_cash": money(opening_cash),
        "closing_cash": money(closing_cash),
        "opening_holdings_value": money(opening_value),
        "closing_holdings_value": money(closing_value),
        "opening_equity": money(opening_cash + opening_value),
        "closing_equity": money(closing_cash + closing_value),
        "net_cash_activity": money(closing_cash - opening_cash),
        "summary": summary,
        "holdings": closing_holdings,
        "activity": activity,
        "realized_gains": gains,
        "realized_gains_totals": gains_totals(gains),
    }


def statement_accounts(*, start: date, end: date, now: datetime | None = None) -> list[Account]:
    """Accounts owed a statement for [start, end]: any ledger activity in the period, or cash or shares at its end."""
    now = now or timezone.now()
    closes = min(et_midnight(end + timedelta(days=1)), now)
    candidates = Account.objects.filter(
        pk__in=JournalEntry.objects.filter(account__isnull=False, effective_at__lt=closes).values("account_id")
    ).select_related("user")
    owed = []
    for account in candidates.order_by("account_number"):
        active = JournalEntry.objects.filter(
            account=account, effective_at__gte=et_midnight(start), effective_at__lt=closes
        ).exists()
        if active or cash_at(account=account, at=closes) or holdings_at(account=account, at=closes):
            owed.append(account)
    return owed


# --- year-end realized gains (Form 1099-B shaped) ------------------------------------------


def year_end_gains_figures(*, account: Account, year: int) -> dict:
    since, until = et_midnight(date(year, 1, 1)), et_midnight(date(year + 1, 1, 1))
    lines = realized_gains_lines(account=account, since=since, until=until)
    return {
        **_customer_header(account),
        "tax_year": year,
        "period_start": date(year, 1, 1).isoformat(),
        "period_end": date(year, 12, 31).isoformat(),
        "lot_method": account.lot_method,
        "sales": lines,
        "totals": gains_totals(lines),
    }


def gains_report_accounts(*, year: int) -> list[Account]:
    """Accounts with at least one sale of a lot in the tax year."""
    since, until = et_midnight(date(year, 1, 1)), et_midnight(date(year + 1, 1, 1))
    sold = LotClosing.objects.filter(sold_at__gte=since, sold_at__lt=until).values("account_id")
    return list(Account.objects.filter(pk__in=sold).select_related("user").order_by("account_number"))
