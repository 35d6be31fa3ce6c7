"""`python -m bench [--smoke]`: run every benchmark against a fresh services-mode stack; see bench/README.md."""

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from bench import bare_entry, fanout, order_entry, order_fill, reads, report, servers
from bench.stack import (
    Config,
    Stack,
    database_drop,
    database_recreate,
    log,
    machine_load,
    manage,
    python_module,
    redis_flush,
    task_queue_length,
)

# What the steps measured so far, kept when a later step fails (the run's own work directory is removed).
PARTIAL_RESULTS = Path(tempfile.gettempdir()) / "speedtrade-bench-partial.json"

FULL = {
    "seed": {"traders": 32, "feed_symbols": 1000, "reads_orders": 5000, "reads_positions": 50},
    "matching": {"resting": 10_000, "seconds": 3.0, "crossings": 200},
    "alerts": {"alerts": 10_000, "seconds": 3.0, "crossings": 200},
    "rates": [100, 250, 500, 1000],
    "step_seconds": 60.0,
    "drain_seconds": 60.0,
    "concurrency": 16,
    "ceiling_concurrency": [4, 16],
    "ceiling_seconds": 15.0,
    "pgbench_seconds": 15,
    "pgbench_scale": 10,
    "pgbench_clients": 8,
    "fill_rates": [50, 250],
    "account_rates": [250, 500, 1000],
    "reads_repeats": 30,
    "server_seconds": 10.0,
    "fanout_rates": [200, 2000],
    "fanout_seconds": 60.0,
    "fanout_clients": 1000,
    "fanout_client_processes": 2,
}
# `make bench-quick`: the same steps, 10 s each, for iterating on a change (not for results).
QUICK = FULL | {
    "step_seconds": 10.0,
    "drain_seconds": 30.0,
    "ceiling_seconds": 5.0,
    "pgbench_seconds": 5,
    "server_seconds": 5.0,
    "fanout_seconds": 10.0,
}
SMOKE = {
    "seed": {"traders": 4, "feed_symbols": 100, "reads_orders": 60, "reads_positions": 3},
    "matching": {"resting": 500, "seconds": 0.3, "crossings": 3},
    "alerts": {"alerts": 500, "seconds": 0.3, "crossings": 3},
    "rates": [20],
    "step_seconds": 1.0,
    "drain_seconds": 5.0,
    "concurrency": 4,
    "ceiling_concurrency": [2],
    "ceiling_seconds": 1.0,
    "pgbench_seconds": 1,
    "pgbench_scale": 1,
    "pgbench_clients": 2,
    "fill_rates": [5],
    "account_rates": [20],
    "reads_repeats": 2,
    "server_seconds": 0.5,
    "fanout_rates": [50],
    "fanout_seconds": 1.0,
    "fanout_clients": 20,
    "fanout_client_processes": 1,
}


def ceilings(config: Config, seed_path: str, sizes: dict, work: Path) -> dict:
    """What the machine allows, measured while nothing of ours runs (before the stack starts): the order
    placement's own SQL from raw async psycopg (round trip by round trip, and in one pipeline) at each
    concurrency, pgbench tpcb-like, plain and with prepared statements, and the same SQL behind a bare ASGI app
    under the same server and load generator as the stack (`bench.bare_entry`)."""
    log("ceilings (idle stack): raw psycopg, pgbench, bare ASGI, on a copy of the seeded database")
    # A copy, so that the orders the replay inserts never reach the stack (reconciliation would submit them).
    copy = dataclasses.replace(config, database=f"{config.database}_ceiling")
    database_recreate(copy, template=config.database)
    try:
        return _ceilings(copy, json.loads(Path(seed_path).read_text()), sizes) | {
            "bare_asgi": bare_entry.ceiling(copy, seed_path, work, sizes)
        }
    finally:
        database_drop(copy)


def _ceilings(config: Config, seed: dict, sizes: dict) -> dict:
    raw = {}
    for pipeline in (False, True):
        for concurrency in sizes["ceiling_concurrency"]:
            raw[(pipeline, concurrency)] = asyncio.run(
                order_entry.raw_psycopg_ceiling(
                    config, seed, concurrency=concurrency, duration=sizes["ceiling_seconds"], pipeline=pipeline
                )
            )
    runs = list(raw.values())
    pgbench_args = {
        "clients": sizes["pgbench_clients"],
        "duration": sizes["pgbench_seconds"],
        "scale": sizes["pgbench_scale"],
    }
    return {
        "raw_psycopg_runs": runs,
        "raw_psycopg": max((r for r in runs if not r["pipeline"]), key=lambda r: r["orders_per_s"]),
        "raw_psycopg_pipeline": max((r for r in runs if r["pipeline"]), key=lambda r: r["orders_per_s"]),
        "pgbench": order_entry.pgbench(config, **pgbench_args, prepared=False),
        "pgbench_prepared": order_entry.pgbench(config, **pgbench_args, prepared=True),
    }


def statement_counting(config: Config) -> bool:
    """Round trips per order come from pg_stat_statements when the server preloads it (the machine's
    PostgreSQL may not: then transactions per order are reported alone)."""
    import psycopg

    with psycopg.connect(config.libpq_url, autocommit=True) as conn:
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if "pg_stat_statements" not in preload:
            return False
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return True


def alerts_step(config: Config, sizes: dict, work: Path) -> dict:
    log("price alerts")
    alerts_path = str(work / "alerts.json")
    python_module(config, "bench.alerts", alerts_path, BENCH_ALERTS=json.dumps(sizes["alerts"]))
    task_queue_length(config, purge=True)  # the alert emails it queued
    return json.loads(Path(alerts_path).read_text())


def run_alerts_only(config: Config, sizes: dict, work: Path) -> dict:
    """`--only alerts`: the price-alert step alone on a freshly migrated database (no seed, no stack)."""
    data: dict = {"machine": {"before": machine_load(), "cpus": machine_load()["cpus"]}, "sizes": sizes}
    started = time.monotonic()
    log(f"database {config.database}: create, migrate")
    database_recreate(config)
    redis_flush(config)
    manage(config, "migrate", "--noinput")
    data["alerts"] = alerts_step(config, sizes, work)
    data["machine"]["after"] = machine_load()
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    return data


def seeded(config: Config, sizes: dict, seed_path: str, *, reuse_seed: bool) -> dict:
    if reuse_seed and Path(seed_path).exists():
        log(f"database {config.database}: reusing the seeded database (--reuse-seed)")
        python_module(config, "bench.seed", seed_path, "--refresh-tokens")
    else:
        log(f"database {config.database}: create, migrate, seed")
        database_recreate(config)
        redis_flush(config)
        manage(config, "migrate", "--noinput")
        python_module(
            config, "bench.seed", seed_path, CELERY_TASK_ALWAYS_EAGER="true", BENCH_SEED=json.dumps(sizes["seed"])
        )
    return json.loads(Path(seed_path).read_text())


def fanout_step(config: Config, seed: dict, stack: Stack, sizes: dict) -> list[dict]:
    """SpeedTrade's web server, then the bare ceiling server, at each tick rate (the feed of the stack stopped)."""
    return [
        fanout.measure(
            config,
            seed,
            stack,
            target=target,
            rate=rate,
            seconds=sizes["fanout_seconds"],
            clients=sizes["fanout_clients"],
            processes=sizes["fanout_client_processes"],
        )
        for rate in sizes["fanout_rates"]
        for target in ("speedtrade", "ceiling")
    ]


def run_fanout_only(config: Config, sizes: dict, work: Path, *, reuse_seed: bool) -> dict:
    """`--only fanout`: the quote fan-out step alone against the web server (no worker, no stack feed)."""
    data: dict = {"machine": {"before": machine_load(), "cpus": machine_load()["cpus"]}, "sizes": sizes}
    started = time.monotonic()
    seed = seeded(config, sizes, str(work / "seed.json"), reuse_seed=reuse_seed)
    stack = Stack(config, work)
    try:
        log("starting web (uvicorn)")
        stack.start_web("uvicorn")
        data["server"], data["web_workers"] = "uvicorn", config.workers
        data["fanout"] = fanout_step(config, seed, stack, sizes)
        data["memory_mb_after_fanout"] = {name: process.rss_mb() for name, process in stack.processes.items()}
    finally:
        stack.stop_all()
    data["machine"]["after"] = machine_load()
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    return data


def order_fill_steps(config: Config, seed: dict, stack: Stack, sizes: dict) -> list[dict]:
    return [
        asyncio.run(
            order_fill.order_to_fill(
                config, seed, stack, rate=rate, duration=sizes["step_seconds"], drain_seconds=sizes["drain_seconds"]
            )
        )
        for rate in sizes["fill_rates"]
    ]


def start_stack(config: Config, work: Path) -> Stack:
    task_queue_length(config, purge=True)  # a reused database may have left submissions queued
    stack = Stack(config, work)
    log("starting web (uvicorn), celery worker, feed, order engine")
    stack.start_web("uvicorn")
    stack.start_feed()
    stack.start_engine(ENGINE_STAGES_LOG_LEVEL="DEBUG")  # the order → fill step reads the engine's batch stages
    stack.start_worker()
    return stack


def run_order_fill_only(config: Config, sizes: dict, work: Path, *, reuse_seed: bool) -> dict:
    """`--only order-fill`: the market order → fill steps alone, first after the stack starts (as in a run)."""
    data: dict = {"machine": {"before": machine_load(), "cpus": machine_load()["cpus"]}, "sizes": sizes}
    started = time.monotonic()
    seed = seeded(config, sizes, str(work / "seed.json"), reuse_seed=reuse_seed)
    stack = start_stack(config, work)
    try:
        data["order_to_fill"] = order_fill_steps(config, seed, stack, sizes)
    finally:
        stack.stop_all()
    data["machine"]["after"] = machine_load()
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    return data


def seed_refreshed(config: Config, seed_path: str) -> dict:
    """The seed with new access tokens: they live 30 minutes; a full run is longer than that."""
    python_module(config, "bench.seed", seed_path, "--refresh-tokens")
    return json.loads(Path(seed_path).read_text())


def account_and_entry_steps(config: Config, seed_path: str, stack: Stack, sizes: dict) -> dict:
    step, drain = sizes["step_seconds"], sizes["drain_seconds"]
    seed = seed_refreshed(config, seed_path)
    account_reads = asyncio.run(
        reads.account_open_loop(config, seed, stack, rates=sizes["account_rates"], duration=step, drain_seconds=drain)
    )
    seed = seed_refreshed(config, seed_path)
    entry = asyncio.run(
        order_entry.http_runs(
            config,
            seed,
            stack,
            rates=sizes["rates"],
            duration=step,
            concurrency=sizes["concurrency"],
            drain_seconds=drain,
        )
    )
    return {"account_reads": account_reads, "order_entry": entry}


def run_order_entry_only(config: Config, sizes: dict, work: Path, *, reuse_seed: bool) -> dict:
    """`--only order-entry`: the ceilings (raw SQL, pgbench, bare ASGI), then GET /api/v1/account and order entry
    against the whole stack."""
    data: dict = {"machine": {"before": machine_load(), "cpus": machine_load()["cpus"]}, "sizes": sizes}
    started = time.monotonic()
    seed_path = str(work / "seed.json")
    seeded(config, sizes, seed_path, reuse_seed=reuse_seed)
    data |= ceilings(config, seed_path, sizes, work)
    stack = start_stack(config, work)
    try:
        data["server"], data["web_workers"] = "uvicorn", config.workers
        data |= account_and_entry_steps(config, seed_path, stack, sizes)
    finally:
        stack.stop_all()
    data["machine"]["after"] = machine_load()
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    return data


def run(config: Config, sizes: dict, work: Path, *, reuse_seed: bool = False) -> dict:
    data: dict = {"machine": {"before": machine_load(), "cpus": machine_load()["cpus"]}, "sizes": sizes}
    started = time.monotonic()
    seed_path = str(work / "seed.json")
    seed = seeded(config, sizes, seed_path, reuse_seed=reuse_seed)
    data["order_sql_statements"] = seed["order_sql_statements"]
    data["statements_counted"] = statement_counting(config)

    log("paper venue matching")
    matching_path = str(work / "matching.json")
    python_module(
        config,
        "bench.matching",
        matching_path,
        CELERY_TASK_ALWAYS_EAGER="true",
        BENCH_MATCHING=json.dumps(sizes["matching"]),
    )
    data["matching"] = json.loads(Path(matching_path).read_text())
    data |= ceilings(config, seed_path, sizes, work)
    data["alerts"] = alerts_step(config, sizes, work)

    stack = start_stack(config, work)
    try:
        data["server"], data["web_workers"] = "uvicorn", config.workers
        data["order_to_fill"] = order_fill_steps(config, seed, stack, sizes)
        data["reads"] = asyncio.run(reads.reads(config, seed, repeats=sizes["reads_repeats"]))
        data |= account_and_entry_steps(config, seed_path, stack, sizes)
        data["memory_mb"] = {name: process.rss_mb() for name, process in stack.processes.items()}
        stack.stop("worker")
        stack.stop("engine")
        stack.stop("feed")  # from here the fan-out feed is the only publisher
        seed = seed_refreshed(config, seed_path)
        data["fanout"] = fanout_step(config, seed, stack, sizes)
        data["memory_mb_after_fanout"] = {name: process.rss_mb() for name, process in stack.processes.items()}
        stack.stop_all()
        data["servers"] = servers.compare(config, seed, stack, seconds=sizes["server_seconds"])
    finally:
        stack.stop_all()
        # A step that fails late must not lose the ones measured before it.
        PARTIAL_RESULTS.write_text(json.dumps(data, default=str))
    data["machine"]["after"] = machine_load()
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    return data


def _costs(run: dict) -> str:
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in run["cpu_ms_per_unit"].items())
    statements = run.get("statements_per_unit")
    trips = f"; {statements} statements" if statements is not None else ""
    return f"CPU ms: {cpu}; {run['transactions_per_unit']} transactions{trips}"


def alert_rows(alerts: dict) -> list[dict]:
    p99 = alerts["tick_to_notification_ms"]["p99"]
    return [
        {
            "name": f"price alerts: tick evaluations/s ({alerts['alerts']:,} alerts, 100 symbols)",
            "target": "≥ 50,000/s",
            "result": alerts["crossed_ticks_per_s"],
            "met": alerts["crossed_ticks_per_s"] >= 50_000,
        },
        {
            "name": "price alerts: on_ticks incl. DB sync ticks/s",
            "target": "(reported)",
            "result": alerts["on_ticks_per_s_batches_of_100"],
            "met": None,
        },
        {
            "name": "price alerts: crossing tick → user's socket group p99 ms",
            "target": "≤ 100 ms",
            "result": p99,
            "met": p99 <= 100,
        },
    ]


def fanout_rows(data: dict) -> list[dict]:
    rows = []
    ceilings = {run["ticks_per_s_offered"]: run for run in data.get("fanout", []) if run["target"] == "ceiling"}
    for run in data.get("fanout", []):
        if run["target"] != "speedtrade":
            continue
        rate, ceiling = run["ticks_per_s_offered"], ceilings.get(run["ticks_per_s_offered"], {})
        rows.append(
            {
                "name": f"fan-out {rate} ticks/s: fresh updates/s (demanded {run['updates_demanded_per_s']:,.0f})",
                "target": "all delivered" if rate <= 200 else "≥ ceiling",
                "result": run["fresh_updates_per_s"],
                "ceiling": ceiling.get("fresh_updates_per_s"),
                "met": run["fresh_updates_per_s"]
                >= (0.99 * run["updates_demanded_per_s"] if rate <= 200 else ceiling.get("fresh_updates_per_s", 0)),
            }
        )
        rows.append(
            {
                "name": f"fan-out {rate} ticks/s: age p99 ms",
                "target": "≤ 100 ms",
                "result": run["age_ms"]["p99"],
                "ceiling": ceiling.get("age_ms", {}).get("p99"),
                "met": run["age_ms"]["p99"] is not None and run["age_ms"]["p99"] <= 100,
            }
        )
    return rows


def order_fill_rows(fills: list[dict]) -> list[dict]:
    rows = []
    for fill in fills:
        rate = fill["rate_per_s"]
        rows.append(
            {
                "name": f"market order → fill event at {rate}/s: p50 ms",
                "target": "≤ 20 ms",
                "result": fill["post_to_fill_event_ms"]["p50"],
                "met": (fill["post_to_fill_event_ms"]["p50"] or 1e9) <= 20,
            }
        )
        rows.append(
            {
                "name": f"market order → fill event at {rate}/s: p99 ms",
                "target": "≤ 100 ms",
                "result": fill["post_to_fill_event_ms"]["p99"],
                "met": (fill["post_to_fill_event_ms"]["p99"] or 1e9) <= 100,
            }
        )
        rows.append(
            {
                "name": f"market order → fill at {rate}/s: entry answers",
                "target": "(reported)",
                "result": ", ".join(f"{status}: {n}" for status, n in fill["entry"]["statuses"].items()),
                "met": None,
            }
        )
        rows.append(
            {
                "name": f"market order → fill at {rate}/s: orders accepted without a fill within 10 s",
                "target": "0",
                "result": fill["missing_fills"],
                "met": fill["missing_fills"] == 0 and fill["entry"]["accepted"] > 0,
            }
        )
        if "stages_ms" in fill:
            rows.append(
                {
                    "name": f"market order → fill at {rate}/s: stages p50 / p99 ms",
                    "target": "(reported)",
                    "result": ", ".join(
                        f"{stage} {values['p50']} / {values['p99']}" for stage, values in fill["stages_ms"].items()
                    ),
                    "met": None,
                }
            )
        rows.append(
            {
                "name": f"market order → fill at {rate}/s: cost per order",
                "target": "(reported)",
                "result": _costs(fill),
                "met": None,
            }
        )
    return rows


def _sustained(runs: list[dict]) -> float:
    return max((run["accepted_per_s"] for run in runs if run["sustained"]), default=0)


def bare_rows(bare: dict) -> list[dict]:
    """The bare ASGI ceiling: what the same server, load generator and SQL sustain with nothing of ours between."""
    label = f"ceiling (idle): bare ASGI, uvicorn {bare['workers']} workers"
    rows = [
        {
            "name": f"{label}: order entry sustained orders/s (same rule)",
            "target": "(ceiling)",
            "result": _sustained(bare["open_loop"]),
            "met": None,
        },
        {
            "name": f"{label}: order entry closed-loop orders/s",
            "target": "(ceiling)",
            "result": bare["closed_loop"]["accepted_per_s"],
            "met": None,
        },
    ]
    for run in bare["open_loop"]:
        latency = run["latency_ms"]
        rows.append(
            {
                "name": f"{label}: order entry at {run['offered_per_s']}/s p50 / p99 ms; answers",
                "target": "(ceiling)",
                "result": f"{latency['p50']} / {latency['p99']}; {report.answers(run)}",
                "met": None,
            }
        )
    rows.append(
        {
            "name": f"{label}: GET /api/v1/account sustained req/s (same rule)",
            "target": "(ceiling)",
            "result": _sustained(bare["account"]),
            "met": None,
        }
    )
    return rows


def order_entry_rows(data: dict) -> list[dict]:
    """Order entry, its ceilings and GET /api/v1/account (`--only order-entry` and the whole run)."""
    entry = data["order_entry"]
    by_rate = {run["offered_per_s"]: run for run in entry["open_loop"]}
    closed = entry["closed_loop"]["accepted_per_s"]
    raw = data["raw_psycopg"]["orders_per_s"]
    rows = []
    sustained = _sustained(entry["open_loop"])
    rows.append(
        {
            "name": "order entry: sustained orders/s (open loop; p99 ≤ 25 ms, ≥ 99.5 % accepted, no backlog)",
            "target": "≥ 1,000/s and ≥ 0.5 × raw SQL",
            "result": sustained,
            "ceiling": raw,
            "met": sustained >= 1000 and sustained >= 0.5 * raw,
        }
    )
    rows.append(
        {
            "name": "order entry: closed-loop max orders/s",
            "target": "(reported)",
            "result": closed,
            "ceiling": raw,
            "met": None,
        }
    )
    if 250 in by_rate:
        lat = by_rate[250]["latency_ms"]
        rows.append(
            {
                "name": "order entry at 250/s: p50 ms",
                "target": "≤ 5 ms",
                "result": lat["p50"],
                "met": lat["p50"] is not None and lat["p50"] <= 5,
            }
        )
        rows.append(
            {
                "name": "order entry at 250/s: p99 ms",
                "target": "≤ 25 ms",
                "result": lat["p99"],
                "met": lat["p99"] is not None and lat["p99"] <= 25,
            }
        )
    for run in entry["open_loop"]:
        rows.append(
            {
                "name": f"order entry at {run['offered_per_s']}/s: answers",
                "target": "(reported)",
                "result": report.answers(run),
                "met": None,
            }
        )
        rows.append(
            {
                "name": f"order entry at {run['offered_per_s']}/s: cost per accepted order",
                "target": "(reported)",
                "result": _costs(run),
                "met": None,
            }
        )
    best = data["raw_psycopg"]
    rows.append(
        {
            "name": f"ceiling (idle): raw psycopg orders/s, {best['statements_per_order']} round trips, "
            f"{best['concurrency']} connections",
            "target": "(ceiling)",
            "result": raw,
            "met": None,
        }
    )
    rows.append(
        {
            "name": "ceiling (idle): raw psycopg pipeline orders/s",
            "target": "(ceiling)",
            "result": data["raw_psycopg_pipeline"]["orders_per_s"],
            "met": None,
        }
    )
    rows += bare_rows(data["bare_asgi"]) if "bare_asgi" in data else []
    for key, label in (("pgbench", "pgbench tpcb-like tps"), ("pgbench_prepared", "pgbench tpcb-like -M prepared tps")):
        bench = data[key]
        rows.append(
            {
                "name": f"ceiling (idle): {label} (scale {bench['scale']}, {bench['clients']} clients)",
                "target": "(ceiling)",
                "result": bench["tps"],
                "met": None,
            }
        )
    accounts = data["account_reads"]
    best_account = _sustained(accounts)
    rows.append(
        {
            "name": "GET /api/v1/account: sustained req/s (p99 ≤ 25 ms, ≥ 99.5 % ok)",
            "target": "≥ 1,000/s",
            "result": best_account,
            "ceiling": _sustained(data["bare_asgi"]["account"]) if "bare_asgi" in data else None,
            "met": best_account >= 1000,
        }
    )
    return rows


def summary_rows(data: dict) -> list[dict]:
    entry = data["order_entry"]
    rows = order_entry_rows(data)
    rows += order_fill_rows(data["order_to_fill"])
    steps = [*entry["open_loop"], entry["closed_loop"], *data["order_to_fill"]]
    correct = sum(1 for step in steps if step["correctness"]["ok"])
    rows.append(
        {
            "name": "correctness after every load step (verify_ledger; stored orders = 2xx answers)",
            "target": "every step",
            "result": f"{correct}/{len(steps)} steps",
            "met": correct == len(steps),
        }
    )
    match = data["matching"]
    rows.append(
        {
            "name": "paper venue: tick evaluations/s (10k resting)",
            "target": "≥ 50,000/s",
            "result": match["evaluate_ticks_per_s"],
            "met": match["evaluate_ticks_per_s"] >= 50_000,
        }
    )
    rows.append(
        {
            "name": "paper venue: on_ticks incl. DB sync ticks/s",
            "target": "(reported)",
            "result": match["on_ticks_per_s_batches_of_100"],
            "met": None,
        }
    )
    p99 = match["crossing_tick_to_fill_committed_ms"]["p99"]
    rows.append(
        {
            "name": "paper venue: crossing tick → fill committed p99 ms",
            "target": "≤ 5 ms",
            "result": p99,
            "met": p99 <= 5,
        }
    )
    rows += alert_rows(data["alerts"])
    for read in data["reads"]:
        if "server_ms" in read:
            p50 = read["server_ms"]["p50"]
            rows.append(
                {
                    "name": f"read {read['path']} server p50 ms",
                    "target": "≤ 30 ms",
                    "result": p50,
                    "met": p50 is not None and p50 <= 30,
                }
            )
        else:
            rows.append(
                {
                    "name": f"read {read['path']}",
                    "target": "≤ 30 ms",
                    "result": f"HTTP {read['status']} ({read['note']})",
                    "met": None,
                }
            )
    memory = data["memory_mb"]
    web = max(memory.get("web", {}).values(), default=None)
    rows.append(
        {
            "name": "RSS web worker MB (largest)",
            "target": "≤ 200 MB",
            "result": web,
            "met": web is not None and web <= 200,
        }
    )
    rows.append(
        {
            "name": "RSS celery worker MB (largest)",
            "target": "(reported)",
            "result": max(memory.get("worker", {}).values(), default=None),
            "met": None,
        }
    )
    feed = max(memory.get("feed", {}).values(), default=None)
    rows.append({"name": "RSS feed MB", "target": "≤ 300 MB", "result": feed, "met": feed is not None and feed <= 300})
    rows.extend(fanout_rows(data))
    for server in data.get("servers", []):
        rows.append(
            {
                "name": f"server {server['server']}: GET /api/v1/account req/s",
                "target": "(comparison)",
                "result": server.get("http_req_per_s"),
                "met": None,
            }
        )
    return rows


# `--only` steps besides alerts: what runs and the rows of its table.
ONLY = {
    "fanout": (run_fanout_only, fanout_rows),
    "order-fill": (run_order_fill_only, lambda data: order_fill_rows(data["order_to_fill"])),
    "order-entry": (run_order_entry_only, order_entry_rows),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, a few seconds each: checks the benchmarks still run"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the full steps at 10 s each, for iterating (not for results)"
    )
    parser.add_argument("--out", type=Path, default=report.RESULTS)
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="keep the seeded database between runs (while tuning; not for results)",
    )
    parser.add_argument(
        "--only",
        choices=["alerts", "fanout", "order-fill", "order-entry"],
        help="one step alone at the chosen size (results in bench/results/<step>.md, not committed)",
    )
    parser.add_argument(
        "--fanout-rates",
        type=lambda value: [int(rate) for rate in value.split(",")],
        help="the fan-out step's tick rates, comma-separated, instead of the size's (while tuning; not for results)",
    )
    args = parser.parse_args()
    config = Config(smoke=args.smoke)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.fanout_rates:
        sizes = sizes | {"fanout_rates": args.fanout_rates}
    if args.smoke:
        config.database += "_smoke"
    if args.only == "alerts":
        with tempfile.TemporaryDirectory(prefix="speedtrade-bench-") as temporary:
            data = run_alerts_only(config, sizes, Path(temporary))
        json_path, md_path = report.write(data, alert_rows(data["alerts"]), name="alerts", out_dir=args.out)
        print(report.table(alert_rows(data["alerts"])))
        print(f"\n{json_path}\n{md_path}  ({data['elapsed_s']} s)")
        return 0
    steps, step_rows = ONLY.get(args.only, (run, summary_rows))
    if args.reuse_seed:
        work = Path(tempfile.gettempdir()) / f"speedtrade-bench-{config.database}"
        work.mkdir(exist_ok=True)
        data = steps(config, sizes, work, reuse_seed=True)
    else:
        with tempfile.TemporaryDirectory(prefix="speedtrade-bench-") as temporary:
            data = steps(config, sizes, Path(temporary), reuse_seed=False)
    rows = step_rows(data)
    name = args.only or ("smoke" if args.smoke else "quick" if args.quick else "latest")
    json_path, md_path = report.write(data, rows, name=name, out_dir=args.out)
    print(report.table(rows))
    print(f"\n{json_path}\n{md_path}  ({data['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
