"""The lean-path ceiling the issue measured by hand: a bare ASGI app under the same server (uvicorn, the same
worker count), authentication from a per-process dict, orjson answers, and per request only the SQL Django sends
for it, captured by `bench.seed` and replayed as the raw psycopg ceiling replays it: one order placement's
statements per POST (in one transaction), `GET /api/v1/account`'s valuation reads per GET. Nothing of Django, DRF,
Channels or the order engine runs: what it sustains under the same load generator, at the same rates, is what
this machine allows any implementation of the two requests here.

`ceiling()` starts it under uvicorn on the ceiling's copy of the seeded database (BARE_SEED: the seed file;
BARE_DATABASE_URL: libpq URL) and drives it.
"""

import asyncio
import json
import os
import pickle
import uuid
from pathlib import Path

import orjson
import psycopg

from bench import load
from bench.order_entry import SUSTAINED_P99_MS, _filled, order_request_factory
from bench.reads import ACCOUNT_P99_MS
from bench.stack import PYTHON, Config, Meter, Stack, log, wait_for_port

CONNECTIONS_PER_WORKER = 8


class BareApp:
    """ASGI: POST /api/v1/orders replays the captured order SQL in one transaction, GET /api/v1/account the
    captured valuation reads; /health answers at once (the steps' settling polls it). Anything else, or an unknown
    bearer token, is a 404/401."""

    def __init__(self) -> None:
        seed = json.loads(Path(os.environ["BARE_SEED"]).read_text())
        with open(seed["order_sql"], "rb") as handle:
            self.order_statements = pickle.load(handle)
        with open(seed["account_sql"], "rb") as handle:
            self.account_statements = pickle.load(handle)
        self.principals = {
            f"Bearer {trader['token']}".encode(): (uuid.UUID(trader["account_id"]), uuid.UUID(trader["user_id"]))
            for trader in seed["traders"]
        }
        self.connections: asyncio.Queue | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["path"] == "/health":
            await _answer(send, 200, {"status": "ok"})
            return
        headers = dict(scope["headers"])
        principal = self.principals.get(headers.get(b"authorization", b""))
        if principal is None:
            await _answer(send, 401, {"message": "unauthorized"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        assert self.connections is not None
        conn = await self.connections.get()
        try:
            if scope["method"] == "POST" and scope["path"] == "/api/v1/orders":
                status, answer = await self._place(conn, principal, orjson.loads(body))
            elif scope["method"] == "GET" and scope["path"] == "/api/v1/account":
                status, answer = await self._account(conn, principal)
            else:
                status, answer = 404, {"message": "not found"}
        finally:
            self.connections.put_nowait(conn)
        await _answer(send, status, answer)

    async def _place(self, conn, principal, request: dict) -> tuple[int, dict]:
        account_id, user_id = principal
        values = {
            "$order_id": uuid.uuid4(),
            "$client_order_id": request["client_order_id"],
            "$account_id": account_id,
            "$user_id": user_id,
        }
        async with conn.transaction():
            await _replayed(conn, self.order_statements, values)
        return 201, {"id": str(values["$order_id"]), "client_order_id": request["client_order_id"], "status": "new"}

    async def _account(self, conn, principal) -> tuple[int, dict]:
        rows = await _replayed(conn, self.account_statements, {"$account_id": principal[0]})
        return 200, {"id": str(principal[0]), "rows": len(rows)}

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.connections = asyncio.Queue()
                for _ in range(CONNECTIONS_PER_WORKER):
                    conn = await psycopg.AsyncConnection.connect(os.environ["BARE_DATABASE_URL"], autocommit=True)
                    self.connections.put_nowait(conn)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                while self.connections is not None and not self.connections.empty():
                    await self.connections.get_nowait().close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _replayed(conn, statements: list, values: dict) -> list:
    rows = []
    for sql, params in statements:
        if isinstance(params, dict):
            filled = {key: _filled(p, values) for key, p in params.items()}
        else:
            filled = [_filled(p, values) for p in params]
        cursor = await conn.execute(sql, filled)
        if cursor.description:
            rows += await cursor.fetchall()
    return rows


async def _answer(send, status: int, answer: dict) -> None:
    body = orjson.dumps(answer)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def app_factory() -> BareApp:
    return BareApp()


def ceiling(config: Config, seed_path: str, work, sizes: dict) -> dict:
    """The bare app under uvicorn (the stack's worker count) on `config`'s database: the order entry closed loop
    and open-loop rates, then GET /api/v1/account at its rates, with the same load generator and the same
    sustained rule (p99 ≤ 25 ms of successes, ≥ 99.5 % accepted)."""
    stack = Stack(config, work)
    process = stack.start(
        "bare",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "--factory",
            "bench.bare_entry:app_factory",
            "--host",
            config.host,
            "--port",
            str(config.port),
            "--workers",
            str(config.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        BARE_SEED=seed_path,
        BARE_DATABASE_URL=config.libpq_url,
    )
    try:
        wait_for_port(config.host, config.port, process)
        return asyncio.run(_measure(config, json.loads(Path(seed_path).read_text()), stack, sizes))
    finally:
        stack.stop_all()


async def _measure(config: Config, seed: dict, stack: Stack, sizes: dict) -> dict:
    # The ceilings' own duration (15 s in a full run: at these rates thousands of samples per step), so that the
    # idle-stack phase stays a few minutes.
    step, drain = sizes["ceiling_seconds"], sizes["drain_seconds"]
    host, port = config.host, config.port
    tag = f"bare-c-{uuid.uuid4().hex[:6]}"
    log(f"ceiling (idle): bare ASGI order entry, closed loop, {sizes['concurrency']} clients, {step}s")
    meter = Meter(config, stack)
    closed = await load.closed_loop(
        host, port, order_request_factory(seed, tag), concurrency=sizes["concurrency"], duration=step
    )
    closed_summary = closed.summary() | meter.per(closed.summary()["accepted"])
    await load.settled(host, port, timeout=drain)
    entry = []
    for rate in sizes["rates"]:
        log(f"ceiling (idle): bare ASGI order entry, open loop {rate}/s for {step}s")
        meter = Meter(config, stack)
        result = await load.open_loop(
            host, port, order_request_factory(seed, f"bare-o{rate}-{uuid.uuid4().hex[:6]}"), rate=rate, duration=step
        )
        summary = result.summary()
        summary |= meter.per(summary["accepted"])
        summary["sustained"] = load.sustained(summary, p99_ms=SUSTAINED_P99_MS)
        summary["settle_s"] = await load.settled(host, port, timeout=drain)
        entry.append(summary)
    headers = [{"Authorization": f"Bearer {trader['token']}"} for trader in seed["traders"]]
    account = []
    for rate in sizes["account_rates"]:
        log(f"ceiling (idle): bare ASGI GET /api/v1/account, open loop {rate}/s for {step}s")
        result = await load.open_loop(
            host,
            port,
            lambda i: ("GET", "/api/v1/account", b"", headers[i % len(headers)]),
            rate=rate,
            duration=step,
            ok_statuses=(200,),
        )
        summary = result.summary()
        summary["sustained"] = load.sustained(summary, p99_ms=ACCOUNT_P99_MS)
        summary["settle_s"] = await load.settled(host, port, timeout=drain)
        account.append(summary)
    return {"workers": config.workers, "closed_loop": closed_summary, "open_loop": entry, "account": account}
