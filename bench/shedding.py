"""Issue 22, admission at the edge: `POST /api/v1/orders` offered faster than one uvicorn worker places them, with
admission control off (every request queued, the pool's wait at the old 10 s) and on (the defaults), and what
each answer meant: accepted, shed (503 before any work), errors, no answer within the client's 10 s; and the orders
stored against the 2xx answers. A light measurement for docs/notes/bench.md, not `make bench`.

    .venv/bin/python -m bench.shedding [--rate 500] [--seconds 10]

Same database and ports as bench/lean_path.py (`BENCH_DATABASE`, `BENCH_REDIS_URL`, `BENCH_PORT`).
"""

import argparse
import asyncio
import json
import os
import tempfile
import uuid
from pathlib import Path

from bench import report
from bench.load import json_body, open_loop
from bench.stack import Config, Stack, database_drop, database_seeded_small, log, orders_tagged

VARIANTS = {
    "off": {"ADMISSION_MAX_IN_FLIGHT": "0", "DB_POOL_TIMEOUT_SECONDS": "10"},
    "on": {},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    config = Config(database=os.environ.get("BENCH_DATABASE", "speedtrade_lean"), workers=1)
    work = Path(tempfile.mkdtemp(prefix="shedding-"))
    seed = database_seeded_small(
        config, work, {"feed_symbols": 100, "traders": 8, "reads_orders": 1, "reads_positions": 1}
    )
    rows = []
    try:
        for name, env in VARIANTS.items():
            tag = f"shed-{name}-{uuid.uuid4().hex[:6]}"
            headers = [
                {"Authorization": f"Bearer {t['token']}", "Content-Type": "application/json"} for t in seed["traders"]
            ]

            def order(i: int, tag=tag, headers=headers):
                body = {"symbol": seed["symbols"][i % len(seed["symbols"])], "side": "buy", "type": "limit"}
                body |= {"time_in_force": "gtc", "qty": "1", "limit_price": "1.00", "client_order_id": f"{tag}-{i}"}
                return "POST", "/api/v1/orders", json_body(body), headers[i % len(headers)]

            stack = Stack(config, work)
            try:
                stack.start_web(**env)
                load_before = os.getloadavg()[0]
                result = asyncio.run(
                    open_loop(config.host, config.port, order, rate=args.rate, duration=args.seconds, drain_seconds=10)
                )
                summary = result.summary()
                asyncio.run(asyncio.sleep(15))  # what the server still works off after the clients gave up
                stored = orders_tagged(config, tag)
            finally:
                stack.stop_all()
            row = {
                "admission": name,
                "answers": report.answers(summary),
                "statuses": summary["statuses"],
                "p99_ms_of_accepted": summary["latency_ms"]["p99"],
                "stored": stored,
                "answered_2xx": summary["accepted"],
                "load_1m": round(load_before, 1),
            }
            log(json.dumps(row))
            rows.append(row)
    finally:
        database_drop(config)
    print("| admission | answers | statuses | p99 ms (accepted) | orders stored | 2xx answers | load |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['admission']} | {row['answers']} | {row['statuses']} | {row['p99_ms_of_accepted']} | "
            f"{row['stored']} | {row['answered_2xx']} | {row['load_1m']} |"
        )


if __name__ == "__main__":
    main()
