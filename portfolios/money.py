"""Kept for imports written before `speedtrade.money`, which owns every rounding: nothing is defined here."""

from speedtrade.money import (  # noqa: F401
    CENT,
    MONEY_FIELD,
    PRICE_FIELD,
    PRICE_STEP,
    QTY_FIELD,
    QTY_STEP,
    RATIO_STEP,
    ZERO,
    has_at_most_cents,
    to_cents,
    to_price,
    to_qty,
    to_ratio,
)
