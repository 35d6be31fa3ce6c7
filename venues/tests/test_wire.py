"""A venue's numbers are read as the decimals the venue wrote (they travel as JSON/msgpack floats)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from venues.wire import decimal_from_wire, optional_decimal


# Up to 15 significant digits: every such decimal survives the trip through a binary float.
@given(st.decimals(min_value=Decimal("-99999999"), max_value=Decimal("99999999"), places=6))
def test_a_float_on_the_wire_is_read_as_the_decimal_the_venue_wrote(written):
    assert decimal_from_wire(float(written)) == written


def test_a_price_is_never_its_binary_expansion():
    assert decimal_from_wire(187.12) == Decimal("187.12") != Decimal(187.12)


def test_a_field_the_venue_left_out_is_none_and_zero_stays_zero():
    assert optional_decimal(None) is None and optional_decimal("") is None
    assert optional_decimal("0") == 0 and optional_decimal(0.0) == 0
