"""Issue 22, the lean request path: `GET /api/v1/account` and `POST /api/v1/orders` through uvicorn with one
worker, with the lean path off (every request through Django and DRF), on with orders in the request's thread, and
on with orders on the event loop; requests/s and the web process's CPU per request. A light measurement for
docs/notes/bench.md, not `make bench`.

    .venv/bin/python -m bench.lean_path [--seconds 10] [--clients 16] [--variants off,thread,loop]

Uses its own database (`BENCH_DATABASE`, default speedtrade_lean, dropped afterwards) and Redis db
(`BENCH_REDIS_URL`), seeded small by bench/seed.py, and `BENCH_PORT` for the server. Orders rest (limit buys
at $1, no worker runs), so each one costs only its entry.
"""

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path

from bench.load import closed_loop, json_body
from bench.stack import Config, Stack, database_drop, database_seeded_small, log


def measure(stack: Stack, name: str, make, *, clients: int, seconds: float) -> dict:
    c = stack.config
    web = stack.processes["web"]
    asyncio.run(closed_loop(c.host, c.port, make, concurrency=clients, duration=2.0))  # warm: caches, pool
    before = web.cpu_seconds()
    result = asyncio.run(closed_loop(c.host, c.port, make, concurrency=clients, duration=seconds))
    cpu = web.cpu_seconds() - before
    summary = result.summary()
    ok = summary["accepted"]
    return {
        "step": name,
        "ok_per_s": round(ok / result.duration_s, 1),
        "web_cpu_ms_per_request": round(cpu * 1000 / max(ok, 1), 2),
        "p50_ms": summary["latency_ms"]["p50"],
        "p99_ms": summary["latency_ms"]["p99"],
        "statuses": summary["statuses"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--variants", default="off,thread,loop", help="which of off, thread, loop to run (comma-separated, in order)"
    )
    args = parser.parse_args()
    config = Config(
        database=os.environ.get("BENCH_DATABASE", "speedtrade_lean"),
        workers=1,
    )
    work = Path(tempfile.mkdtemp(prefix="lean-path-"))
    log(f"seeding {config.database} (work directory {work})")
    seed = database_seeded_small(
        config, work, {"feed_symbols": 100, "traders": 2, "reads_orders": 50, "reads_positions": 5}
    )
    token, symbol = seed["traders"][0]["token"], seed["symbols"][0]
    headers = {"Authorization": f"Bearer {token}"}
    order_headers = {**headers, "Content-Type": "application/json"}

    def account(i: int):
        return "GET", "/api/v1/account", b"", headers

    def order(i: int):
        body = {"symbol": symbol, "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "1"}
        return "POST", "/api/v1/orders", json_body({**body, "limit_price": "1.00"}), order_headers

    # Off: every request through Django and DRF; thread: the lean path with orders in the request's thread; loop:
    # orders on the event loop (LEAN_API_ASYNC_ORDERS; the bench's crypto buys in a cash account qualify).
    variants: dict[str, dict[str, str]] = {
        "off": {"LEAN_API_ENABLED": "false"},
        "thread": {"LEAN_API_ENABLED": "true", "LEAN_API_ASYNC_ORDERS": "false"},
        "loop": {"LEAN_API_ENABLED": "true", "LEAN_API_ASYNC_ORDERS": "true"},
    }
    variants = {name: variants[name] for name in args.variants.split(",")}  # as asked, in that order
    steps = {"GET /api/v1/account": account, "POST /api/v1/orders": order}
    rows = []
    try:
        for lean, env in variants.items():
            stack = Stack(config, work)
            try:
                stack.start_web(**env)
                for name, make in steps.items():
                    if lean == "loop" and name.startswith("GET"):
                        continue  # reads are answered alike with and without the loop's orders
                    row = measure(stack, name, make, clients=args.clients, seconds=args.seconds)
                    row["lean"] = lean
                    log(json.dumps(row))
                    rows.append(row)
            finally:
                stack.stop_all()
    finally:
        database_drop(config)
    print("| step | lean path | ok/s | web CPU ms/request | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['step']} | {row['lean']} | {row['ok_per_s']} | {row['web_cpu_ms_per_request']} | "
            f"{row['p50_ms']} | {row['p99_ms']} |"
        )


if __name__ == "__main__":
    main()
