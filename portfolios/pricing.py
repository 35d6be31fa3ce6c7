"""The one place portfolios asks for prices. Everything else takes prices as arguments."""

from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

from marketdata.calendars import EquitySession
from marketdata.models import Asset
from marketdata.quotes import Quote
from marketdata.selectors import latest_prices, previous_closes, price_from_quote, session_closes
from portfolios.models import Account
from portfolios.selectors import AccountValuation, valuation_inputs, valuation_priced


def prices_for(assets: Iterable[Asset]) -> tuple[dict[UUID, Decimal], dict[UUID, Decimal]]:
    """(latest price, previous session close) per asset id, from market data."""
    assets = list(assets)
    return latest_prices(assets), previous_closes(assets)


def session_close_prices_for(
    assets: Iterable[Asset], *, session: EquitySession
) -> tuple[dict[UUID, Decimal], dict[UUID, Decimal]]:
    """`prices_for` as of `session`'s close: stocks at their regular close (not an after-hours
    trade taken when the snapshot task happens to run), crypto at its latest price."""
    assets = list(assets)
    prices, closes = prices_for(assets)
    at_close = session_closes([asset for asset in assets if not asset.is_crypto], session=session)
    return prices | at_close, closes


def valuation_at_market(*, account: Account, account_read: bool = False) -> AccountValuation:
    """`account_valuation` at the latest prices (what the API and dashboard show), priced for the
    positions the valuation itself loaded rather than a second read of the assets held. `account_read`: as
    `valuation_inputs`' (the valuation's account is its row as read with the figures)."""
    inputs = valuation_inputs(account=account, account_read=account_read)
    prices, closes = prices_for(position.asset for position in inputs.held)
    return valuation_priced(inputs=inputs, prices=prices, previous_closes=closes)


def price_from_tick(tick: Quote, asset: Asset) -> Decimal | None:
    """The price one live tick (from the quote hub) gives `asset`, as `prices_for` would read it; None when none."""
    return price_from_quote(tick, asset)
