"""Equity snapshots (portfolio history, `last_equity`) and the demo history backfill."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from marketdata import selectors as marketdata_selectors
from marketdata.calendars import ET, EquitySession, equity_session, equity_sessions
from portfolios import selectors
from portfolios.models import Account, EquitySnapshot
from portfolios.pricing import prices_for, session_close_prices_for
from speedtrade.money import ZERO, to_cents


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
