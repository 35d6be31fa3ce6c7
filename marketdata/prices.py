"""Price rounding for market data, in one place.

* `to_increment(value, increment)`: onto an asset's tick grid (`price_increment`),
  half-even, for prices a venue could quote (simulated quotes, mid prices).
* `to_stored(value)`: onto the 9-decimal scale of every price/size column, for
  derived values such as a VWAP before they are written or published.
"""

from decimal import ROUND_HALF_EVEN, Decimal

STORED_QUANTUM = Decimal("0.000000001")


def to_increment(value: Decimal, increment: Decimal) -> Decimal:
    steps = (value / increment).to_integral_value(rounding=ROUND_HALF_EVEN)
    return (steps * increment).quantize(increment)


def to_stored(value: Decimal) -> Decimal:
    return value.quantize(STORED_QUANTUM, rounding=ROUND_HALF_EVEN)
