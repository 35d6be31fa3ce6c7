"""The lean request path: the hot API routes answered without Django's middleware chain or DRF's view machinery.

`GET /account`, `GET /positions`, `GET /orders` and `POST /orders`, under `/api/v1/` and Alpaca's `/v2/`,
for a client whose access token or API key this process already checked in full (`speedtrade.auth_cache`).
Everything else — and any request this path could not answer exactly as DRF would (a browser's Accept
header, a cookie, a query it does not know, an order with legs, a number written another way, an unknown
credential) — goes to Django unchanged, its body replayed. DRF stays the documented, browsable surface; the
differential test (`speedtrade/tests/test_lean_api.py`) holds both to byte-identical answers.

What it keeps from the full path: the same view bodies (`account_body`, `positions_body`, `orders_body`,
`placed_order_body`) and services, the same exception handlers (the common error format on `/api/v1`,
Alpaca's on `/v2`) and renderers, DRF's order of checks (the API key's per-minute budget, DRF's user throttle,
then the view), the headers the middleware and APIView add (security, CSP, frame options, Vary, Allow,
`X-RateLimit-*`, `X-Process-Time`), Django's log line for 4xx/5xx, django-prometheus's request metrics and
the request signals (`close_old_connections`). Whether to answer is decided before anything is counted, so a
request handed to Django is counted once.

`POST /orders` runs on the event loop itself, with no thread, for an order whose checks read nothing from the
database (`trading.risk.checks_read_no_database`: a simple crypto buy in a cash account) once the principal holds
its account: the user throttle's count and the checks' Redis reads in one pipeline, the order writer's one
statement on the loop's own connection (`speedtrade.loop_connections`), the trade update and the engine's wake
after it (`trading.services.order_place_async`). Every other order, and what that one leaves to `order_place`
(a client_order_id seen before, an account blocked meanwhile), is placed in the request's thread (`order_entry`).
"""

import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import cache
from importlib import import_module
from typing import Any, Protocol
from urllib.parse import parse_qsl

import msgspec
from asgiref.sync import AsyncToSync, sync_to_async
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import resolve
from django.utils.cache import patch_vary_headers
from django.utils.log import log_response
from django_prometheus.middleware import Metrics
from rest_framework.exceptions import Throttled
from rest_framework.renderers import BaseRenderer, JSONRenderer

from accounts.api.rate_limit import ApiKeyRateLimited, rate_limit_hit
from accounts.models import User
from alpaca_compat.errors import alpaca_trading_exception_handler
from alpaca_compat.trading_views import alpaca_account_body
from portfolios.api.views import account_body, positions_body
from portfolios.models import Account
from portfolios.selectors import kyc_approval_known, owner_kyc_approved, primary_account
from speedtrade import auth_cache
from speedtrade.api.errors import exception_handler
from speedtrade.api.renderers import PlainJSONRenderer
from speedtrade.api.throttling import UserRateFixedWindowThrottle, window_hits_queue
from speedtrade.auth_cache import Principal
from speedtrade.loop_connections import loop_connections
from speedtrade.money import to_cents, to_qty
from trading import services
from trading.api.views import orders_body, placed_order_body
from trading.models import Order
from trading.risk import MarketInputs, OrderRequest

ASGIApp = Callable[..., Awaitable[None]]


class FallThrough(Exception):
    """Django answers this request (raised before anything is counted or changed)."""


@dataclass
class LeanRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    principal: Principal
    alpaca: bool  # under /v2: Alpaca's error shape and statuses
    body: bytes
    secure: bool

    def django_request(self) -> HttpRequest:
        """A bare HttpRequest for what logs or reports with one (the exception handler, Django's log line)."""
        request = HttpRequest()
        request.method, request.path, request.path_info = self.method, self.path, self.path
        return request


@dataclass(frozen=True)
class Route:
    """One route's work: `prepare` decides (no I/O) whether this path can answer and parses the input;
    `answer` runs after the checks, given the account (by id: its other fields are loaded only if read), and
    returns (data, status). `renderer` is the DRF view's. `in_loop`, where a route has one, decides (no I/O)
    whether the event loop answers the request itself, with no thread (`LoopWork`); None leaves it to `answer`."""

    prepare: Callable[[LeanRequest], Any]
    answer: Callable[[LeanRequest, Any, Account], tuple[Any, int]]
    renderer: type[BaseRenderer]
    in_loop: "Callable[[LeanRequest, Any, Account], LoopWork | None] | None" = None


class LoopWork(Protocol):
    """A request the event loop answers: its Redis reads go out with the user throttle's count, in one round trip;
    `answer` then gets what they read, and `in_thread` for what only Django's synchronous database calls can do."""

    def reads_queue(self, pipeline) -> Callable[[list], Any]: ...

    async def answer(self, read: Any, in_thread: services.InThread) -> tuple[Any, int]: ...


class LeanApi:
    """ASGI app in front of Django's: the hot routes here, everything else to `fallback`."""

    def __init__(self, fallback: ASGIApp):
        self.fallback = fallback
        self.routes: dict[tuple[str, str], Route] = {}
        for prefix in ("/api/v1/", "/v2/"):
            self.routes["GET", prefix + "account"] = Route(_no_query, _account, JSONRenderer)
            self.routes["GET", prefix + "positions"] = Route(_no_query, _positions, JSONRenderer)
            self.routes["GET", prefix + "orders"] = Route(_order_list_query, _orders, PlainJSONRenderer)
            self.routes["POST", prefix + "orders"] = Route(
                _order_create_input, _order_create, PlainJSONRenderer, in_loop=_order_create_in_loop
            )

    async def __call__(self, scope, receive, send) -> None:
        route = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if route is None or not settings.LEAN_API_ENABLED:
            return await self.fallback(scope, receive, send)
        started = time.perf_counter()
        body, receive = await _read_body(receive)
        request = _lean_request(scope, body)
        if request is None:
            return await self.fallback(scope, receive, send)
        answer = await _answer_in_loop(route, request, started) if _loop_answers(route) else IN_THREAD
        if answer is IN_THREAD:
            answer = await in_request_thread(_answer, route, request, started)
        if answer is None:
            return await self.fallback(scope, receive, send)
        status, headers, content = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive):
    """The whole request body, and a `receive` that gives it again (to Django, when it answers instead)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


_JSON_ACCEPTS = {"", "*/*", "application/json"}  # what DRF answers with JSON (no browsable page, no ?format)
_JSON_CONTENT_TYPES = {"application/json", "application/json;charset=utf-8"}


def _lean_request(scope, body: bytes) -> LeanRequest | None:
    """The request, when this path can answer it exactly as DRF would; None to leave it to Django."""
    if scope.get("root_path"):
        return None  # mounted under a prefix: Django's URL handling decides
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in headers:
            return None  # a repeated header: Django's joining rules decide
        headers[name] = value
    if b"cookie" in headers or headers.get(b"accept", b"").decode("latin-1").strip() not in _JSON_ACCEPTS:
        return None
    if not _host_allowed(headers.get(b"host", b"").decode("latin-1")):
        return None  # Django's 400 for a host not in ALLOWED_HOSTS
    secure = _is_secure(scope, headers)
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None  # SecurityMiddleware's redirect
    if scope["method"] == "POST":
        content_type = headers.get(b"content-type", b"").decode("latin-1").replace(" ", "").lower()
        if content_type not in _JSON_CONTENT_TYPES or len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return None
        if headers.get(b"content-length") != str(len(body)).encode():
            return None  # Django reads Content-Length bytes of the body (none without it): it decides
    elif body:
        return None
    principal = _principal(headers, scope)
    if principal is None:
        return None
    return LeanRequest(
        method=scope["method"],
        path=scope["path"],
        query=parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
        principal=principal,
        alpaca=scope["path"].startswith("/v2/"),
        body=body,
        secure=secure,
    )


def _host_allowed(host: str) -> bool:
    """As HttpRequest.get_host (the Host header; ALLOWED_HOSTS); anything unusual is Django's to judge."""
    if not host or settings.USE_X_FORWARDED_HOST:
        return False
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _is_secure(scope, headers: dict[bytes, bytes]) -> bool:
    """As HttpRequest.is_secure: the trusted proxy's header when configured and sent, else the scheme."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == expected
    return scope.get("scheme") == "https"


def _principal(headers: dict[bytes, bytes], scope) -> Principal | None:
    """The cached principal of the request's one credential (a Bearer access token, or an API key pair)."""
    if not auth_cache.revocations_listen() and settings.REDIS_URL:
        return None  # not hearing other processes' revocations yet: every request is checked in full
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    key_id = headers.get(b"apca-api-key-id", b"").decode("latin-1")
    secret = headers.get(b"apca-api-secret-key", b"").decode("latin-1")
    if authorization and not key_id and not secret:
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        client = ((scope.get("client") or ("", 0))[0], headers.get(b"user-agent", b"").decode("latin-1"))
        return auth_cache.auth_cache.access_token_principal(parts[1], client=client)
    if key_id and secret and not authorization:
        return auth_cache.auth_cache.api_key_principal(key_id, secret)
    return None


# --- answering (in the request's thread: the database and Redis calls are Django's synchronous ones) --------


Answer = tuple[int, list, bytes]  # status, headers, body


def _answer(route: Route, request: LeanRequest, started: float) -> Answer | None:
    request_started.send(sender=LeanApi)
    try:
        try:
            outcome = _checked(route, request)
        except FallThrough:
            return None
        return _respond(route, request, outcome, started)
    finally:
        request_finished.send(sender=LeanApi)


def _respond(route: Route, request: LeanRequest, outcome: "Outcome", started: float) -> Answer:
    """The answer's bytes and headers, Django's log line for a 4xx/5xx and the request's metrics."""
    content = route.renderer().render(outcome.data) if outcome.data is not None else b""
    facts = _route_facts(request.method, request.path, secure=request.secure, status=outcome.status)
    if outcome.status >= 400 and not outcome.logged:
        response = HttpResponse(status=outcome.status)
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request.django_request()
        )
    _metrics_record(request, facts.view_name, status=outcome.status, content_length=len(content), started=started)
    return outcome.status, _response_headers(facts, outcome.headers, content, started), content


@dataclass
class Outcome:
    data: Any
    status: int
    headers: dict[str, str]
    logged: bool = False  # the exception handler logged it already (a 500 with its traceback)


def _checked(route: Route, request: LeanRequest) -> Outcome:
    """DRF's order: the API key's budget (authentication), the key's scope (permission), the user throttle,
    then the view; an exception from any of them through the view's exception handler."""
    principal = request.principal
    parsed = route.prepare(request)
    if principal.api_key_id is not None and request.method == "POST" and not principal.can_trade:
        raise FallThrough  # a read-only key: DRF's permission refusal
    headers: dict[str, str] = {}
    try:
        # Inside the handler's reach: waiting for a pooled connection here is the 503 `overloaded` DRF's view gives.
        if principal.account is None:
            principal.account = AccountSnapshot.read(user_id=principal.user_id)
        account = principal.account.account()
        if principal.api_key_id is not None:
            window = rate_limit_hit(key_id=principal.api_key_id, user_id=principal.user_id)
            headers.update(window.headers)
            if window.exceeded:
                raise ApiKeyRateLimited(wait=max(1, window.reset - int(time.time())))
        throttle = UserRateFixedWindowThrottle()
        # The user throttle reads only `request.user.pk` (and no view): typed for a whole Request.
        if not throttle.allow_request(_ThrottledRequest(principal), None):  # type: ignore[arg-type]
            raise Throttled(throttle.wait())
        data, status = route.answer(request, parsed, account)
    except FallThrough:
        raise
    except Exception as exc:
        return _handled(exc, request, headers)
    return Outcome(data, status, headers)


def _handled(exc: Exception, request: LeanRequest, headers: dict[str, str]) -> Outcome:
    """The view's exception handler's answer (the common error format on /api/v1, Alpaca's on /v2)."""
    handle = alpaca_trading_exception_handler if request.alpaca else exception_handler
    response = handle(exc, {"request": request.django_request(), "view": None})
    added = {name: value for name, value in response.headers.items() if name.lower() != "content-type"}
    logged = getattr(response, "_has_been_logged", False)
    return Outcome(response.data, response.status_code, {**added, **headers}, logged)


# --- answering on the event loop (no thread): what a route's `in_loop` takes --------------------------------


class _NotInLoop(Enum):
    IN_THREAD = "in the request's thread"  # `_answer_in_loop`'s "not here": `_answer` answers


IN_THREAD = _NotInLoop.IN_THREAD


def _loop_answers(route: Route) -> bool:
    """Whether the loop may answer for this route here: its database is PostgreSQL (the loop's own connections) and
    the cache, the quotes and the engine's wake share one Redis (the one round trip)."""
    return (
        route.in_loop is not None
        and settings.LEAN_API_ASYNC_ORDERS
        and connection.vendor == "postgresql"
        and bool(settings.REDIS_URL)
        and settings.CACHES["default"].get("LOCATION") == settings.REDIS_URL
    )


async def _answer_in_loop(route: Route, request: LeanRequest, started: float) -> Answer | None | _NotInLoop:
    """`_answer` on the event loop for what the route's `in_loop` takes on: decided before anything is counted
    (else IN_THREAD), then the user throttle's count and the work's Redis reads in one pipeline, the work, and the
    same rendering, headers, log line and metrics. A bearer token's request only (an API key's budgets are
    counted in `_checked`), and only once the principal holds its account snapshot (its first request reads it)."""
    principal = request.principal
    assert route.in_loop is not None  # _loop_answers
    if principal.api_key_id is not None or principal.account is None:
        return IN_THREAD
    try:
        parsed = route.prepare(request)
    except FallThrough:
        return None
    account = principal.account.account()
    work = route.in_loop(request, parsed, account)
    if work is None:
        return IN_THREAD
    request_started.send(sender=LeanApi)
    try:
        return _respond(route, request, await _checked_in_loop(work, request), started)
    finally:
        request_finished.send(sender=LeanApi)


async def _checked_in_loop(work: LoopWork, request: LeanRequest) -> Outcome:
    """`_checked`'s throttle and view for a `LoopWork`, its refusals through the same exception handler."""
    throttle = UserRateFixedWindowThrottle()
    try:
        # The user throttle reads only `request.user.pk` (and no view): typed for a whole Request.
        window = throttle.window_key(_ThrottledRequest(request.principal), None)  # type: ignore[arg-type]
        pipeline = loop_connections().redis.pipeline(transaction=False)
        counts = window_hits_queue(pipeline, [window] if window else [], seconds=throttle.duration)
        read = work.reads_queue(pipeline)
        results = await pipeline.execute()
        if window and not throttle.allows(counts(results)[0]):
            raise Throttled(throttle.wait())
        data, status = await work.answer(read(results), _in_request_thread)
    except Exception as exc:
        return _handled(exc, request, {})
    return Outcome(data, status, {})


async def _in_request_thread(function: Callable[..., Any], *args, **kwargs) -> Any:
    """A synchronous piece of a request the loop answers (Django's database), in a request thread as `_answer`
    runs, its database connection given back when it ends (the request's signals are the loop's)."""

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return await in_request_thread(run)


async def in_request_thread(function: Callable[..., Any], *args) -> Any:
    """A request's synchronous work (Django's database calls) in one of the process's request threads, with the
    request's context (`sync_to_async`: each call its own copy, so its own database connection from the pool, given
    back by the request's signals). Django's ASGIHandler starts and joins a thread per request instead
    (`ThreadSensitiveContext`): a quarter of a lean `GET /account`'s CPU. Under a synchronous caller's
    `async_to_sync` (the test client) the work runs in the caller's thread, as Django's does, so it sees the
    caller's transaction."""
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return await sync_to_async(function, thread_sensitive=True)(*args)
    return await sync_to_async(function, thread_sensitive=False, executor=_request_threads())(*args)


@cache
def _request_threads() -> ThreadPoolExecutor:
    """As many threads as requests admission lets into work at once (speedtrade/admission.py); each holds a
    database connection only while its request runs. Made on first use, in the worker process."""
    return ThreadPoolExecutor(max_workers=settings.ADMISSION_MAX_IN_FLIGHT or 16, thread_name_prefix="request")


@dataclass(frozen=True)
class AccountSnapshot:
    """The caller's primary account and its owner as one query read them, with whether the owner passed KYC:
    what order entry's checks read, kept with the principal. A principal is revoked whenever who may trade
    changes (a KYC decision, a restriction, deactivation: `speedtrade.auth_cache`), and the order writer checks
    the account's status and blocks again under its lock, so a snapshot never lets a refused order through.
    Routes that show the account read it afresh."""

    account_values: tuple
    user_values: tuple
    kyc_approved: bool

    @classmethod
    def read(cls, *, user_id) -> "AccountSnapshot":
        found = primary_account(user=User.from_db("default", ["id"], [user_id]))
        if found is None:
            raise FallThrough  # no account: the view's 404
        return cls(_row_values(found), _row_values(found.user), kyc_approved=owner_kyc_approved(found))

    def account(self) -> Account:
        """Instances of this request's own (a request's services may change them), the owner already joined."""
        account = Account.from_db("default", _ACCOUNT_COLUMNS, self.account_values)
        Account.user.field.set_cached_value(account, User.from_db("default", _USER_COLUMNS, self.user_values))
        return kyc_approval_known(account, approved=self.kyc_approved)


_ACCOUNT_COLUMNS = [field.attname for field in Account._meta.concrete_fields]
_USER_COLUMNS = [field.attname for field in User._meta.concrete_fields]


def _row_values(instance) -> tuple:
    return tuple(getattr(instance, field.attname) for field in instance._meta.concrete_fields)


class _ThrottledRequest:
    """What the user throttle reads of a request: an authenticated user and its pk (no model instance: building
    one was ~2 % of a lean order's CPU)."""

    def __init__(self, principal: Principal):
        self.user = _ThrottledUser(principal.user_id)


@dataclass(frozen=True)
class _ThrottledUser:
    pk: Any
    is_authenticated: bool = True


# --- the routes -------------------------------------------------------------------------------------------


def _no_query(request: LeanRequest) -> None:
    if request.query:
        raise FallThrough


def _account(request: LeanRequest, _parsed, account: Account) -> tuple[dict, int]:
    body = account_body(account, account_read=True)  # the body shows the account's fields: its row as read now
    return (alpaca_account_body(body) if request.alpaca else body), 200


def _positions(request: LeanRequest, _parsed, account: Account) -> tuple[list, int]:
    return positions_body(account), 200


_ORDER_LIST_PARAMS = {"status", "symbols", "side", "after", "until", "limit", "direction", "nested"}


def _order_list_query(request: LeanRequest) -> QueryDict:
    names = [name for name, _ in request.query]
    if len(set(names)) != len(names) or not set(names) <= _ORDER_LIST_PARAMS:
        raise FallThrough
    query = QueryDict(mutable=True)
    for name, value in request.query:
        query[name] = value
    return query


def _orders(request: LeanRequest, query: QueryDict, account: Account) -> tuple[list, int]:
    return orders_body(lambda: account, query), 200


def _order_create_input(request: LeanRequest) -> OrderRequest:
    order_request = simple_order_request(request.body) if not request.query else None
    if order_request is None:
        raise FallThrough
    return order_request


def _order_create(request: LeanRequest, order_request: OrderRequest, account: Account) -> tuple[dict, int]:
    order, created = order_entry(account=account, request=order_request)
    return placed_order_body(order), 201 if created else 200


def order_entry(*, account: Account, request: OrderRequest) -> tuple[Order, bool]:
    """Where the lean path places an order in the request's thread."""
    return services.order_place(account=account, request=request)


def _order_create_in_loop(request: LeanRequest, order_request: OrderRequest, account: Account) -> LoopWork | None:
    placing = services.loop_placement(account=account, request=order_request)
    return None if placing is None else _OrderCreateInLoop(request, placing)


@dataclass(frozen=True)
class _OrderCreateInLoop:
    """`POST /orders` for an order `order_place_async` places on the loop; what it leaves to `order_place` (a
    client_order_id seen before, a refusal a retry might undo) is `_order_create` in a thread."""

    request: LeanRequest
    placing: services.LoopPlacement

    def reads_queue(self, pipeline) -> Callable[[list], MarketInputs]:
        return self.placing.market_inputs_queue(pipeline)

    async def answer(self, read: MarketInputs, in_thread: services.InThread) -> tuple[Any, int]:
        order = await services.order_place_async(self.placing, market=read, in_thread=in_thread)
        if order is None:
            return await in_thread(_order_create, self.request, self.placing.request, self.placing.account)
        return placed_order_body(order), 201


# --- thin order validation ----------------------------------------------------------------------------------

# What this path parses itself: a simple order, every number a plain decimal string within the serializer's
# precision (QTY: 15 integer digits, 9 places; MONEY: 15 and 2), text as the serializer would keep it.
# Anything else is OrderCreateSerializer's to parse, accept or refuse in its own words.
_QTY = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,9})?")
_MONEY = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,2})?")
_TEXT = re.compile(r"[!-~](?:[ -~]{0,126}[!-~])?")  # printable ASCII without outer spaces (CharField trims them)
_SYMBOL = re.compile(r"[A-Za-z0-9./-]{1,32}")
_SIDES = frozenset(Order.Side.values)
_TYPES = frozenset(Order.Type.values)
_TIMES_IN_FORCE = frozenset(Order.TimeInForce.values)
_NUMBERS = {"qty": _QTY, "notional": _MONEY, "limit_price": _QTY, "stop_price": _QTY}
_ORDER_FIELDS = frozenset({"symbol", "side", "type", "time_in_force", "extended_hours", "client_order_id", *_NUMBERS})
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def simple_order_request(body: bytes) -> OrderRequest | None:
    """The OrderRequest OrderCreateSerializer would build from this body, or None to let it decide."""
    try:
        data = _decode(body)
    except msgspec.DecodeError:
        return None
    if not set(data) <= _ORDER_FIELDS or ("qty" in data) == ("notional" in data):
        return None
    if not all(isinstance(value, str) for name, value in data.items() if name != "extended_hours"):
        return None
    if not (
        _SYMBOL.fullmatch(data.get("symbol", ""))
        and data.get("side") in _SIDES
        and data.get("type") in _TYPES
        and data.get("time_in_force") in _TIMES_IN_FORCE
        and isinstance(data.get("extended_hours", False), bool)
        and _TEXT.fullmatch(data.get("client_order_id", "x"))
    ):
        return None
    numbers = {}
    for name, pattern in _NUMBERS.items():
        if name in data:
            if not pattern.fullmatch(data[name]) or Decimal(data[name]) <= 0:
                return None
            # Exact (the pattern allows no more places than the field keeps), with the serializer's exponent.
            numbers[name] = to_cents(data[name]) if name == "notional" else to_qty(data[name])
    return OrderRequest(
        symbol=data["symbol"].upper(),
        side=data["side"],
        type=data["type"],
        time_in_force=data["time_in_force"],
        extended_hours=data.get("extended_hours", False),
        client_order_id=data.get("client_order_id", ""),
        qty=numbers.get("qty"),
        notional=numbers.get("notional"),
        limit_price=numbers.get("limit_price"),
        stop_price=numbers.get("stop_price"),
    )


# --- what Django's middleware and APIView add to a response ---------------------------------------------------


@dataclass(frozen=True)
class RouteFacts:
    headers: list[tuple[bytes, bytes]]  # the middleware's and APIView's headers on this route's JSON answers
    view_name: str  # the URL name django-prometheus labels the route's metrics with


_FACTS: dict[tuple[str, str, bool, int], RouteFacts] = {}


def _route_facts(method: str, path: str, *, secure: bool, status: int) -> RouteFacts:
    key = (method, path, secure, status)
    if key not in _FACTS:
        _FACTS[key] = _route_facts_taken(method, path, secure=secure, status=status)
    return _FACTS[key]


def _route_facts_taken(method: str, path: str, *, secure: bool, status: int) -> RouteFacts:
    """Taken once per route and status from the same middleware run over an empty JSON response (CSP, for
    one, leaves DEBUG's 404s and 500s alone), so they cannot drift."""
    match = resolve(path)
    view_class = match.func.view_class  # type: ignore[attr-defined]  # APIView.as_view() sets it
    allowed = [m.upper() for m in view_class.http_method_names if hasattr(view_class, m) or m == "head"]
    request = HttpRequest()
    request.method, request.path, request.path_info = method, path, path
    request.is_secure = lambda: secure  # type: ignore[method-assign]
    response = HttpResponse(content_type="application/json", status=status)
    response["Allow"] = ", ".join(allowed)
    if len(view_class.renderer_classes) > 1:
        patch_vary_headers(response, ("Accept",))  # APIView's: the answer depends on content negotiation
    # StaffIdleTimeoutMiddleware reads request.user on every request, which reads the session: SessionMiddleware
    # then varies the answer on Cookie (no session is written: this path never sees a cookie).
    request.COOKIES = {}
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    request.session.get("_auth_user_id")
    for middleware in (XFrameOptionsMiddleware, SessionMiddleware, CSPMiddleware, SecurityMiddleware):
        middleware(_unused_get_response).process_response(request, response)  # each sets headers on it
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
    ]
    return RouteFacts(headers=headers, view_name=match.view_name or "<unnamed view>")


def _unused_get_response(request):
    raise AssertionError("only process_response is called")


def _response_headers(facts: RouteFacts, headers: dict, content: bytes, started: float) -> list:
    return [
        (b"content-type", b"application/json"),
        *facts.headers,
        *((str(name).lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in headers.items()),
        (b"x-process-time", f"{(time.perf_counter() - started) * 1000:.2f}ms".encode()),
        (b"content-length", str(len(content)).encode()),
    ]


def _metrics_record(request: LeanRequest, view_name: str, *, status: int, content_length: int, started: float):
    """What django-prometheus's two middlewares record for a request, for the same dashboards."""
    metrics = Metrics.get_instance()
    elapsed = time.perf_counter() - started
    labelled = _labelled_metrics(view_name, request.method, "https" if request.secure else "http", str(status))
    metrics.requests_total.inc()
    metrics.requests_body_bytes.observe(len(request.body))
    metrics.responses_total.inc()
    metrics.responses_body_bytes.observe(content_length)
    metrics.requests_latency_before.observe(elapsed)
    for counter in labelled.counters:
        counter.inc()
    labelled.latency.observe(elapsed)


@dataclass(frozen=True)
class _LabelledMetrics:
    counters: tuple  # the labelled counters a request of these labels increments
    latency: Any  # its latency histogram


@cache
def _labelled_metrics(view_name: str, method: str, transport: str, code: str) -> _LabelledMetrics:
    """The metrics of one route, method, transport and status, labelled once (prometheus_client's `labels` looks
    the child up under a lock on every call: seven per request)."""
    metrics = Metrics.get_instance()
    counters = (
        metrics.requests_by_method.labels(method=method),
        metrics.requests_by_transport.labels(transport=transport),
        metrics.requests_by_view_transport_method.labels(view=view_name, transport=transport, method=method),
        metrics.responses_by_status.labels(status=code),
        metrics.responses_by_status_view_method.labels(status=code, view=view_name, method=method),
        metrics.responses_by_charset.labels(charset="utf-8"),
        metrics.responses_by_templatename.labels(templatename="None"),  # a DRF Response's, which has no template
    )
    return _LabelledMetrics(counters, metrics.requests_latency_by_view_method.labels(view=view_name, method=method))
