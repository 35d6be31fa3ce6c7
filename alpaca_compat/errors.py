"""Alpaca's error shape: `{"code": 40410000, "message": "..."}` with Alpaca's status codes.

The project's exception handler (`speedtrade/api/errors.py`) decides status and message;
this only renames its `code` to Alpaca's numeric one, so both APIs refuse the same
requests for the same reasons.
"""

from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector

from speedtrade.api.errors import exception_handler

# Alpaca's codes are the HTTP status followed by a sub-code.
ALPACA_CODES = {
    400: 40010001,
    401: 40110000,
    403: 40310000,
    404: 40410000,
    405: 40510000,
    422: 42210000,
    429: 42910000,
}


def alpaca_code(status: int) -> int:
    return ALPACA_CODES.get(status, status * 100_000)


def alpaca_exception_handler(exc, context):
    response = exception_handler(exc, context)
    body = {"code": alpaca_code(response.status_code), "message": response.data["message"]}
    return Response(body, status=response.status_code, headers=dict(response.headers))


class AlpacaErrorsMixin:
    """For DRF views of the Alpaca-compatible API: errors in Alpaca's shape."""

    schema: ViewInspector | None = None  # Alpaca documents these APIs; SpeedTrade's OpenAPI describes /api/v1

    def get_exception_handler(self):
        return alpaca_exception_handler


# The Trading API answers invalid input with 422 (not 400), and refuses for lack of money,
# shares or trading permission with 403 ("insufficient buying power").
FORBIDDEN_REFUSALS = frozenset(
    {"insufficient_buying_power", "insufficient_position", "account_not_tradable", "potential_wash_trade"}
)


def alpaca_trading_exception_handler(exc, context):
    response = exception_handler(exc, context)
    status = response.status_code
    if response.data["code"] == "validation_error":
        status = 422
    elif response.data["code"] in FORBIDDEN_REFUSALS:
        status = 403
    body = {"code": alpaca_code(status), "message": response.data["message"]}
    return Response(body, status=status, headers=dict(response.headers))


class AlpacaTradingErrorsMixin(AlpacaErrorsMixin):
    """For views of the Alpaca-compatible Trading API (`/v2/...`): Alpaca's error shape and statuses."""

    def get_exception_handler(self):
        return alpaca_trading_exception_handler
