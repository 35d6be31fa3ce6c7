"""CSV cells a spreadsheet opens safely: text that starts like a formula is neutralised (CSV injection).

Shared by the admin's CSV exports (`accounts.admin_export`) and the year-end gains CSV (`documents`)."""

from decimal import Decimal

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    if isinstance(value, int | Decimal):
        return text  # a number, even a negative one, is no formula
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text
