"""Dashboard number formats: money to the cent, a sign with every coloured figure, quantities as precise as they are."""

from decimal import Decimal

import pytest

from speedtrade.templatetags import numbers

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1234.5"), "$1,234.50"), (Decimal("-3.005"), f"{MINUS}$3.01"), ("0", "$0.00"), (None, "—")],
)
def test_money(value, text):
    assert numbers.money(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(Decimal("12.3"), "+$12.30"), (Decimal("-0.5"), f"{MINUS}$0.50"), (Decimal("0"), "$0.00")]
)
def test_signed_money_never_shows_a_colour_without_a_sign(value, text):
    assert numbers.signed_money(value) == text
    assert numbers.trend(value) == {"+": "up", MINUS: "down"}.get(text[0], "")


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0.000430381"), "0.000430381"), (Decimal("12.000000000"), "12"), (Decimal("1500"), "1,500")],
)
def test_quantities_keep_their_precision(value, text):
    assert numbers.qty(value) == text


def test_prices_keep_the_tick_grid_and_percentages_are_signed():
    assert numbers.price(Decimal("0.00001752")) == "$0.00001752"
    assert numbers.price(Decimal("65000")) == "$65,000.00"
    assert numbers.price(Decimal("58037.727839537")) == "$58,037.73"  # an average entry price
    assert numbers.percent(Decimal("0.012345")) == "+1.23%"
    assert numbers.percent(Decimal("-0.5")) == f"{MINUS}50.00%"
