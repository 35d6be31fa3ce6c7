"""2. Order to fill: market order POST → `fill` on /ws/trades, open loop at each rate.

The orders go out on kept-alive connections (a client does not open a connection per order) and nothing polls
while the step runs, so the measurement adds no load of its own beyond the orders and the sockets."""

import asyncio
import contextlib
import uuid

import orjson
from websockets.asyncio.client import connect

from bench import load
from bench.stack import Config, Meter, Stack, correctness, log, task_queue_length

FILL_WAIT_SECONDS = 10.0  # after the last order: how long a fill may still arrive before it counts as missing


async def order_to_fill(
    config: Config, seed: dict, stack: Stack, *, rate: float, duration: float, traders: int = 8, drain_seconds: float
) -> dict:
    people = seed["traders"][-traders:]
    symbols = seed["symbols"]
    loop = asyncio.get_running_loop()
    tag = f"f{int(rate)}-{uuid.uuid4().hex[:6]}"
    filled_at: dict[str, float] = {}  # client order id -> when its fill event arrived
    all_filled = asyncio.Event()
    accepted: int | None = None  # known once sending ends: the orders answered 201, each of which must fill

    async def listen(ws) -> None:
        async for frame in ws:
            message = orjson.loads(frame)
            if message.get("type") == "trade_updates" and message.get("event") == "fill":
                client_order_id = message["order"]["client_order_id"]
                filled_at.setdefault(client_order_id, loop.time())
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
        "submit_backlog_at_end": backlog,
        "settle_s": settle_s,
        "submit_backlog_dropped": task_queue_length(config, purge=True),
        "correctness": correctness(config, prefix=tag, accepted=accepted),
        **costs,
    }
