"""The one parser of the numbers venues and providers send (JSON, msgpack, alpaca-py and ccxt models)."""

from decimal import Decimal


def decimal_from_wire(value: float | int | str) -> Decimal:
    """A venue's number as the Decimal it was written as.

    Venues send prices as JSON or msgpack floats; `str()` of a float is its shortest
    round-tripping form ("187.12", not 187.1199999...), so this recovers the decimal the
    venue wrote instead of the binary float's expansion. Nothing is rounded.
    """
    return Decimal(str(value))


def optional_decimal(value: float | int | str | None) -> Decimal | None:
    """A field the venue may leave out: None when it is missing or empty (Alpaca sends "" at times)."""
    return None if value is None or value == "" else decimal_from_wire(value)
