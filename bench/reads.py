"""6. Dashboard and API reads for a trader with 50 positions and 5,000 orders: server time (X-Process-Time)."""

import asyncio
import time

from bench import load
from bench.stack import Config, Meter, log

ACCOUNT_P99_MS = 25.0

API = ["/api/v1/account", "/api/v1/positions", "/api/v1/orders?status=all&limit=500"]
PAGES = ["/", "/trade/B000%2FUSD/"]


async def reads(config: Config, seed: dict, *, repeats: int) -> list[dict]:
    results = []
    bearer = {"Authorization": f"Bearer {seed['reads_token']}"}
    cookie = {"Cookie": f"sessionid={seed['reads_session']}"}
    for path in API + PAGES:
        headers = bearer if path.startswith("/api/") else cookie
        conn = load.HttpConnection(config.host, config.port)
        try:
            status, _, body = await conn.request("GET", path, headers=headers)
        except (OSError, asyncio.IncompleteReadError) as failure:  # a server that dropped us is a result too
            status, body = f"no answer ({type(failure).__name__})", b""
        if status != 200:
            note = "not served on this branch" if status == 404 else "unexpected status"
            results.append({"path": path, "status": status, "note": note})
            conn.close()
            continue
        log(f"reads: {path} x{repeats}")
        result = load.RunResult("sequential", None, 0, ok_statuses=(200,))
        for i in range(repeats):
            sent = time.perf_counter()
            status, response_headers = await load.send_one(conn, lambda _, p=path, h=headers: ("GET", p, b"", h), i)
            result.record(status, (time.perf_counter() - sent) * 1000, response_headers)
        conn.close()
        summary = result.summary()
        results.append(
            {
                "path": path,
                "status": status,
                "bytes": len(body),
                "server_ms": summary["server_ms"],
                "client_ms": summary["latency_ms"],
                "statuses": summary["statuses"],
            }
        )
    return results


async def account_open_loop(config: Config, seed: dict, stack, *, rates, duration: float, drain_seconds: float):
    """GET /api/v1/account from every trader in turn, open loop at each rate (the mobile client's poll)."""
    headers = [{"Authorization": f"Bearer {trader['token']}"} for trader in seed["traders"]]
    runs = []
    for rate in rates:
        log(f"reads: GET /api/v1/account open loop {rate}/s for {duration}s")
        meter = Meter(config, stack)
        result = await load.open_loop(
            config.host,
            config.port,
            lambda i: ("GET", "/api/v1/account", b"", headers[i % len(headers)]),
            rate=rate,
            duration=duration,
            ok_statuses=(200,),
        )
        summary = result.summary()
        summary |= meter.per(summary["accepted"])
        summary["sustained"] = load.sustained(summary, p99_ms=ACCOUNT_P99_MS)
        summary["settle_s"] = await load.settled(config.host, config.port, timeout=drain_seconds)
        runs.append(summary)
    return runs
