"""Issue 22, web worker RSS: one uvicorn worker's resident memory at start, after a trade page (it draws every
chart indicator, which loads TA-Lib), and after `GET /api/v1/account` and `POST /api/v1/orders` closed loops.
A light measurement for docs/notes/bench.md, not `make bench` (which reports the largest worker's RSS at its end).

    .venv/bin/python -m bench.worker_rss [--seconds 15] [--clients 64]

Uses its own database (`BENCH_DATABASE`, default speedtrade_rss, dropped afterwards), Redis db (`BENCH_REDIS_URL`)
and `BENCH_PORT`, seeded small by bench/seed.py, as bench/lean_path.py.
"""

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path

from bench.load import closed_loop, json_body
from bench.stack import Config, Stack, database_drop, database_seeded_small, log


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    config = Config(database=os.environ.get("BENCH_DATABASE", "speedtrade_rss"), workers=1)
    work = Path(tempfile.mkdtemp(prefix="worker-rss-"))
    seed = database_seeded_small(
        config, work, {"feed_symbols": 100, "traders": 2, "reads_orders": 50, "reads_positions": 5}
    )
    bearer = {"Authorization": f"Bearer {seed['traders'][0]['token']}"}
    order_body = {"symbol": seed["symbols"][0], "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "1"}
    steps = [
        (
            "trade page",
            1,
            2.0,
            lambda i: ("GET", "/trade/B000%2FUSD/", b"", {"Cookie": f"sessionid={seed['reads_session']}"}),
        ),
        ("GET /api/v1/account", args.clients, args.seconds, lambda i: ("GET", "/api/v1/account", b"", bearer)),
        (
            "POST /api/v1/orders",
            args.clients,
            args.seconds,
            lambda i: (
                "POST",
                "/api/v1/orders",
                json_body({**order_body, "limit_price": "1.00"}),
                {**bearer, "Content-Type": "application/json"},
            ),
        ),
    ]
    stack = Stack(config, work)
    try:
        web = stack.start_web()
        rows: list[tuple[str, float, dict]] = [("start", max(web.rss_mb().values()), {})]
        for name, clients, seconds, make in steps:
            result = asyncio.run(closed_loop(config.host, config.port, make, concurrency=clients, duration=seconds))
            rows.append((f"after {name}", max(web.rss_mb().values()), result.summary()["statuses"]))
            log(json.dumps(rows[-1]))
    finally:
        stack.stop_all()
        database_drop(config)
    print("| web worker | RSS MB | statuses |")
    print("|---|---|---|")
    for name, rss, statuses in rows:
        print(f"| {name} | {rss:.0f} | {statuses} |")


if __name__ == "__main__":
    main()
