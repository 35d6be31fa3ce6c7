"""The lean path's order parsing never accepts what OrderCreateSerializer refuses, nor reads an order otherwise."""

import json

from hypothesis import given
from hypothesis import strategies as st

from speedtrade.lean_api import simple_order_request
from trading.api.serializers import OrderCreateSerializer

decimals = st.one_of(
    st.decimals(min_value=-10, max_value=10**16, places=10).map(str),
    st.sampled_from(["1", "0.5", "10.25", "1.000000001", "999999999999999", "1000000000000000", "0.00", "01", "1."]),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
order_bodies = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["ACME", "acme", "BTC/USD", "", " ACME", "A" * 32, "A" * 33, "AC\u0000ME"]),
        "side": st.sampled_from(["buy", "sell", "Buy", "short"]),
        "type": st.sampled_from(["limit", "market", "stop", "stop_limit", "trailing_stop", "iceberg"]),
        "time_in_force": st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls", "gtd"]),
        "qty": decimals,
        "notional": decimals,
        "limit_price": decimals,
        "stop_price": decimals,
        "extended_hours": st.sampled_from([True, False, "true", 0, None]),
        "client_order_id": st.one_of(st.text(max_size=130), st.sampled_from(["c-1", " c-1 ", "x" * 128])),
        "order_class": st.sampled_from(["simple", "oto"]),
    },
)


@given(body=order_bodies)
def test_the_lean_parser_reads_an_order_as_the_serializer_does_or_leaves_it_to_the_serializer(body):
    parsed = simple_order_request(json.dumps(body).encode())
    if parsed is None:
        return  # DRF parses it: whatever it says is the answer
    serializer = OrderCreateSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    expected = serializer.to_request()
    assert parsed == expected
    # The same numbers to the last digit, exponent included (an error message may print them).
    for name in ("qty", "notional", "limit_price", "stop_price"):
        assert str(getattr(parsed, name)) == str(getattr(expected, name))
