"""6. Dashboard and API reads for a trader with 50 positions and 5,000 orders: server time (X-Process-Time)."""

import time

from bench import load
from bench.stack import Config, log

API = ["/api/v1/account", "/api/v1/positions", "/api/v1/orders?status=all&limit=500"]
PAGES = ["/", "/trade/B000%2FUSD/"]


async def reads(config: Config, seed: dict, *, repeats: int) -> list[dict]:
    results = []
    bearer = {"Authorization": f"Bearer {seed['reads_token']}"}
    cookie = {"Cookie": f"sessionid={seed['reads_session']}"}
    for path in API + PAGES:
        headers = bearer if path.startswith("/api/") else cookie
        conn = load.HttpConnection(config.host, config.port)
        status, _, body = await conn.request("GET", path, headers=headers)
        if status != 200:
            note = "not served on this branch" if status == 404 else "unexpected status"
            results.append({"path": path, "status": status, "note": note})
            conn.close()
            continue
        log(f"reads: {path} x{repeats}")
        result = load.RunResult("sequential", None, 0)
        for i in range(repeats):
            sent = time.perf_counter()
            await load.send_one(conn, lambda _, p=path, h=headers: ("GET", p, b"", h), i, result)
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)
        conn.close()
        summary = result.summary(ok_statuses=(200,))
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
