"""The activity feed (fills, transfers, fees, adjustments) and the portfolio history."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.utils import timezone

from marketdata.calendars import ET
from portfolios.models import Account, EquitySnapshot, JournalEntry, JournalLine, Transfer
from portfolios.selectors.common import Kind, ratio
from speedtrade.money import ZERO

ACTIVITY_TYPES = ("FILL", "TRANS", "FEE", "JNLC")
# Keyed by the stored `cause_type` (a str); the Cause members are those strs.
_ENTRY_ACTIVITY: dict[str, str] = {
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
            # The journal_fill_has_trade_details constraint: a fill's entry always names its asset.
            "symbol": entry.asset.symbol,  # type: ignore[union-attr]
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
        page = list(entries.order_by(f"{order}effective_at", f"{order}created_at")[:page_size])
        cash_amounts = dict(
            JournalLine.objects.filter(entry__in=page, ledger_account__kind=Kind.CASH).values_list("entry_id", "amount")
        )
        activities += [(e.effective_at, _entry_activity(e, cash_amounts.get(e.pk, ZERO))) for e in page]
    if "TRANS" in types:
        transfers = Transfer.objects.filter(account=account, status=Transfer.Status.SETTLED)
        if after:
            transfers = transfers.filter(settled_at__gt=after)
        if until:
            transfers = transfers.filter(settled_at__lt=until)
        for transfer in transfers.order_by(f"{order}settled_at")[:page_size]:
            sign = 1 if transfer.direction == Transfer.Direction.INCOMING else -1
            # cast: settling a transfer stamps settled_at (services/transfers.py), and only settled ones are read.
            settled_at = cast(datetime, transfer.settled_at)
            activities.append(
                (
                    settled_at,
                    {
                        "id": _activity_id(settled_at, transfer.pk),
                        "account_id": account.pk,
                        "activity_type": "TRANS",
                        "date": settled_at.astimezone(ET).date(),
                        "net_amount": sign * transfer.amount,
                        "description": f"{transfer.direction} transfer",
                        "status": "executed",
                    },
                )
            )
    activities.sort(key=lambda pair: pair[0], reverse=newest_first)
    return [activity for _, activity in activities[:page_size]]


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
    span = PERIODS[period]
    if span is not None:
        snapshots = snapshots.filter(timestamp__gte=as_of - span)
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
        profit_loss_pct=[ratio(pl, base_value) if base_value else None for pl in profit_loss],
        base_value=base_value,
        timeframe=timeframe,
    )
