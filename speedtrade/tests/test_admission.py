"""Admission control at the edge (speedtrade/admission.py): past ADMISSION_MAX_IN_FLIGHT requests in work, a request
waits at most ADMISSION_WAIT_SECONDS and is then told 503 "come back in a second" before any of its work — so under
overload a client either has its order placed or is refused at once, never placed after it gave up.

The gate's rules are driven in process with an app that holds its place until told; the whole stack (`manage.py
serve`, an order held behind a table lock the test takes) shows that a refused order is neither stored nor counted
against the trader's budgets, and that sockets and health checks pass a full gate.
"""

import asyncio
import http.client
import json
import sys
import threading
from decimal import Decimal

import psycopg
import pytest
from django.core.cache import cache
from websockets.sync.client import connect as websocket_connect

from accounts.services import api_key_create
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory, approved_customer
from e2e.support import test_database_url
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade.admission import Admission
from speedtrade.tests.processes import ManagedProcess, app_environment, free_port, wait_until_listening
from trading.models import Order


class HeldApp:
    """The app behind the gate: records each request it is given and answers it when released."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append(scope["path"])
        if scope["type"] == "http":
            await self.release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"done"})


async def call(app, path: str, *, kind: str = "http") -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": kind, "method": "GET", "path": path, "headers": []}, receive, send)
    if not sent:
        return 0, {}, b""
    headers = {name.decode(): value.decode() for name, value in sent[0]["headers"]}
    return sent[0]["status"], headers, sent[1]["body"]


async def started(task_count_seen, app: HeldApp) -> None:
    """Let the event loop run until `app` has been given that many requests."""
    while len(app.seen) < task_count_seen:
        await asyncio.sleep(0)


def test_a_burst_past_the_limit_is_refused_in_each_parts_format_without_reaching_the_app():
    async def scenario():
        inner = HeldApp()
        gate = Admission(inner, limit=2, wait_seconds=0.05)
        holders = [asyncio.create_task(call(gate, "/api/v1/orders")) for _ in range(2)]
        await started(2, inner)
        refused = await asyncio.gather(
            call(gate, "/api/v1/orders"), call(gate, "/v2/orders"), call(gate, "/trade/ACME/"), call(gate, "/")
        )
        inner.release.set()
        return inner.seen, refused, await asyncio.gather(*holders)

    seen, refused, admitted = asyncio.run(scenario())

    assert seen == ["/api/v1/orders", "/api/v1/orders"]  # the refused four never reached the app
    assert [status for status, _, _ in admitted] == [200, 200]
    assert [status for status, _, _ in refused] == [503] * 4
    assert all(headers["retry-after"] == "1" for _, headers, _ in refused)
    (_, api_headers, api_body), (_, alpaca_headers, alpaca_body), (_, page_headers, page_body), _ = refused
    message = "The service is at capacity right now; retry in a moment."
    assert api_headers["content-type"] == "application/json"
    assert json.loads(api_body) == {"code": "overloaded", "message": message}
    assert json.loads(alpaca_body) == {"code": 50300000, "message": message}
    assert page_headers["content-type"] == "text/html; charset=utf-8"
    assert b"We are busy right now" in page_body and b"nothing was changed" in page_body


def test_a_request_that_finds_a_place_before_its_deadline_is_served():
    async def scenario():
        inner = HeldApp()
        gate = Admission(inner, limit=1, wait_seconds=60)
        first = asyncio.create_task(call(gate, "/api/v1/account"))
        await started(1, inner)
        second = asyncio.create_task(call(gate, "/api/v1/account"))
        for _ in range(10):
            await asyncio.sleep(0)
        waiting = inner.seen.copy()
        inner.release.set()
        return waiting, await first, await second

    waiting, first, second = asyncio.run(scenario())

    assert waiting == ["/api/v1/account"]  # the second waited for the first's place
    assert (first[0], first[2]) == (200, b"done")
    assert (second[0], second[2]) == (200, b"done")


def test_requests_within_the_limit_all_run_at_once():
    async def scenario():
        inner = HeldApp()
        gate = Admission(inner, limit=3, wait_seconds=0.01)
        calls = [asyncio.create_task(call(gate, "/api/v1/account")) for _ in range(3)]
        await started(3, inner)
        inner.release.set()
        return await asyncio.gather(*calls)

    assert [status for status, _, _ in asyncio.run(scenario())] == [200, 200, 200]


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("http", "/health"),
        ("http", "/ready"),
        ("http", "/metrics"),
        ("http", "/static/css/app.css"),
        ("websocket", "/ws/quotes"),
    ],
)
def test_probes_metrics_static_files_and_sockets_pass_a_full_gate(kind, path):
    async def scenario():
        inner = HeldApp()
        gate = Admission(inner, limit=1, wait_seconds=0.01)
        holder = asyncio.create_task(call(gate, "/api/v1/orders"))
        await started(1, inner)
        passing = asyncio.create_task(call(gate, path, kind=kind))
        await started(2, inner)
        inner.release.set()
        await asyncio.gather(holder, passing)
        return inner.seen

    assert asyncio.run(scenario()) == ["/api/v1/orders", path]


# --- the whole stack ------------------------------------------------------------------------------------------

ORDER = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "1", "limit_price": "9"}


def _post_order(port: int, headers: dict, client_order_id: str) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({**ORDER, "client_order_id": client_order_id})
        connection.request("POST", "/api/v1/orders", body, {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _budget_counted(pattern: str) -> int:
    """What the server's budgets (DRF's user throttle, the API keys' windows) counted for these keys, summed."""
    client = cache._cache.get_client(write=False)
    return sum(int(client.get(key)) for key in client.scan_iter(f"*{pattern}*"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_orders_refused_at_a_full_gate_are_neither_placed_nor_counted_and_sockets_and_probes_still_pass(
    tmp_path, api_client
):
    AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))
    bob = UserFactory(email="bob@example.com")
    account = approved_customer(bob)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    key, secret = api_key_create(user=bob, label="bot")
    headers = {"APCA-API-KEY-ID": key.key_id, "APCA-API-SECRET-KEY": secret}
    login = api_client.post("/_allauth/app/v1/auth/login", {"email": bob.email, "password": DEFAULT_PASSWORD})
    access_token = login.json()["meta"]["access_token"]

    port = free_port()
    env = app_environment(ADMISSION_MAX_IN_FLIGHT="1", ADMISSION_WAIT_SECONDS="0.2")
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    web = ManagedProcess(command, tmp_path / "web.log", env)
    answers: dict[str, tuple] = {}
    with psycopg.connect(test_database_url()) as lock_holder:
        try:
            wait_until_listening(web, port, timeout=60)
            web.wait_for("Application startup complete", timeout=60)
            # Bob's first order takes the only place and waits behind our lock on the order table.
            lock_holder.execute("LOCK TABLE trading_order IN ACCESS EXCLUSIVE MODE")
            first = threading.Thread(target=lambda: answers.update(first=_post_order(port, headers, "held")))
            first.start()
            _wait_until_a_backend_waits_for_a_lock(lock_holder)

            refused = [_post_order(port, headers, f"burst-{n}") for n in range(5)]
            health, ready = _get(port, "/health"), _get(port, "/ready")
            with websocket_connect(
                f"ws://127.0.0.1:{port}/ws/quotes",
                additional_headers={"Authorization": f"Bearer {access_token}"},
                open_timeout=30,
            ) as socket:
                socket_opened = socket.response.status_code
            lock_holder.rollback()  # the held order goes on
            first.join(timeout=60)
        finally:
            lock_holder.rollback()
            web.kill()

    assert [status for status, _, _ in refused] == [503] * 5
    assert all(json.loads(body)["code"] == "overloaded" for _, _, body in refused)
    assert all(response_headers["retry-after"] == "1" for _, response_headers, _ in refused)
    assert answers["first"][0] == 201
    assert list(Order.objects.filter(account=account).values_list("client_order_id", flat=True)) == ["held"]
    # Only the admitted order was counted: against bob's user throttle, his API key and his keys together.
    assert _budget_counted(f"throttle_user_{bob.pk}") == 1
    assert _budget_counted(f"api-key-rate:{key.key_id}") == 1
    assert _budget_counted(f"api-user-rate:{bob.pk}") == 1
    assert (health, ready, socket_opened) == (200, 200, 101)


def _wait_until_a_backend_waits_for_a_lock(connection: psycopg.Connection) -> None:
    with psycopg.connect(connection.info.dsn, autocommit=True) as observer:
        for _ in range(600):
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()[0]
            if waiting:
                return
            observer.execute("SELECT pg_sleep(0.1)")
    raise AssertionError("the first order never waited for the lock")


@pytest.mark.django_db
def test_a_page_whose_first_query_finds_no_free_connection_is_the_503_page(alice, client, monkeypatch):
    """Overload met inside Django (every pooled connection busy for DB_POOL_TIMEOUT_SECONDS) is answered as the
    edge answers a full gate, not as a server fault."""
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    def pool_exhausted(**kwargs):
        try:
            raise PoolTimeout("couldn't get a connection after 2.00 sec")
        except PoolTimeout as timeout:
            raise OperationalError(str(timeout)) from timeout  # what Django's error wrapper raises

    approved_customer(alice)
    client.force_login(alice)
    client.raise_request_exception = False
    monkeypatch.setattr("portfolios.views.valuation_at_market", pool_exhausted)
    response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert b"We are busy right now" in response.content
