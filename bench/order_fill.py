"""2. Order to fill: market order POST → `fill` on /ws/trades, open loop at each rate.

The orders go out on kept-alive connections (a client does not open a connection per order) and nothing polls
while the step runs, so the measurement adds no load of its own beyond the orders and the sockets."""

import asyncio
import contextlib
import re
import time
import uuid
from datetime import datetime
from pathlib import Path

import orjson
import psycopg
from websockets.asyncio.client import connect

from bench import load
from bench.stack import Config, Meter, Stack, correctness, log, task_queue_length

FILL_WAIT_SECONDS = 10.0  # after the last order: how long a fill may still arrive before it counts as missing
# The order engine's line per batch (trading/engine.py, logger `trading.engine.stages` at DEBUG in `run_engine`).
BATCH_LINE = re.compile(
    r"paper batch began=(?P<began>\S+) orders=(?P<orders>\d+) claimed_ms=(?P<claimed>[\d.]+)"
    r" committed_ms=(?P<committed>[\d.]+) pushed_ms=(?P<pushed>[\d.]+)"
)


async def order_to_fill(
    config: Config, seed: dict, stack: Stack, *, rate: float, duration: float, traders: int = 8, drain_seconds: float
) -> dict:
    people = seed["traders"][-traders:]
    symbols = seed["symbols"]
    loop = asyncio.get_running_loop()
    tag = f"f{int(rate)}-{uuid.uuid4().hex[:6]}"
    filled_at: dict[str, float] = {}  # client order id -> when its fill event arrived
    received_wall: dict[str, float] = {}  # the same in wall-clock seconds, to line up with the database's times
    all_filled = asyncio.Event()
    accepted: int | None = None  # known once sending ends: the orders answered 201, each of which must fill

    async def listen(ws) -> None:
        async for frame in ws:
            message = orjson.loads(frame)
            if message.get("type") == "trade_updates" and message.get("event") == "fill":
                client_order_id = message["order"]["client_order_id"]
                if client_order_id not in filled_at:
                    filled_at[client_order_id], received_wall[client_order_id] = loop.time(), time.time()
                if accepted is not None and len(filled_at) >= accepted:
                    all_filled.set()

    sockets, listeners = [], []
    for person in people:
        ws = await connect(
            f"ws://{config.host}:{config.port}/ws/trades",
            additional_headers={"Authorization": f"Bearer {person['token']}"},
        )
        await ws.recv()  # {"type": "subscribed"}
        sockets.append(ws)
        listeners.append(asyncio.create_task(listen(ws)))

    headers = [{"Authorization": f"Bearer {p['token']}", "Content-Type": "application/json"} for p in people]
    due_at: dict[str, float] = {}

    def make(i: int):
        client_order_id = f"{tag}-{i}"
        due_at[client_order_id] = start + i / rate
        body = load.json_body(
            {
                "symbol": symbols[i % len(symbols)],
                "side": "buy",
                "type": "market",
                "time_in_force": "gtc",
                "qty": "0.01",
                "client_order_id": client_order_id,
            }
        )
        return "POST", "/api/v1/orders", body, headers[i % len(headers)]

    log(f"order to fill: {rate}/s for {duration}s")
    meter = Meter(config, stack)
    start = loop.time() + 0.05
    start_wall = time.time() + (start - loop.time())
    result = await load.open_loop(config.host, config.port, make, rate=rate, duration=duration)
    summary = result.summary()
    accepted = summary["accepted"]  # orders refused at entry are reported there, not as missing fills
    if len(filled_at) < accepted:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_filled.wait(), timeout=FILL_WAIT_SECONDS)
    costs = meter.per(accepted)
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()
    to_fill = [(filled_at[cid] - due_at[cid]) * 1000 for cid in filled_at if cid in due_at]
    backlog = task_queue_length(config)
    settle_s = await load.settled(config.host, config.port, timeout=drain_seconds)
    return {
        "rate_per_s": rate,
        "orders": summary["sent"],
        "entry": summary,
        "fills": len(to_fill),
        "missing_fills": max(accepted - len(to_fill), 0),
        "post_to_fill_event_ms": load.rounded(to_fill),
        "stages_ms": stages(
            config, stack, tag, {cid: start_wall + (due - start) for cid, due in due_at.items()}, received_wall
        ),
        "submit_backlog_at_end": backlog,
        "settle_s": settle_s,
        "submit_backlog_dropped": task_queue_length(config, purge=True),
        "correctness": correctness(config, prefix=tag, accepted=accepted),
        **costs,
    }


def stages(config: Config, stack: Stack, tag: str, due_wall: dict[str, float], received: dict[str, float]) -> dict:
    """Where an order's time to its fill frame went, stage by stage (percentiles over the step's filled orders):
    due → placed (the POST until the order row's `created_at`), placed → claimed (waiting for the engine: its
    batch began at the order's `submitted_at`), the batch's claim, booking until its commit, its pushes handed to the
    channel layer, and from there to the frame at this client (channel layer, consumer, socket, this process)."""
    batches = {}
    engine = stack.processes.get("engine")
    for match in BATCH_LINE.finditer(Path(engine.log).read_text() if engine else ""):
        batches[_microseconds(datetime.fromisoformat(match["began"]).timestamp())] = {
            name: float(match[name]) / 1000 for name in ("claimed", "committed", "pushed")
        } | {"orders": int(match["orders"])}
    with psycopg.connect(config.libpq_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT client_order_id, extract(epoch FROM created_at), extract(epoch FROM submitted_at)"
            " FROM trading_order WHERE client_order_id LIKE %s AND submitted_at IS NOT NULL",
            [tag + "-%"],
        ).fetchall()
    spans: dict[str, list[float]] = {name: [] for name in ("placed", "to_claim", "claim", "book", "push", "deliver")}
    sizes: list[int] = []
    for client_order_id, created, began in rows:
        created, began = float(created), float(began)
        spans["placed"].append(created - due_wall[client_order_id])
        spans["to_claim"].append(began - created)
        batch = batches.get(_microseconds(began))
        if batch is None or client_order_id not in received:
            continue
        sizes.append(int(batch["orders"]))  # a batch counted once per order in it, like every span here
        spans["claim"].append(batch["claimed"])
        spans["book"].append(batch["committed"] - batch["claimed"])
        spans["push"].append(batch["pushed"] - batch["committed"])
        spans["deliver"].append(received[client_order_id] - (began + batch["pushed"]))
    result = {name: load.rounded([value * 1000 for value in values]) for name, values in spans.items()}
    result["orders_in_batch"] = load.rounded([float(size) for size in sizes])
    log("stages p50/p99 ms: " + ", ".join(f"{name} {r['p50']}/{r['p99']}" for name, r in result.items()))
    return result


def _microseconds(epoch_seconds: float) -> int:
    return round(epoch_seconds * 1_000_000)
