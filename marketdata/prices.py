"""Kept for imports written before `speedtrade.money`, which owns every rounding: nothing is defined here."""

from speedtrade.money import to_increment, to_stored, to_stored_increment  # noqa: F401
