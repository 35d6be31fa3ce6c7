"""2. Order to fill: market order POST → `fill` on /ws/trades → the position visible in GET /api/v1/positions."""

import asyncio
from decimal import Decimal

import orjson
from websockets.asyncio.client import connect

from bench import load
from bench.stack import Config, log


async def order_to_fill(config: Config, seed: dict, *, rate: float, duration: float, traders: int = 8) -> dict:
    people = seed["traders"][-traders:]
    symbols = seed["symbols"]
    loop = asyncio.get_running_loop()
    fills: dict[str, tuple[float, str, str]] = {}  # order id -> (received at, symbol, position qty)
    waiters: dict[str, asyncio.Future] = {}
    sockets = []

    async def listen(ws) -> None:
        async for frame in ws:
            message = orjson.loads(frame)
            if message.get("type") == "trade_updates" and message.get("event") in ("fill", "partial_fill"):
                order_id = message["order"]["id"]
                fills[order_id] = (loop.time(), message["order"]["symbol"], message["position_qty"])
                waiter = waiters.pop(order_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    listeners = []
    for person in people:
        ws = await connect(
            f"ws://{config.host}:{config.port}/ws/trades",
            additional_headers={"Authorization": f"Bearer {person['token']}"},
        )
        await ws.recv()  # {"type": "subscribed"}
        sockets.append(ws)
        listeners.append(asyncio.create_task(listen(ws)))

    to_fill: list[float] = []
    to_position: list[float] = []
    statuses: dict = {}
    missing = 0

    async def one(i: int, due: float) -> None:
        nonlocal missing
        person = people[i % len(people)]
        headers = {"Authorization": f"Bearer {person['token']}", "Content-Type": "application/json"}
        symbol = symbols[i % len(symbols)]
        body = load.json_body(
            {"symbol": symbol, "side": "buy", "type": "market", "time_in_force": "gtc", "qty": "0.01"}
        )
        conn = load.HttpConnection(config.host, config.port)
        try:
            status, _, payload = await conn.request("POST", "/api/v1/orders", body, headers)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 201:
                return
            order_id = orjson.loads(payload)["id"]
            if order_id not in fills:
                waiters[order_id] = loop.create_future()
                try:
                    await asyncio.wait_for(waiters[order_id], timeout=10)
                except TimeoutError:
                    missing += 1
                    return
            received, _, position_qty = fills[order_id]
            to_fill.append((received - due) * 1000)
            path = "/api/v1/positions/" + symbol.replace("/", "%2F")
            while True:
                status, _, payload = await conn.request("GET", path, headers=headers)
                if status == 200 and Decimal(orjson.loads(payload)["qty"]) >= Decimal(position_qty):
                    break
                await asyncio.sleep(0.001)
            to_position.append((loop.time() - due) * 1000)
        finally:
            conn.close()

    log(f"order to fill: {rate}/s for {duration}s")
    tasks = []
    start = loop.time() + 0.05
    for i in range(int(rate * duration)):
        due = start + i / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for task in listeners:
        task.cancel()
    for ws in sockets:
        await ws.close()

    def rounded(values):
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in load.percentiles(values).items()}

    return {
        "rate_per_s": rate,
        "orders": len(tasks),
        "statuses": {str(k): v for k, v in statuses.items()},
        "no_fill_within_10s": missing,
        "post_to_fill_event_ms": rounded(to_fill),
        "post_to_position_visible_ms": rounded(to_position),
    }
