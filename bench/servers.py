"""Server comparison: uvicorn (uvloop + httptools) vs daphne vs granian serving the same ASGI app.

HTTP: closed-loop GET /api/v1/account (authenticated, one database read) at 16 clients.
WebSockets: connect to /ws/quotes with a JWT, subscribe, receive the snapshot, ping/pong.
"""

import asyncio
import time

import orjson
from websockets.asyncio.client import connect

from bench import load
from bench.stack import Config, Stack, log


async def websocket_check(config: Config, token: str, symbol: str, rounds: int) -> dict:
    started = time.perf_counter()
    async with connect(
        f"ws://{config.host}:{config.port}/ws/quotes", additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send(orjson.dumps({"action": "subscribe", "symbols": [symbol]}).decode())
        subscribed = orjson.loads(await ws.recv())
        snapshot = orjson.loads(await ws.recv())
        connected = time.perf_counter()
        for _ in range(rounds):
            await ws.send('{"action":"ping"}')
            while orjson.loads(await ws.recv()) != {"type": "pong"}:
                pass  # quote frames may arrive in between
        pinged = time.perf_counter()
    ok = subscribed.get("type") == "subscribed" and isinstance(snapshot, list) and snapshot[0]["symbol"] == symbol
    return {
        "ok": ok,
        "connect_subscribe_ms": round((connected - started) * 1000, 2),
        "ping_round_trip_ms": round((pinged - connected) * 1000 / rounds, 3),
    }


def compare(config: Config, seed: dict, stack: Stack, *, seconds: float) -> list[dict]:
    token = seed["traders"][0]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    for server in ("uvicorn", "daphne", "granian"):
        log(f"server comparison: {server}")
        # daphne runs one process; the others get the same single worker so the comparison is fair.
        entry = {"server": server, "workers": 1}
        try:
            stack.start_web(server, workers=1)
            time.sleep(0.5)
            run = asyncio.run(
                load.closed_loop(
                    config.host,
                    config.port,
                    lambda i: ("GET", "/api/v1/account", b"", headers),
                    concurrency=16,
                    duration=seconds,
                    ok_statuses=(200,),
                )
            )
            summary = run.summary()
            entry |= {
                "http_req_per_s": summary["accepted_per_s"],
                "http_latency_ms": summary["latency_ms"],
                "http_statuses": summary["statuses"],
            }
            entry["websocket"] = asyncio.run(websocket_check(config, token, seed["symbols"][0], rounds=50))
            entry["rss_mb"] = stack.processes["web"].rss_mb()
        except Exception as exc:  # a server that cannot serve the app is a result, not a crash of the run
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            stack.stop("web")
        results.append(entry)
    return results
