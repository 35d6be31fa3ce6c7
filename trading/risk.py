"""Pre-trade checks. Each refusal is an `OrderRejected` with a stable code, a message and the field at fault.

`pre_trade_check` runs them all, in one order, for both callers: `order_place` before its
order writer (`trading/order_writer.py`), which then makes the checks that must see locked
state (tradable, wash trade, buying power or shares as a conditional reservation) with the
account row locked, and the ticket's Review (`trading.selectors.order_preview`) without
locks, so Review refuses exactly what Place refuses. The codes and the formulas are listed
in docs/notes/trading.md.

Over 400 lines on purpose: it is the one list of order entry's rules, each a short function, and
`pre_trade_check` at its end runs them in order; split, the order of the refusals would be spread
over modules that must change together.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NoReturn, cast

from django.conf import settings

from marketdata import calendars
from marketdata.models import Asset
from marketdata.quotes import REDIS_KEY_PREFIX as QUOTE_KEY_PREFIX
from marketdata.quotes import Quote, latest_quotes, quote_from_redis
from portfolios import selectors as portfolio_selectors
from portfolios.models import Account, LedgerAccount, Position
from portfolios.pricing import valuation_at_market
from portfolios.selectors import trading_refusal_reason
from speedtrade import money
from speedtrade.errors import DomainError
from trading.brokers.base import (
    broker_name_for,
    venue_refusal_cache_key,
    venue_refusal_from_cache,
    venue_refusal_reason,
)
from trading.models import Order

ONE_CENT = money.CENT
SUB_DOLLAR_TICK = Decimal("0.0001")
ONE_DOLLAR = money.ONE_DOLLAR
T = Order.Type
TIF = Order.TimeInForce


class OrderRejected(DomainError):
    default_code = "order_rejected"


@dataclass(frozen=True)
class Leg:
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True)
class OrderRequest:
    """A parsed order: types are right, values are not yet judged."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    order_class: str = Order.OrderClass.SIMPLE
    take_profit: Leg | None = None
    stop_loss: Leg | None = None
    client_order_id: str = ""
    # A sell's tax lots chosen on the ticket: (lot id, shares), in the order chosen (portfolios.LotSelection).
    lots: tuple[tuple[int, Decimal], ...] = ()
    extra: dict = field(default_factory=dict)


def price_tick(asset: Asset, price: Decimal) -> Decimal:
    """US equities: $0.01 at or above $1, $0.0001 below (Reg NMS 612). Crypto: the asset's own increment."""
    if asset.is_crypto:
        return asset.price_increment
    return ONE_CENT if price >= ONE_DOLLAR else SUB_DOLLAR_TICK


def latest_quote(symbol: str) -> Quote | None:
    """The quote an order is checked and sized against."""
    return latest_quotes([symbol]).get(symbol)


def buying_power(account: Account) -> Decimal:
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


def sellable_qty(account: Account, asset: Asset) -> Decimal:
    """Shares held and not already reserved by open sell orders (no shorting)."""
    position = Position.objects.filter(account=account, asset=asset).only("qty", "reserved_qty").first()
    return Decimal(0) if position is None else position.qty - position.reserved_qty


def _reject(code: str, message: str, field_name: str | None = None) -> NoReturn:
    raise OrderRejected(message, code=code, field=field_name)


def check_account(account: Account) -> None:
    reason = trading_refusal_reason(account=account)
    if reason:
        _reject("account_not_tradable", reason)


def check_asset(asset: Asset) -> None:
    if asset.status != Asset.Status.ACTIVE or not asset.tradable:
        _reject("asset_not_tradable", f"{asset.symbol} is not tradable.", "symbol")


def check_shape(request: OrderRequest, asset: Asset) -> None:
    """Fields present exactly when the order type, class and time in force need them."""
    needs_by_type: dict[str, set[str]] = {
        T.MARKET: set(),
        T.LIMIT: {"limit_price"},
        T.STOP: {"stop_price"},
        T.STOP_LIMIT: {"limit_price", "stop_price"},
        T.TRAILING_STOP: set(),
    }
    needs = needs_by_type[request.type]
    for name in ("limit_price", "stop_price"):
        present = getattr(request, name) is not None
        if name in needs and not present:
            _reject("missing_field", f"{name} is required for {request.type} orders.", name)
        if name not in needs and present:
            _reject("unexpected_field", f"{name} is not allowed for {request.type} orders.", name)
    trails = [name for name in ("trail_price", "trail_percent") if getattr(request, name) is not None]
    if request.type == T.TRAILING_STOP and len(trails) != 1:
        _reject("missing_field", "Trailing stops need exactly one of trail_price or trail_percent.", "trail_price")
    if request.type != T.TRAILING_STOP and trails:
        _reject("unexpected_field", f"{trails[0]} is only for trailing_stop orders.", trails[0])
    if request.trail_percent is not None and not Decimal(0) < request.trail_percent < Decimal(100):
        _reject("invalid_trail_percent", "trail_percent must be between 0 and 100.", "trail_percent")

    if request.notional is not None and request.type != T.MARKET:
        _reject("notional_requires_market", "Dollar-amount (notional) orders must be market orders.", "notional")

    if asset.is_crypto:
        if request.time_in_force not in (TIF.GTC, TIF.IOC):
            _reject("time_in_force_not_supported", "Crypto orders take time_in_force gtc or ioc.", "time_in_force")
        if request.extended_hours:
            _reject("extended_hours_not_supported", "Crypto trades around the clock.", "extended_hours")
    if request.extended_hours and (request.type != T.LIMIT or request.time_in_force != TIF.DAY):
        _reject(
            "extended_hours_requires_limit_day",
            "Extended hours orders must be limit orders with day.",
            "extended_hours",
        )
    if request.time_in_force in (TIF.OPG, TIF.CLS) and request.type not in (T.MARKET, T.LIMIT):
        _reject("time_in_force_not_supported", "opg and cls orders must be market or limit.", "time_in_force")
    check_order_class(request)


def with_oco_limit(request: OrderRequest) -> OrderRequest:
    """Alpaca's OCO request carries its limit in take_profit; the order itself is that limit sell."""
    if request.order_class != Order.OrderClass.OCO or request.take_profit is None:
        return request
    take = request.take_profit.limit_price
    if request.limit_price is not None and take is not None and request.limit_price != take:
        _reject("invalid_take_profit", "An OCO order's limit_price must equal take_profit.limit_price.", "limit_price")
    return replace(request, limit_price=request.limit_price or take)


def check_order_class(request: OrderRequest) -> None:
    """Contingent orders, as Alpaca shapes them. Bracket/OTO: a buy entry whose legs sell what it buys;
    OCO: a limit sell (take profit) and a stop sell (stop loss) of a held position."""
    klass = request.order_class
    if klass == Order.OrderClass.SIMPLE:
        if request.take_profit or request.stop_loss:
            _reject("unexpected_field", "take_profit/stop_loss need order_class bracket, oco or oto.", "order_class")
        return
    if request.qty is None:
        _reject("notional_not_allowed", f"{klass} orders need qty, not notional.", "notional")
    if request.time_in_force not in (TIF.DAY, TIF.GTC):
        _reject("time_in_force_not_supported", f"{klass} orders take day or gtc.", "time_in_force")
    if klass == Order.OrderClass.BRACKET and not (request.take_profit and request.stop_loss):
        _reject("missing_field", "Bracket orders need both take_profit and stop_loss.", "take_profit")
    if klass == Order.OrderClass.OTO and bool(request.take_profit) == bool(request.stop_loss):
        _reject("missing_field", "OTO orders need exactly one of take_profit or stop_loss.", "take_profit")
    if klass == Order.OrderClass.OCO and (request.type != T.LIMIT or not (request.take_profit and request.stop_loss)):
        _reject("missing_field", "OCO orders are a limit order with take_profit and stop_loss.", "take_profit")
    if klass in (Order.OrderClass.BRACKET, Order.OrderClass.OTO) and request.type not in (T.MARKET, T.LIMIT):
        _reject("order_class_not_supported", f"{klass} entry orders must be market or limit.", "type")
    # Legs sell: a sell entry would need buy legs covering a short, and accounts cannot go short.
    exit_side = Order.Side.SELL if klass == Order.OrderClass.OCO else Order.Side.BUY
    if request.side != exit_side:
        _reject("order_class_not_supported", f"{klass} orders must be {exit_side} orders (no short selling).", "side")
    if request.take_profit and request.take_profit.limit_price is None:
        _reject("missing_field", "take_profit needs limit_price.", "take_profit")
    if request.stop_loss and request.stop_loss.stop_price is None:
        _reject("missing_field", "stop_loss needs stop_price.", "stop_loss")
    stop_loss, take_profit = request.stop_loss, request.take_profit
    # The two checks just above refused legs without these prices; mypy cannot carry that through `a and b`.
    if stop_loss and stop_loss.limit_price is not None and stop_loss.limit_price > cast(Decimal, stop_loss.stop_price):
        _reject("invalid_stop_loss", "stop_loss.limit_price must not be above stop_loss.stop_price.", "stop_loss")
    if take_profit and stop_loss and cast(Decimal, take_profit.limit_price) <= cast(Decimal, stop_loss.stop_price):
        _reject("invalid_legs", "take_profit.limit_price must be above stop_loss.stop_price.", "take_profit")


def check_leg_prices(request: OrderRequest, asset: Asset, quote: Quote | None) -> None:
    """Bracket/OTO legs against the entry's base price (its limit, else the ask), as Alpaca checks them:
    take_profit.limit_price ≥ base + one tick, stop_loss.stop_price ≤ base − one tick."""
    if request.order_class not in (Order.OrderClass.BRACKET, Order.OrderClass.OTO):
        return
    base = reference_price(request, asset, quote)
    tick = price_tick(asset, base)
    # check_order_class (run first, in pre_trade_check) refused legs without their price.
    if request.take_profit and cast(Decimal, request.take_profit.limit_price) < base + tick:
        _reject(
            "invalid_take_profit",
            f"take_profit.limit_price must be at least {(base + tick).normalize()} (base price + {tick.normalize()}).",
            "take_profit",
        )
    if request.stop_loss and cast(Decimal, request.stop_loss.stop_price) > base - tick:
        _reject(
            "invalid_stop_loss",
            f"stop_loss.stop_price must be at most {(base - tick).normalize()} (base price − {tick.normalize()}).",
            "stop_loss",
        )


# Alpaca's auction placement windows: opg until 9:28 ET, cls until 15:50 ET (10 minutes before an early
# close); both accepted again from 19:00 ET for the next session.
OPG_CUTOFF_BEFORE_OPEN = timedelta(minutes=2)
CLS_CUTOFF_BEFORE_CLOSE = timedelta(minutes=10)
AUCTION_ORDERS_REOPEN = time(19, 0)


def check_auction_window(request: OrderRequest, now: datetime) -> None:
    if request.time_in_force not in (TIF.OPG, TIF.CLS):
        return
    today = calendars.equity_session(now.astimezone(calendars.ET).date())
    if today is None:
        return
    reopen = datetime.combine(today.date, AUCTION_ORDERS_REOPEN, tzinfo=calendars.ET)
    if request.time_in_force == TIF.OPG:
        cutoff, label = today.open - OPG_CUTOFF_BEFORE_OPEN, "opg orders are accepted until 2 minutes before the open"
    else:
        cutoff, label = (
            today.close - CLS_CUTOFF_BEFORE_CLOSE,
            "cls orders are accepted until 10 minutes before the close",
        )
    if cutoff <= now < reopen:
        _reject("auction_window_closed", f"{label}, and again from 19:00 ET for the next session.", "time_in_force")


def check_quantity(request: OrderRequest, asset: Asset) -> None:
    if request.qty is not None:
        qty = request.qty
        if qty < asset.min_order_size:
            _reject("qty_below_minimum", f"qty must be at least {asset.min_order_size.normalize()}.", "qty")
        if qty % asset.min_trade_increment:
            _reject("qty_increment", f"qty must be a multiple of {asset.min_trade_increment.normalize()}.", "qty")
        if not money.is_whole(qty) and not asset.is_crypto:
            check_fractional(request, asset, "qty")
    else:
        if cast(Decimal, request.notional) < money.MIN_FRACTIONAL_ORDER_VALUE:  # no qty: a notional (the serializer)
            _reject("notional_below_minimum", "notional must be at least $1.", "notional")
        if not asset.is_crypto:
            check_fractional(request, asset, "notional")


def check_fractional(request: OrderRequest, asset: Asset, field_name: str) -> None:
    if not asset.fractionable:
        _reject("not_fractionable", f"{asset.symbol} cannot be traded in fractions.", field_name)
    simple = request.order_class == Order.OrderClass.SIMPLE
    if request.type not in (T.MARKET, T.LIMIT) or request.time_in_force != TIF.DAY or not simple:
        _reject(
            "fractional_requires_day", "Fractional orders must be simple market or limit orders with day.", field_name
        )


def check_prices(request: OrderRequest, asset: Asset) -> None:
    priced = [
        ("limit_price", request.limit_price),
        ("stop_price", request.stop_price),
        ("trail_price", request.trail_price),
        ("take_profit", request.take_profit.limit_price if request.take_profit else None),
        ("stop_loss", request.stop_loss.stop_price if request.stop_loss else None),
        ("stop_loss", request.stop_loss.limit_price if request.stop_loss else None),
    ]
    for name, price in priced:
        if price is None:
            continue
        if price <= 0:
            _reject("invalid_price", f"{name} must be positive.", name)
        tick = price_tick(asset, price)
        if price % tick:
            _reject("price_increment", f"{name} must be a multiple of {tick.normalize()}.", name)


def check_limit_band(request: OrderRequest, quote: Quote | None) -> None:
    """A limit far through the market is almost always a typo: refuse it."""
    if request.limit_price is None or quote is None:
        return
    band = settings.TRADING_LIMIT_PRICE_BAND_PERCENT / 100
    if request.side == Order.Side.BUY and request.limit_price > quote.ask * (1 + band):
        _reject(
            "limit_price_too_far",
            f"Buy limit is more than {settings.TRADING_LIMIT_PRICE_BAND_PERCENT}% above the ask.",
            "limit_price",
        )
    if request.side == Order.Side.SELL and request.limit_price < quote.bid * (1 - band):
        _reject(
            "limit_price_too_far",
            f"Sell limit is more than {settings.TRADING_LIMIT_PRICE_BAND_PERCENT}% below the bid.",
            "limit_price",
        )


def reference_price(request: OrderRequest, asset: Asset, quote: Quote | None) -> Decimal:
    """The price an order is expected to trade at, for sizing its reservation."""
    # check_shape: limit and stop_limit orders have a limit_price, stop orders a stop_price, trailing stops
    # one of trail_price and trail_percent; an order without notional has a qty (the serializer).
    if request.type in (T.LIMIT, T.STOP_LIMIT):
        return cast(Decimal, request.limit_price)
    if quote is not None:
        market = quote.ask if request.side == Order.Side.BUY else quote.bid
    else:
        market = asset.reference_price
    if request.type == T.STOP:
        market = max(market, cast(Decimal, request.stop_price)) if request.side == Order.Side.BUY else market
    if request.type == T.TRAILING_STOP and request.side == Order.Side.BUY:
        trail_percent = cast(Decimal, request.trail_percent)  # when there is no trail_price (check_shape)
        market += request.trail_price if request.trail_price is not None else market * trail_percent / 100
    return market


def estimated_cost(request: OrderRequest, asset: Asset, quote: Quote | None) -> Decimal:
    """Cash a buy must hold back. Orders without a price cap carry TRADING_MARKET_BUY_BUFFER_PERCENT on top."""
    if request.notional is not None:
        return request.notional
    price = reference_price(request, asset, quote)
    if request.type not in (T.LIMIT, T.STOP_LIMIT):
        price *= 1 + settings.TRADING_MARKET_BUY_BUFFER_PERCENT / 100
    return money.cents_up(cast(Decimal, request.qty) * price)  # not notional, so a qty (the serializer)


def estimated_fee(request: OrderRequest, asset: Asset) -> Decimal:
    """Commission an order is expected to cost: the paper venue charges none (fills carry fee 0).
    Regulatory pass-through fees (SEC fee, FINRA TAF on sells) are not modelled yet."""
    return Decimal(0)


def check_minimum_value(account: Account, request: OrderRequest, asset: Asset, quote: Quote | None) -> None:
    """A fractional stock quantity must be worth at least $1 (Alpaca's minimum), as a notional order must.

    Without it, a sliver of a share costs a cent or less per order and sells for more in bulk.
    Selling all that is left of a position is allowed at any value, so no remainder is stranded.
    Crypto is always fractional: the asset's min_order_size and the venue's minimums apply.
    """
    if request.qty is None or money.is_whole(request.qty) or asset.is_crypto:
        return
    value = request.qty * reference_price(request, asset, quote)
    if value < money.MIN_FRACTIONAL_ORDER_VALUE:
        if request.side == Order.Side.SELL and request.qty == sellable_qty(account, asset):
            return
        _reject(
            "value_below_minimum",
            f"Orders must be worth at least {money.dollars(money.MIN_FRACTIONAL_ORDER_VALUE)}; "
            f"this one is worth {money.dollars(value)}. Increase the quantity.",
            "qty",
        )


def check_max_notional(request: OrderRequest, asset: Asset, quote: Quote | None) -> None:
    qty = cast(Decimal, request.qty)  # read only when there is no notional: then there is a qty (the serializer)
    value = request.notional if request.notional is not None else qty * reference_price(request, asset, quote)
    if value > settings.TRADING_MAX_ORDER_NOTIONAL:
        _reject(
            "max_notional_exceeded",
            f"Orders are limited to ${settings.TRADING_MAX_ORDER_NOTIONAL:,} each.",
            "notional" if request.notional is not None else "qty",
        )


def check_buying_power(account: Account, cost: Decimal) -> None:
    """Cash accounts: settled-or-allowed cash − reservations; margin: portfolios' intraday buying power."""
    require_buying_power(cost, buying_power(account))


def require_buying_power(cost: Decimal, available: Decimal) -> None:
    """Refuse a buy that needs more than `available` (also the order writer's refusal, with what it saw locked)."""
    if cost > available:
        _reject(
            "insufficient_buying_power",
            f"Insufficient buying power: the order needs {money.dollars(cost)}, "
            f"{money.dollars(available)} is available.",
            "notional" if cost == 0 else None,
        )


def sell_qty_needed(request: OrderRequest, asset: Asset, quote: Quote | None) -> Decimal:
    """Shares a sell must hold back; a notional sell holds enough for its dollars at the bid, plus the buffer."""
    if request.qty is not None:
        return request.qty
    price = quote.bid if quote is not None else asset.reference_price
    buffer = 1 + settings.TRADING_MARKET_BUY_BUFFER_PERCENT / 100
    notional = cast(Decimal, request.notional)  # no qty, so a notional (the serializer)
    return money.qty_up_to_step(notional * buffer / price, asset.min_trade_increment)


def check_holds(account: Account, asset: Asset) -> None:
    """A sell of something the account does not hold is refused as that, before any other sell rule
    (a wash-trade warning about one's own buy is no answer to "I own none")."""
    _require_holding(asset, sellable_qty(account, asset))


def _require_holding(asset: Asset, available: Decimal) -> None:
    if available <= 0:
        _reject("insufficient_position", f"You hold no {asset.symbol} to sell.", "qty")


def check_sellable(account: Account, asset: Asset, qty: Decimal) -> Decimal:
    available = sellable_qty(account, asset)
    require_sellable(asset, qty, available)
    return min(qty, available)


def require_sellable(asset: Asset, qty: Decimal, available: Decimal) -> None:
    """Refuse a sell of more than `available` shares (also the order writer's refusal, with what it saw locked)."""
    _require_holding(asset, available)
    if qty > available:
        _reject(
            "insufficient_position",
            f"Cannot sell {qty.normalize()} {asset.symbol}: {available.normalize()} available "
            "(short selling is not allowed).",
            "qty",
        )


def would_cross(request: OrderRequest | Order, resting: Order) -> bool:
    """Would the new order execute against this resting opposite order of the same account?"""
    resting_limit = resting.limit_price if resting.type in (T.LIMIT, T.STOP_LIMIT) else None
    if request.type == T.MARKET or resting.type == T.MARKET:
        return True
    if request.type not in (T.LIMIT, T.STOP_LIMIT) or resting_limit is None:
        return False
    limit_price = cast(Decimal, request.limit_price)  # a limit or stop_limit order (check_shape)
    if request.side == Order.Side.BUY:
        return limit_price >= resting_limit
    return limit_price <= resting_limit


def check_wash_trade(request: OrderRequest, opposite_open_orders: list[Order]) -> None:
    for resting in opposite_open_orders:
        if would_cross(request, resting):
            refuse_wash_trade(resting_side=resting.side, resting_id=resting.id)


def refuse_wash_trade(*, resting_side: str, resting_id) -> NoReturn:
    _reject(
        "potential_wash_trade",
        f"This order could trade against your own open {resting_side} order {resting_id}; cancel it first.",
    )


# --- Good faith (cash accounts) ------------------------------------------------------------
#
# A good-faith violation (GFV): a stock bought with unsettled sale proceeds and sold before those
# proceeds settle (T+1). Portfolios records the purchases and the violations at fill time; the
# rule lives here. Each violation counts for 12 months; reaching TRADING_GFV_LIMIT of them
# (FINRA/Reg T practice: 3) restricts the account's stock purchases to settled cash for 90 days
# from the violation that reached it. Docs: docs/notes/trading.md.

GFV_WINDOW = timedelta(days=365)
GFV_RESTRICTION = timedelta(days=90)


@dataclass(frozen=True)
class GoodFaithStanding:
    violations: int  # in the 12 months up to today
    restricted_until: date | None  # stock purchases only with settled cash before this day


def good_faith_standing(account: Account, today: date) -> GoodFaithStanding:
    limit = settings.TRADING_GFV_LIMIT
    dates = portfolio_selectors.good_faith_violation_dates(account=account, since=today - GFV_WINDOW - GFV_RESTRICTION)
    restricted_until = None
    for index, violation_date in enumerate(dates):
        in_window = [d for d in dates[: index + 1] if d > violation_date - GFV_WINDOW]
        if len(in_window) >= limit:
            restricted_until = violation_date + GFV_RESTRICTION
    return GoodFaithStanding(
        violations=sum(1 for d in dates if d > today - GFV_WINDOW),
        restricted_until=restricted_until if restricted_until and restricted_until > today else None,
    )


def _warning(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def check_good_faith(account: Account, asset: Asset, side: str, amount: Decimal, now: datetime) -> list[dict]:
    """Warn about, or refuse, a stock order in a cash account that meets unsettled funds.

    Buys (`amount` = the reserved cost): refused while the account is restricted unless
    settled cash covers them; otherwise warned when unsettled funds will pay. Sells
    (`amount` = shares): warned when they would sell shares bought with unsettled funds
    before those settle, refused with `good_faith_violation_limit` once the limit is reached.
    Returns the warnings for the order's response and its "new" event.
    """
    if account.type != Account.Type.CASH or asset.is_crypto:
        return []
    today = now.astimezone(calendars.ET).date()  # the New York date trades count in
    limit = settings.TRADING_GFV_LIMIT
    if side == Order.Side.BUY:
        funds = portfolio_selectors.cash_state(account=account, as_of=now)
        settled_available = max(funds.settled - funds.reserved, Decimal(0))
        if amount <= settled_available:
            return []
        standing = good_faith_standing(account, today)
        if standing.restricted_until:
            _reject(
                "good_faith_violation_limit",
                f"{standing.violations} good-faith violations in 12 months: until {standing.restricted_until} "
                f"stock purchases need settled cash (${settled_available} available, ${amount} needed).",
            )
        return [
            _warning(
                "unsettled_funds",
                f"${min(amount - settled_available, funds.unsettled)} of this purchase is paid with unsettled "
                f"funds: selling it before {funds.unsettled_until} would be a good-faith violation.",
            )
        ]
    at_risk = portfolio_selectors.shares_bought_with_unsettled_funds(account=account, asset=asset, on=today)
    if at_risk.qty <= 0 or amount <= sellable_qty(account, asset) - at_risk.qty:
        return []
    standing = good_faith_standing(account, today)
    if standing.violations >= limit:
        _reject(
            "good_faith_violation_limit",
            f"Selling {asset.symbol} before {at_risk.funds_settle_on} would be a good-faith violation; the account "
            f"already has {standing.violations} in 12 months (limit {limit}). Sell on or after "
            f"{at_risk.funds_settle_on}.",
            "qty",
        )
    return [
        _warning(
            "good_faith_violation",
            f"{asset.symbol} was bought with funds that settle on {at_risk.funds_settle_on}: selling it before then "
            f"is a good-faith violation ({standing.violations + 1} of {limit} in 12 months; at {limit} the account "
            "may buy stocks only with settled cash for 90 days).",
        )
    ]


# --- What the checks read from Redis, and when they read nothing from the database --------------------


@dataclass(frozen=True)
class MarketInputs:
    """What `pre_trade_check` reads from Redis: reconciliation's refusal of the order's venue, the latest quote."""

    venue_refusal: str | None
    quote: Quote | None


def market_inputs(*, broker: str, symbol: str) -> MarketInputs:
    return MarketInputs(venue_refusal=venue_refusal_reason(broker), quote=latest_quote(symbol))


def market_inputs_queue(pipeline, *, broker: str, symbol: str) -> Callable[[list], MarketInputs]:
    """The same reads queued on a Redis pipeline (an asyncio one: the lean path's round trip, with its throttle);
    returns what reads them from the pipeline's results."""
    start = len(pipeline)
    pipeline.get(venue_refusal_cache_key(broker))
    pipeline.get(QUOTE_KEY_PREFIX + symbol)
    return lambda results: MarketInputs(
        venue_refusal=venue_refusal_from_cache(results[start]), quote=quote_from_redis(results[start + 1])
    )


def checks_read_no_database(account: Account, request: OrderRequest, asset: Asset) -> bool:
    """Whether `pre_trade_check`, handed its `MarketInputs`, reads nothing from the database for this order, nor
    `order_place` before its writer: a simple buy of crypto in a cash account without a restriction flag, whose
    owner's KYC approval is known (the lean path's account: `portfolios.selectors.kyc_approval_known`). A sell
    reads the position (shares, good faith), a stock buy the settled cash (good faith), a margin buy values the
    account, a restriction reads its message to the customer: those orders take the database's way."""
    return (
        request.side == Order.Side.BUY
        and request.order_class == Order.OrderClass.SIMPLE
        and not request.lots
        and asset.is_crypto
        and account.type == Account.Type.CASH
        and not (account.trading_blocked or account.account_blocked)
    )


# --- All of order entry's checks, for placement and for Review -------------------------------


@dataclass(frozen=True)
class Holding:
    """What an order holds while it is open (cash for a buy, shares for a sell) and its good-faith warnings."""

    cash: Decimal = Decimal(0)
    qty: Decimal = Decimal(0)
    warnings: list = field(default_factory=list)


def holding_check(
    account: Account, request: OrderRequest, asset: Asset, quote: Quote | None, *, good_faith_at: datetime | None
) -> Holding:
    """What the order must hold, refusing a sell of shares the account does not have free.

    `good_faith_at`: a new order's good-faith check, which must see the account before this
    hold (re-funding an order whose replacement failed is no new trade and skips it).
    """
    cash = qty = Decimal(0)
    if request.side == Order.Side.BUY:
        cash = estimated_cost(request, asset, quote)
    else:
        qty = check_sellable(account, asset, sell_qty_needed(request, asset, quote))
    if good_faith_at is None:
        return Holding(cash=cash, qty=qty)
    held = cash if request.side == Order.Side.BUY else qty
    return Holding(cash=cash, qty=qty, warnings=check_good_faith(account, asset, request.side, held, good_faith_at))


@dataclass(frozen=True)
class PreTrade:
    """An order that passed every check: what order entry needs to record and hold it."""

    request: OrderRequest  # as it will be placed (an OCO order's limit taken from its take_profit)
    asset: Asset
    broker: str
    quote: Quote | None
    holding: Holding


def pre_trade_check(
    account: Account,
    request: OrderRequest,
    *,
    asset: Asset | None,
    opposite_open: list[Order] | None,
    now: datetime,
    with_buying_power: bool = True,
    market: "MarketInputs | None" = None,
) -> PreTrade:
    """Every refusal order entry makes, in the order it makes them; writes nothing.

    `market`: the venue's refusal and the quote, read already (the lean path's one Redis round trip); None
    reads them here (`market_inputs`).

    `opposite_open`: the account's open orders on the other side of the asset (wash trades);
    None leaves the wash-trade check to the caller. `with_buying_power=False` leaves the last
    check, buying power for a buy, to the caller. `order_place` leaves both to the order writer
    (`trading/order_writer.py`), which makes them with the account row locked, in this order
    and with the same codes and messages (`refuse_wash_trade`, `require_buying_power`,
    `require_sellable` for shares sold meanwhile).
    """
    check_account(account)
    if asset is None:
        _reject("asset_not_found", f"Unknown symbol {request.symbol!r}.", "symbol")
    check_asset(asset)
    request = with_oco_limit(request)
    check_shape(request, asset)
    check_auction_window(request, now)
    check_quantity(request, asset)
    check_prices(request, asset)
    broker = broker_name_for(asset.asset_class)
    market = market or market_inputs(broker=broker, symbol=asset.symbol)
    if market.venue_refusal:
        _reject("venue_unavailable", market.venue_refusal)
    quote = market.quote
    check_limit_band(request, quote)
    check_leg_prices(request, asset, quote)
    check_minimum_value(account, request, asset, quote)
    check_max_notional(request, asset, quote)
    if request.side == Order.Side.SELL:
        check_holds(account, asset)
    holding = holding_check(account, request, asset, quote, good_faith_at=now)
    # Wash trades after the position and good-faith rules, then buying power: the order writer makes these two
    # with the account locked, in this order.
    if opposite_open is not None:
        check_wash_trade(request, opposite_open)
    if with_buying_power and request.side == Order.Side.BUY:
        check_buying_power(account, holding.cash)
    return PreTrade(request=request, asset=asset, broker=broker, quote=quote, holding=holding)
