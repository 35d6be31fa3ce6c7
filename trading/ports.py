"""Every call trading makes into other apps, in one place: one call site per dependency.

* portfolios (issue 5): buying power, sellable quantity, cash/share reservations and
  fill application (called inside `execution_apply`'s transaction);
* marketdata (issue 3): the latest quote per symbol, assets by symbol (cached per process);
* portfolios (issue 17): whether KYC and restrictions let the account trade; accounts: the audit trail;
* marketdata's reconnect backoff (exponential, full jitter) for venue retries.
"""

from datetime import date, datetime
from decimal import Decimal

from accounts.audit import audit_event_record  # noqa: F401  (re-exported: the one audit writer)
from marketdata.calendars import ET
from marketdata.feeds.backoff import reconnect_delay as retry_delay  # noqa: F401  (re-exported)
from marketdata.models import Asset
from marketdata.quotes import Quote, latest_quotes
from marketdata.selectors import asset_by_symbol_cached as asset_by_symbol  # noqa: F401  (order entry's asset read)
from portfolios import selectors as portfolio_selectors
from portfolios import services as portfolio_services
from portfolios.models import Account, LedgerAccount, Position
from portfolios.pricing import valuation_at_market
from portfolios.selectors import trading_refusal_reason  # noqa: F401  (re-exported: the one KYC/restriction check)


def latest_quote(*, symbol: str) -> Quote | None:
    return latest_quotes([symbol]).get(symbol)


def buying_power(*, account: Account) -> Decimal:
    """Cash the account can still commit to new buys, net of what open orders hold.

    Cash accounts: cash (settled or not; unsettled proceeds may buy, not be withdrawn) −
    reservations, read from the one ledger row. Margin accounts: portfolios' intraday
    buying power (FINRA 4210 as amended 2026-06-04: (equity − maintenance margin) /
    maintenance rate − reservations), computed by `account_valuation`.
    """
    if account.type == Account.Type.MARGIN:
        return valuation_at_market(account=account).intraday_buying_power
    cash = LedgerAccount.objects.only("balance", "reserved").get(account=account, kind=LedgerAccount.Kind.CASH)
    return max(cash.balance - cash.reserved, Decimal(0))


def sellable_qty(*, account: Account, asset: Asset) -> Decimal:
    """Shares held and not already reserved by open sell orders (no shorting)."""
    position = Position.objects.filter(account=account, asset=asset).only("qty", "reserved_qty").first()
    return Decimal(0) if position is None else position.qty - position.reserved_qty


cash_reserve = portfolio_services.cash_reserve
cash_release = portfolio_services.cash_release
position_reserve = portfolio_services.position_reserve
position_release = portfolio_services.position_release


def fill_apply(
    *,
    account: Account,
    asset: Asset,
    side: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    executed_at: datetime,
    cause: object,
) -> Decimal:
    """Move cash and position for one execution; returns the position quantity afterwards."""
    position = portfolio_services.fill_apply(
        account=account, asset=asset, side=side, qty=qty, price=price, fee=fee, executed_at=executed_at, cause=cause
    )
    return position.qty


def open_position(*, account: Account, symbol_or_asset_id: str) -> Position | None:
    return portfolio_selectors.position_get(account=account, symbol_or_asset_id=symbol_or_asset_id)


def open_positions(*, account: Account) -> list[Position]:
    return portfolio_selectors.position_list(account=account)


def trade_date(now: datetime) -> date:
    """The New York date trades and settlement count in."""
    return now.astimezone(ET).date()


def cash_state(*, account: Account, now: datetime) -> portfolio_selectors.CashState:
    return portfolio_selectors.cash_state(account=account, as_of=now)


shares_bought_with_unsettled_funds = portfolio_selectors.shares_bought_with_unsettled_funds
good_faith_violation_dates = portfolio_selectors.good_faith_violation_dates
