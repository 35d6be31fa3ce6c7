"""Every call trading makes into other apps, in one place: one call site per dependency.

* portfolios (issue 5): buying power, sellable quantity, cash/share reservations and
  fill application (called inside `execution_apply`'s transaction);
* marketdata (issue 3): the latest quote per symbol;
* accounts (issue 6): whether KYC and restrictions let the account trade.

The functions below call those apps' services by the names their briefs promise.
Until those branches are merged the test suite installs a stand-in
(`trading/tests/standins.py`); the merge replaces nothing here.
"""

from datetime import datetime
from decimal import Decimal

from marketdata.models import Asset
from marketdata.quotes import Quote
from portfolios.models import Account


def trading_refusal_reason(*, account: Account) -> str | None:
    """KYC / restriction check (issue 6's `accounts.selectors.trading_refusal_reason`); None = may trade."""
    if not account.can_trade:
        if account.status != Account.Status.ACTIVE:
            return "The account is not active yet: identity verification (KYC) must be approved first."
        return "The account is restricted from trading."
    return None


def latest_quote(*, symbol: str) -> Quote | None:
    from marketdata.quotes import latest_quotes

    return latest_quotes([symbol]).get(symbol)


def buying_power(*, account: Account) -> Decimal:
    """Cash the account can still commit to new buys (net of reservations already held)."""
    from portfolios.selectors import account_valuation

    return account_valuation(account=account).buying_power


def sellable_qty(*, account: Account, asset: Asset) -> Decimal:
    """Shares held and not already reserved by open sell orders (no shorting)."""
    from portfolios.selectors import position_sellable_qty

    return position_sellable_qty(account=account, asset=asset)


def cash_reserve(*, account: Account, amount: Decimal, order_ref: str) -> None:
    from portfolios.services import cash_reserve as reserve

    reserve(account=account, amount=amount, order_ref=order_ref)


def cash_release(*, account: Account, amount: Decimal, order_ref: str) -> None:
    from portfolios.services import cash_release as release

    release(account=account, amount=amount, order_ref=order_ref)


def position_reserve(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    from portfolios.services import position_reserve as reserve

    reserve(account=account, asset=asset, qty=qty, order_ref=order_ref)


def position_release(*, account: Account, asset: Asset, qty: Decimal, order_ref: str) -> None:
    from portfolios.services import position_release as release

    release(account=account, asset=asset, qty=qty, order_ref=order_ref)


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
    from portfolios.services import fill_apply as apply

    position = apply(
        account=account, asset=asset, side=side, qty=qty, price=price, fee=fee, executed_at=executed_at, cause=cause
    )
    return position.qty
