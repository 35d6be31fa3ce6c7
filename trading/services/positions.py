"""Closing positions (Alpaca's DELETE /positions): market sells through order entry, every pre-trade rule applying."""

from datetime import datetime
from decimal import Decimal

from portfolios import selectors as portfolio_selectors
from portfolios.models import Account, Position
from speedtrade import money
from speedtrade.errors import DomainError, NotFound
from trading.models import Order
from trading.risk import OrderRequest
from trading.services.orders import order_cancel_all, order_place


class PositionNotFound(NotFound):
    default_code = "position_not_found"


def _closing_qty(*, position: Position, qty: Decimal | None, percentage: Decimal | None) -> Decimal:
    """All of the position, `qty` of it, or `percentage` of it rounded down to what can trade.

    As at Alpaca, a percentage sells fractions only of a position that is already fractional.
    """
    if qty is not None:
        return qty
    if percentage is None:
        return position.qty
    asset = position.asset
    step = Decimal(1) if money.is_whole(position.qty) and not asset.is_crypto else None
    step = step or asset.min_trade_increment
    wanted = (position.qty * percentage / 100 // step) * step
    if wanted <= 0:
        raise DomainError(
            f"{percentage.normalize()}% of {position.qty.normalize()} {asset.symbol} is less than one tradable unit.",
            code="qty_below_minimum",
            field="percentage",
        )
    return wanted


def position_close(
    *,
    account: Account,
    symbol_or_asset_id: str,
    qty: Decimal | None = None,
    percentage: Decimal | None = None,
    now: datetime | None = None,
) -> Order:
    """Sell all of an open position (or `qty` / `percentage` of it) with a market order, through `order_place`.

    Every pre-trade rule applies unchanged: shares held by other open sells are not sellable
    (`insufficient_position`), the market's session rules hold. Not held (or another user's) → 404.
    """
    position = portfolio_selectors.position_get(account=account, symbol_or_asset_id=symbol_or_asset_id)
    if position is None:
        raise PositionNotFound(f"No open position in {symbol_or_asset_id}.")
    asset = position.asset
    request = OrderRequest(
        symbol=asset.symbol,
        side=Order.Side.SELL,
        type=Order.Type.MARKET,
        # Crypto takes gtc; equities day, the only tif fractional shares may use.
        time_in_force=Order.TimeInForce.GTC if asset.is_crypto else Order.TimeInForce.DAY,
        qty=_closing_qty(position=position, qty=qty, percentage=percentage),
    )
    order, _ = order_place(account=account, request=request, now=now)
    return order


def position_close_all(
    *, account: Account, cancel_orders: bool = False, now: datetime | None = None
) -> list[tuple[str, Order | DomainError]]:
    """Close every open position: each symbol with its closing order or the refusal (Alpaca's 207 list).

    With `cancel_orders`, open orders are canceled first, so shares held by resting sells
    are free again (on a venue that confirms cancels later, those positions answer
    `insufficient_position` until it has).
    """
    if cancel_orders:
        order_cancel_all(account=account, now=now)
    results: list[tuple[str, Order | DomainError]] = []
    for position in portfolio_selectors.position_list(account=account):
        try:
            order = position_close(account=account, symbol_or_asset_id=str(position.asset_id), now=now)
            results.append((position.asset.symbol, order))
        except DomainError as refusal:
            results.append((position.asset.symbol, refusal))
    return results
