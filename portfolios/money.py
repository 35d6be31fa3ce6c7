"""Rounding of money and quantities: the one place it happens.

* Cash that moves (ledger amounts, trade values, fees, transfers, market values) is in
  whole cents, rounded half-up (`to_cents`). A trade's cash value is `to_cents(qty * price)`,
  so the ledger never holds fractions of a cent.
* Quantities keep 9 decimal places (Alpaca's fractional precision); a computed quantity is
  rounded down (`to_qty`) so we never record more than was filled.
* Prices and per-share averages keep 9 decimal places, half-up (`to_price`).
* Ratios shown to users (`unrealized_plpc`, `change_today`, `profit_loss_pct`) keep 6
  decimal places, half-up (`to_ratio`); they are never used to compute money.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
QTY_STEP = Decimal("0.000000001")
PRICE_STEP = Decimal("0.000000001")
RATIO_STEP = Decimal("0.000001")
ZERO = Decimal("0")

# Model field shapes that match the steps above.
MONEY_FIELD = {"max_digits": 18, "decimal_places": 2}
QTY_FIELD = {"max_digits": 28, "decimal_places": 9}
PRICE_FIELD = {"max_digits": 24, "decimal_places": 9}


def to_cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_qty(value: Decimal) -> Decimal:
    return Decimal(value).quantize(QTY_STEP, rounding=ROUND_DOWN)


def to_price(value: Decimal) -> Decimal:
    return Decimal(value).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def to_ratio(value: Decimal) -> Decimal:
    return Decimal(value).quantize(RATIO_STEP, rounding=ROUND_HALF_UP)


def has_at_most_cents(value: Decimal) -> bool:
    """True for amounts a person may type: no fraction of a cent."""
    return value == value.quantize(CENT)


def trade_value(qty: Decimal, price: Decimal) -> Decimal:
    """The cash a fill moves: quantity times price, in cents."""
    return to_cents(qty * price)
