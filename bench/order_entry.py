"""1. Order entry: POST /api/v1/orders (resting limit buys), open loop at fixed rates and closed loop;
ceilings: the same SQL replayed by raw async psycopg at the same concurrency, and pgbench tpcb-like."""

import asyncio
import pickle
import re
import subprocess
import uuid

import psycopg

from bench import load
from bench.stack import Config, Meter, Stack, correctness, log, task_queue_length

SUSTAINED_P99_MS = 25.0


def order_request_factory(seed: dict, tag: str):
    traders, symbols = seed["traders"], seed["symbols"]
    headers = [{"Authorization": f"Bearer {t['token']}", "Content-Type": "application/json"} for t in traders]

    def make(i: int):
        body = load.json_body(
            {
                "symbol": symbols[i % len(symbols)],
                "side": "buy",
                "type": "limit",
                "time_in_force": "gtc",
                "qty": "1",
                "limit_price": "1.00",
                "client_order_id": f"{tag}-{i}",
            }
        )
        return "POST", "/api/v1/orders", body, headers[i % len(headers)]

    return make


async def http_runs(
    config: Config, seed: dict, stack: Stack, *, rates, duration: float, concurrency: int, drain_seconds: float
) -> dict:
    """The closed loop (the maximum), then each open-loop rate. Between steps the server settles and the
    submissions the worker has not sent yet are dropped (those orders stay `new`), so one step's backlog never
    lands in the next; after each step the ledger is verified and the stored orders counted."""
    tag = f"c-{uuid.uuid4().hex[:6]}"
    log(f"order entry: closed loop, {concurrency} clients, {duration}s")
    meter = Meter(config, stack)
    closed = await load.closed_loop(
        config.host, config.port, order_request_factory(seed, tag), concurrency=concurrency, duration=duration
    )
    closed_summary = closed.summary() | meter.per(closed.summary()["accepted"])
    runs = [await _settle_and_check(config, closed_summary, tag, drain_seconds)]
    for rate in rates:
        tag = f"o{rate}-{uuid.uuid4().hex[:6]}"
        log(f"order entry: open loop {rate}/s for {duration}s")
        meter = Meter(config, stack)
        result = await load.open_loop(
            config.host, config.port, order_request_factory(seed, tag), rate=rate, duration=duration
        )
        summary = result.summary()
        summary |= meter.per(summary["accepted"])
        summary["sustained"] = load.sustained(summary, p99_ms=SUSTAINED_P99_MS)
        runs.append(await _settle_and_check(config, summary, tag, drain_seconds))
    return {"closed_loop": runs[0], "open_loop": runs[1:]}


async def _settle_and_check(config: Config, summary: dict, tag: str, drain_seconds: float) -> dict:
    summary["submit_backlog_at_end"] = task_queue_length(config)
    summary["settle_s"] = await load.settled(config.host, config.port, timeout=drain_seconds)
    summary["submit_backlog_dropped"] = task_queue_length(config, purge=True)
    summary["correctness"] = correctness(config, prefix=tag, accepted=summary["accepted"])
    return summary


def _filled(param, values: dict):
    """A captured parameter with this order's ids: a whole placeholder as its value, placeholders inside a text
    (the order writer's JSON rows) as their text."""
    if not isinstance(param, str):
        return param
    if param in values:
        return values[param]
    for name, value in values.items():
        param = param.replace(name, str(value))
    return param


async def raw_psycopg_ceiling(config: Config, seed: dict, *, concurrency: int, duration: float, pipeline: bool) -> dict:
    """The statements of one order placement (captured from Django), replayed per order, one transaction each."""
    with open(seed["order_sql"], "rb") as handle:
        statements = pickle.load(handle)
    traders = seed["traders"]
    done = 0
    errors = 0
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + duration

    async def worker(n: int) -> None:
        nonlocal done, errors
        trader = traders[n % len(traders)]
        async with await psycopg.AsyncConnection.connect(config.libpq_url) as conn:
            while loop.time() < stop_at:
                values = {
                    "$order_id": uuid.uuid4(),
                    "$client_order_id": f"raw-{uuid.uuid4().hex}",
                    "$account_id": uuid.UUID(trader["account_id"]),
                    "$user_id": uuid.UUID(trader["user_id"]),
                }
                started = loop.time()
                try:
                    async with conn.transaction():
                        if pipeline:
                            async with conn.pipeline():
                                for sql, params in statements:
                                    await conn.execute(sql, [_filled(p, values) for p in params])
                        else:
                            for sql, params in statements:
                                cursor = await conn.execute(sql, [_filled(p, values) for p in params])
                                if cursor.description:
                                    await cursor.fetchall()
                    done += 1
                    latencies.append((loop.time() - started) * 1000)
                except psycopg.Error:
                    errors += 1

    start = loop.time()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = loop.time() - start
    return {
        "statements_per_order": len(statements),
        "pipeline": pipeline,
        "concurrency": concurrency,
        "orders_per_s": round(done / elapsed, 1),
        "errors": errors,
        "latency_ms": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in load.percentiles(latencies).items()},
    }


def pgbench(config: Config, *, clients: int, duration: int, scale: int, prepared: bool) -> dict:
    """pgbench tpcb-like on its own tables in the bench database (scale 10 with 8 clients: enough branch rows
    that the clients do not queue on a handful of them)."""
    binary = "pgbench"
    subprocess.run([binary, "-i", "-q", "-s", str(scale), config.libpq_url], check=True, capture_output=True)
    mode = ["-M", "prepared"] if prepared else []
    result = subprocess.run(
        [binary, "-b", "tpcb-like", *mode, "-c", str(clients), "-j", "2", "-T", str(duration), config.libpq_url],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    return {
        "clients": clients,
        "scale": scale,
        "prepared": prepared,
        "tps": float(match.group(1)) if match else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
    }
