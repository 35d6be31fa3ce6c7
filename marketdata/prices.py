"""Price rounding for market data, in one place.

* `to_increment(value, increment)`: onto an asset's tick grid (`price_increment`),
  half-even, for prices a venue could quote (simulated quotes, mid prices).
* `to_stored(value)`: onto the 9-decimal scale of every price/size column, for
  derived values such as a VWAP before they are written or published.
* `to_stored_increment(step)`: a provider's tick/lot step onto that scale, rounded up.
"""

from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

STORED_QUANTUM = Decimal("0.000000001")


def to_increment(value: Decimal, increment: Decimal) -> Decimal:
    """`value` on the grid of `increment`, written with the grid's decimals (10.61, not 10.610000000)."""
    steps = (value / increment).to_integral_value(rounding=ROUND_HALF_EVEN)
    decimals = min(increment.normalize().as_tuple().exponent, 0)
    return (steps * increment).quantize(Decimal(1).scaleb(decimals))


def to_stored(value: Decimal) -> Decimal:
    return value.quantize(STORED_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_stored_increment(value: Decimal) -> Decimal:
    """A provider's tick or lot step on the 9-decimal scale, rounded up and never zero.

    Rounding a step up keeps every stored multiple a valid one at the provider.
    """
    return max(value.quantize(STORED_QUANTUM, rounding=ROUND_UP), STORED_QUANTUM)
