"""How the dashboard prints numbers: money, quantities, percentages and the sign that goes with a colour.

The one place for these formats, so every page (and live.js, which mirrors `money`) shows
the same thing. Inputs are Decimals or decimal strings; nothing here does arithmetic
beyond rounding for display.
"""

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import cast

from django import template
from django.utils.safestring import mark_safe

from speedtrade.money import for_display

register = template.Library()

CENT = Decimal("0.01")
MINUS = "\u2212"  # a real minus sign: same width as "+" in tabular figures


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _grouped(value: Decimal, places: Decimal = CENT) -> str:
    return f"{for_display(abs(value), places):,}"


def _dollars(value, *, plus: bool = False, digits: Callable[[Decimal], str] = _grouped) -> str:
    """The shared money shape: "—" for no value, then the sign, "$" and the unsigned figure `digits` prints."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    sign = MINUS if amount < 0 else "+" if plus and amount > 0 else ""
    return f"{sign}${digits(amount)}"


@register.filter
def money(value) -> str:
    """$1,234.50; negative as −$1,234.50; empty for no value."""
    return _dollars(value)


@register.filter
def signed_money(value) -> str:
    """+$12.30 / −$12.30: profit and loss always carries its sign (colour is never the only cue)."""
    return _dollars(value, plus=True)


SUB_DOLLAR_PLACES = Decimal("0.00000001")


def _price_digits(amount: Decimal) -> str:
    if abs(amount) >= 1:
        return _grouped(amount)
    # The exponent is an int: only finite amounts get here (an infinite one is >= 1, a NaN refuses the comparison).
    places = max(2, -cast(int, for_display(amount, SUB_DOLLAR_PLACES).normalize().as_tuple().exponent))
    return f"{abs(amount):.{places}f}"


@register.filter
def price(value) -> str:
    """A price: cents from $1 up; below $1 as many decimals as it has, up to 8 (a $0.00001752 coin)."""
    return _dollars(value, digits=_price_digits)


@register.filter
def qty(value) -> str:
    """A quantity with the precision it has (0.000123 BTC, 12 shares): trailing zeros dropped."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    return f"{amount.normalize():,f}"


@register.filter
def percent(ratio) -> str:
    """A ratio (0.0123) as a signed percentage (+1.23%)."""
    value = _decimal(ratio)
    if value is None:
        return "—"
    pct = for_display(value * 100)
    return f"{'+' if pct > 0 else MINUS if pct < 0 else ''}{abs(pct)}%"


@register.filter
def trend(value) -> str:
    """CSS class for a signed figure: "up", "down" or "" (always shown with its +/− sign)."""
    amount = _decimal(value)
    if not amount:
        return ""
    return "up" if amount > 0 else "down"


@register.simple_tag(takes_context=True)
def nav_current(context, prefix: str) -> str:
    """`aria-current="page"` for the nav link whose section the page is in ("/" only for itself)."""
    path = context["request"].path
    current = path == prefix if prefix == "/" else path.startswith(prefix)
    return mark_safe('aria-current="page"') if current else ""
