"""The one error format of the API: `{"code": ..., "message": ..., "fields": {...}}`.

`code` is machine-readable and stable; `message` is for people; `fields` maps each
offending input field to its messages (only for validation errors).
"""

import logging
from typing import cast

from django.core.exceptions import PermissionDenied
from django.core.signals import got_request_exception
from django.db import OperationalError
from django.http import Http404, JsonResponse
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from speedtrade import errors

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "Something went wrong on our side; it has been logged."
# The server's condition, not a fault: at capacity (a request refused at the edge, speedtrade/admission.py, or one
# that found no free database connection in time), told when to come back. Nothing of the request was done.
OVERLOADED_MESSAGE = "The service is at capacity right now; retry in a moment."
OVERLOADED_RETRY_AFTER_SECONDS = 1


# The HTTP status of each kind of refusal; any other DomainError is a 422 (well-formed, refused).
_STATUS_BY_DOMAIN_ERROR = {
    errors.InvalidInput: status.HTTP_400_BAD_REQUEST,
    errors.NotPermitted: status.HTTP_403_FORBIDDEN,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def domain_error_status(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in _STATUS_BY_DOMAIN_ERROR:
            return _STATUS_BY_DOMAIN_ERROR[kind]
    return status.HTTP_422_UNPROCESSABLE_ENTITY


def _domain_error_response(exc: errors.DomainError) -> Response:
    set_rollback()
    return Response(error_body(exc.code, exc.message, exc.messages_by_field() or None), status=domain_error_status(exc))


def is_pool_timeout(exc) -> bool:
    """Every database connection of this process stayed busy for DB_POOL_TIMEOUT_SECONDS (overload)."""
    return isinstance(exc, OperationalError) and isinstance(exc.__cause__, PoolTimeout)


_CODES_BY_EXCEPTION = {
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body: dict[str, str | dict] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def overloaded_body() -> dict:
    return error_body("overloaded", OVERLOADED_MESSAGE)


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {msg}" for key, value in detail.items() for msg in _flatten(value)]
    if isinstance(detail, list):
        return [msg for item in detail for msg in _flatten(item)]
    return [str(detail)]


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: _flatten(value) if not isinstance(value, dict) else _field_errors(value)
            for key, value in detail.items()
        }
    return {"non_field_errors": _flatten(detail)}


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        return _domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif is_pool_timeout(exc):
        # No statement ran: the request's first query waited for its connection (the pool gives one per request).
        return Response(
            overloaded_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(OVERLOADED_RETRY_AFTER_SECONDS)},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else errors.invalid_input_message(fields)
        body = error_body("validation_error", message, fields or None)
    else:
        # getattr is untyped; every APIException subclass has a str default_code (an exception without one: "error").
        code = _CODES_BY_EXCEPTION.get(type(exc)) or cast(str, getattr(exc, "default_code", "error"))
        body = error_body(code, " ".join(_flatten(exc.detail)))
    return Response(body, status=response.status_code, headers=dict(response.headers))


def _server_error(exc, context) -> Response:
    """An exception no rule expected: 500 in the error format, whatever DEBUG says (never Django's
    HTML debug page or a trace). Reported as Django reports one: logged with its traceback, and
    `got_request_exception` sent (Sentry and the test client listen to it)."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    logger.error(
        "Internal Server Error: %s",
        getattr(django_request, "path", "?"),
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"status_code": 500, "request": django_request},
    )
    got_request_exception.send(sender=None, request=django_request)
    set_rollback()
    response = Response(error_body("server_error", SERVER_ERROR_MESSAGE), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    # Django's log_response would log it again, without the traceback. The flag is Django's own (set by
    # log_response itself) but private, so the stubs do not declare it.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=404)


def json_server_error(request):
    return JsonResponse(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)
