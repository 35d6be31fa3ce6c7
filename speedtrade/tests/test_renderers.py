"""The orjson renderer writes exactly the bytes DRF's JSON renderer writes: clients (alpaca-py among them)
cannot tell which one answered."""

from datetime import UTC, datetime
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from speedtrade.api.renderers import PlainJSONRenderer

PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()  # every code point but surrogates: quotes, control characters, U+2028/U+2029, emoji
    | st.text().map(ErrorDetail),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(PLAIN)
def test_plain_json_is_byte_identical_to_drfs(data):
    assert PlainJSONRenderer().render(data) == JSONRenderer().render(data)


def test_what_orjson_would_print_differently_is_left_to_drf():
    data = {"at": datetime(2026, 11, 27, 14, 30, 0, 123456, tzinfo=UTC), "id": uuid4(), "huge": 2**70, 1: "key"}
    assert PlainJSONRenderer().render(data) == JSONRenderer().render(data)
    assert b'"at":"2026-11-27T14:30:00.123456Z"' in PlainJSONRenderer().render(data)  # DRF's "Z", not "+00:00"


def test_indented_output_on_request_is_drfs():
    data = {"a": [1, 2]}
    indented = PlainJSONRenderer().render(data, "application/json; indent=2")
    assert indented == JSONRenderer().render(data, "application/json; indent=2") and b"\n" in indented
