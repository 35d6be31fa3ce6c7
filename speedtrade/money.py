"""Money, prices and quantities: every rounding SpeedTrade does, and the direction of each.

No other module rounds a Decimal (`speedtrade/tests/test_money_rounding_in_one_place.py`
fails on a `.quantize(`, `to_integral` or `ROUND_` anywhere else).

Cash is whole cents. Which way a cent goes depends on who it favours:

* `cents_for_trade(qty, price, side)`: a fill's cash, **in the firm's favour** — a buy's
  cost rounds up, a sell's proceeds round down. The ledger, the position's cost basis and the
  order's `filled_notional` all use it, so an order's record and the cash moved agree.
  A fill whose cash would be $0.00 is refused (`FillWorthNothing`): shares never move for free.
* `cents_up`: what must be held back or charged (reservations, venue fees): too much is
  safe, too little is not.
* `to_cents`: figures that move no money (valuations, market values, the share of a cost
  basis a sale removes), half-up.
* `pro_rata_cents`: a part's share of an amount (a tax lot's basis, a sale's proceeds),
  half-up, the whole for the last part: shares taken one after another from what is left
  always add up to the amount, to the cent.

Quantities keep 9 decimal places and a computed quantity is rounded down (`to_qty`, never
more than was filled); shares that must be covered round up (`qty_up`). Prices keep 9
places: averages half-up (`to_price`), venue grids half-even (`to_increment`, `to_stored`).
Ratios shown to people keep 6 places (`to_ratio`) and are never used to compute money.
"""

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import TypedDict, cast, overload

from django.db.models import Expression
from django.db.models.functions import Round

CENT = Decimal("0.01")
QTY_STEP = Decimal("0.000000001")
PRICE_STEP = Decimal("0.000000001")
RATIO_STEP = Decimal("0.000001")
ZERO = Decimal("0")
ONE_DOLLAR = Decimal("1")
# Alpaca's minimum for a fractional order (notional, or a fractional quantity's value).
MIN_FRACTIONAL_ORDER_VALUE = ONE_DOLLAR


class DecimalFieldShape(TypedDict):
    """A DecimalField's digits: typed so `DecimalField(**MONEY_FIELD)` type-checks against its signature."""

    max_digits: int
    decimal_places: int


# Model field shapes that match the steps above.
MONEY_FIELD: DecimalFieldShape = {"max_digits": 18, "decimal_places": 2}
QTY_FIELD: DecimalFieldShape = {"max_digits": 28, "decimal_places": 9}
PRICE_FIELD: DecimalFieldShape = {"max_digits": 24, "decimal_places": 9}

BUY, SELL = "buy", "sell"


class FillWorthNothing(ValueError):
    """A fill whose cash rounds to $0.00: booking it would hand over shares for nothing."""


# --- cash -----------------------------------------------------------------------------------


def to_cents(value: Decimal) -> Decimal:
    """Whole cents, half-up: for figures that move no money (valuations, P&L shares)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def pro_rata_cents(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`part`/`whole` of whole-cents `amount`, half-up; exactly `amount` when `part` is the whole.

    Taking each share from what is left (`amount -= share; whole -= part`) conserves the amount.
    """
    if not 0 < part <= whole:
        raise ValueError(f"A part {part} of {whole} is not a share.")
    return amount if part == whole else to_cents(amount * part / whole)


def cents_up(value: Decimal) -> Decimal:
    """Whole cents, up: what must be held back or charged (reservations, fees)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_CEILING)


def cents_down(value: Decimal) -> Decimal:
    """Whole cents, down: what is paid out."""
    return Decimal(value).quantize(CENT, rounding=ROUND_FLOOR)


def trade_value(qty: Decimal, price: Decimal, side: str) -> Decimal:
    """The cash `qty` at `price` moves, in the firm's favour: a buy's cost up, a sell's proceeds down.

    May be zero (a sell worth under a cent); `fill_cash` refuses that for a fill.
    """
    if side == BUY:
        return cents_up(qty * price)
    if side == SELL:
        return cents_down(qty * price)
    raise ValueError(f"Unknown side {side!r}.")


def fill_cash(qty: Decimal, price: Decimal, side: str) -> Decimal:
    """A fill's cash (`trade_value`), refusing a fill that would move none."""
    value = trade_value(qty, price, side)
    if value <= 0:
        raise FillWorthNothing(
            f"A {side} of {qty.normalize()} at {price.normalize()} is worth less than a cent; it cannot be booked."
        )
    return value


def has_at_most_cents(value: Decimal) -> bool:
    """True for amounts a person may type: no fraction of a cent."""
    return value == value.quantize(CENT)


def dollars(value: Decimal) -> str:
    """$1,234.50 for messages (whole cents, rounded down so a minimum is never shown as met)."""
    return f"${cents_down(value):,}"


# --- quantities -----------------------------------------------------------------------------


def to_qty(value: Decimal) -> Decimal:
    """9 decimal places, down: never record more than was filled."""
    return Decimal(value).quantize(QTY_STEP, rounding=ROUND_DOWN)


def qty_up(value: Decimal) -> Decimal:
    """9 decimal places, up: shares that must be covered (at risk, held back)."""
    return Decimal(value).quantize(QTY_STEP, rounding=ROUND_CEILING)


def qty_down_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Down onto a lot step (`min_trade_increment`): what can trade without exceeding `value`."""
    return value.quantize(step, rounding=ROUND_DOWN)


def qty_up_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Up onto a lot step: enough to cover `value`."""
    return value.quantize(step, rounding=ROUND_CEILING)


def is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


# --- prices ---------------------------------------------------------------------------------


def to_price(value: Decimal) -> Decimal:
    """Prices and per-share averages on the 9-decimal scale, half-up."""
    return Decimal(value).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def to_increment(value: Decimal, increment: Decimal) -> Decimal:
    """`value` on the grid of `increment`, half-even, written with the grid's decimals (10.61, not 10.610000000)."""
    steps = (value / increment).to_integral_value(rounding=ROUND_HALF_EVEN)
    exponent = cast(int, increment.normalize().as_tuple().exponent)  # an int: an increment is finite
    return (steps * increment).quantize(Decimal(1).scaleb(min(exponent, 0)))


def to_stored(value: Decimal) -> Decimal:
    """A derived price (VWAP, average fill price, trail) on the 9-decimal scale of the columns, half-even."""
    return value.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)


def to_stored_increment(value: Decimal) -> Decimal:
    """A provider's tick or lot step on the 9-decimal scale, rounded up and never zero.

    Rounding a step up keeps every stored multiple a valid one at the provider.
    """
    return max(value.quantize(PRICE_STEP, rounding=ROUND_UP), PRICE_STEP)


def to_step(value: Decimal, step: Decimal) -> Decimal:
    """Half-even onto any step (simulated prices and sizes that stand for no money)."""
    return value.quantize(step, rounding=ROUND_HALF_EVEN)


# --- ratios and display ---------------------------------------------------------------------


def to_ratio(value: Decimal) -> Decimal:
    return Decimal(value).quantize(RATIO_STEP, rounding=ROUND_HALF_UP)


def for_display(value: Decimal, places: Decimal = CENT) -> Decimal:
    """Half-up to `places` for people to read (templates); never fed back into a computation."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


@overload
def decimal_string(value: Decimal) -> str: ...
@overload
def decimal_string(value: None) -> None: ...
@overload
def decimal_string(value: Decimal | None) -> str | None: ...
def decimal_string(value: Decimal | None) -> str | None:
    """A stored amount as the API writes it: its digits without trailing zeros or an exponent
    (Alpaca's decimal strings); no rounding."""
    return None if value is None else format(value.normalize(), "f")


# --- in the database ------------------------------------------------------------------------


def cents_in_db(expression: Expression) -> Round:
    """A counter update computed by the database, kept on whole cents.

    PostgreSQL's numeric is exact and this changes nothing there; SQLite (the embedded default)
    computes decimal columns in binary floating point, where 35.80 − 15.75 − 9.00 leaves
    11.049999999999997 and a later release of 11.05 is refused. Rounding each result back to
    cents keeps every stored counter the nearest value to a whole number of cents.
    """
    return Round(expression, 2)


def qty_in_db(expression: Expression) -> Round:
    """As `cents_in_db`, for share counters (9 decimal places)."""
    return Round(expression, 9)
