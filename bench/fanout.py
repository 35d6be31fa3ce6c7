"""3. Quote fan-out: N authenticated WebSocket clients, each subscribed to 10 of 100 symbols, the feed at fixed
tick rates; the same clients against a bare `websockets` server that sends one frame per tick per subscriber.

Three roles, each its own process (`python -m bench.fanout ROLE ...`):
* `clients`: connect, subscribe, print "ready", wait for "go" on stdin, count for the given seconds, print JSON;
* `feed`: SpeedTrade's own FeedRunner (store quotes, publish, bars, tick handlers) over a fixed-rate feed;
* `ceiling`: the bare server with its own tick generator at the same rate.
Age = client receipt time − the quote's feed timestamp (same machine clock).
"""

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import orjson

FRESH_MS = 100.0  # a delivered update older than this is counted as delivered but not fresh
BATCH_SECONDS = 0.02
CONNECT_ATTEMPTS = 5


def subscriptions(client: int, symbols: list[str]) -> list[str]:
    """Client k takes symbols k, k+10, ... (mod 100): every symbol has the same number of subscribers."""
    return [symbols[(client + 10 * j) % len(symbols)] for j in range(10)]


# --- clients -----------------------------------------------------------------------------------------------
async def clients_main(args) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    symbols = json.loads(args.symbols)
    tokens = json.loads(args.tokens)
    sockets = []
    gate = asyncio.Semaphore(50)

    async def open_one(k: int):
        headers = {"Authorization": f"Bearer {tokens[k % len(tokens)]}"} if tokens else {}
        async with gate:
            # A server busy with a thousand handshakes on a loaded machine may drop a few: retry those, since
            # the step measures delivery to connected clients, not the connect storm.
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    ws = await connect(args.url, additional_headers=headers, max_queue=None, open_timeout=60)
                    await ws.send(orjson.dumps({"action": "subscribe", "symbols": subscriptions(k, symbols)}).decode())
                    while True:  # the subscribed reply (and, from SpeedTrade, the snapshot frame)
                        message = orjson.loads(await ws.recv())
                        if isinstance(message, dict) and message.get("type") == "subscribed":
                            return ws
                except (OSError, EOFError, InvalidHandshake, ConnectionClosed):
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))

    sockets = await asyncio.gather(*(open_one(args.first + k) for k in range(args.count)))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stats = {"frames": 0, "updates": 0, "ages": []}
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + args.seconds

    async def read(ws) -> None:
        while True:
            remaining = stop_at - loop.time()
            if remaining <= 0:
                return
            try:
                frame = await asyncio.wait_for(ws.recv(), remaining)
            except (TimeoutError, Exception):
                return
            received = time.time()
            message = orjson.loads(frame)
            stats["frames"] += 1
            for quote in message if isinstance(message, list) else [message]:
                if quote.get("type") == "quote":
                    stats["updates"] += 1
                    stats["ages"].append((received - datetime.fromisoformat(quote["timestamp"]).timestamp()) * 1000)

    await asyncio.gather(*(read(ws) for ws in sockets))
    for ws in sockets:
        await ws.close()
    ages = sorted(stats["ages"])
    print(
        json.dumps(
            {
                "frames": stats["frames"],
                "updates": stats["updates"],
                "fresh": sum(1 for age in ages if age <= FRESH_MS),
                "ages_sample": ages[:: max(1, len(ages) // 20000)],
            }
        ),
        flush=True,
    )


# --- the bench feed through SpeedTrade's runner -------------------------------------------------------------
class FixedRateFeed:
    """Random-walk quotes for the given symbols at `rate` ticks/s in 20 ms batches, stamped with the wall clock."""

    name = "bench"

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.published = 0

    async def stream(self, symbols: list[str]):
        from marketdata.quotes import Quote

        rng = random.Random(7)
        mids = dict.fromkeys(symbols, Decimal("100.00"))
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        carry = 0.0
        while True:
            carry += self.rate * BATCH_SECONDS
            count, carry = int(carry), carry - int(carry)
            batch = []
            now = datetime.now(UTC)
            for _ in range(count):
                symbol = symbols[rng.randrange(len(symbols))]
                mids[symbol] += Decimal(rng.choice((-1, 1))) / 100
                mid = mids[symbol]
                batch.append(
                    Quote(
                        symbol=symbol,
                        bid=mid - Decimal("0.01"),
                        ask=mid + Decimal("0.01"),
                        bid_size=Decimal(5),
                        ask_size=Decimal(5),
                        last=mid,
                        last_size=Decimal(1),
                        timestamp=now,
                    )
                )
            self.published += len(batch)
            if batch:
                yield batch
            next_at += BATCH_SECONDS
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def feed_main(args) -> None:
    import django

    django.setup()
    from channels.db import database_sync_to_async

    from marketdata.feeds.runner import FeedRunner, configured_tick_handlers

    symbols = json.loads(args.symbols)
    handlers = await database_sync_to_async(configured_tick_handlers)()
    feed = FixedRateFeed(args.rate)
    runner = FeedRunner(feed, symbols, tick_handlers=handlers, bar_flush_seconds=1.0)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop = asyncio.Event()
    started = time.monotonic()
    asyncio.get_running_loop().call_later(args.seconds, stop.set)
    await runner.run(stop)
    print(json.dumps({"published": feed.published, "seconds": time.monotonic() - started}), flush=True)


# --- the bare ceiling server ---------------------------------------------------------------------------------
async def ceiling_main(args) -> None:
    from websockets.asyncio.server import broadcast, serve

    symbols = json.loads(args.symbols)
    subscribers: dict[str, set] = {symbol: set() for symbol in symbols}

    async def handler(ws):
        message = orjson.loads(await ws.recv())
        for symbol in message["symbols"]:
            subscribers[symbol].add(ws)
        await ws.send(orjson.dumps({"type": "subscribed", "symbols": message["symbols"]}).decode())
        await ws.wait_closed()
        for symbol in message["symbols"]:
            subscribers[symbol].discard(ws)

    async with serve(handler, "127.0.0.1", args.port, max_queue=None):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        rng = random.Random(7)
        loop = asyncio.get_running_loop()
        next_at, stop_at, carry, published = loop.time(), loop.time() + args.seconds, 0.0, 0
        while loop.time() < stop_at:
            carry += args.rate * BATCH_SECONDS
            count, carry = int(carry), carry - int(carry)
            stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            for _ in range(count):
                symbol = symbols[rng.randrange(len(symbols))]
                mid = 100 + rng.randint(-100, 100) / 100
                broadcast(
                    subscribers[symbol],
                    orjson.dumps(
                        {
                            "type": "quote",
                            "symbol": symbol,
                            "bid": f"{mid - 0.01:.2f}",
                            "ask": f"{mid + 0.01:.2f}",
                            "bid_size": "5",
                            "ask_size": "5",
                            "last": f"{mid:.2f}",
                            "last_size": "1",
                            "timestamp": stamp,
                            "stale": False,
                        }
                    ).decode(),
                )
            published += count
            next_at += BATCH_SECONDS
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        print(json.dumps({"published": published, "seconds": args.seconds}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


# --- orchestration (in the runner process) -------------------------------------------------------------------
def _spawn(config, role: str, *args: str, **env) -> subprocess.Popen:
    from bench.stack import PYTHON, ROOT

    return subprocess.Popen(
        [PYTHON, "-m", "bench.fanout", role, *args],
        cwd=ROOT,
        env=config.env(**env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _await_line(process: subprocess.Popen, expected: str | None = None) -> str:
    line = process.stdout.readline().strip()
    if expected is not None and line != expected:
        raise RuntimeError(f"fan-out helper said {line!r}, expected {expected!r} (exit {process.poll()})")
    return line


def _go(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()


def measure(
    config, seed: dict, stack, *, target: str, rate: float, seconds: float, clients: int, processes: int
) -> dict:
    from bench import load
    from bench.stack import log

    symbols = json.dumps(seed["symbols"])
    tokens = json.dumps([t["token"] for t in seed["traders"]])
    if target == "speedtrade":
        url, server = f"ws://{config.host}:{config.port}/ws/quotes", None
        source = _spawn(config, "feed", "--rate", str(rate), "--seconds", str(seconds + 1), "--symbols", symbols)
    else:
        url = f"ws://{config.host}:{config.port + 1}/"
        server = source = _spawn(
            config,
            "ceiling",
            "--port",
            str(config.port + 1),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds + 1),
            "--symbols",
            symbols,
        )
    _await_line(source, "ready")
    per = clients // processes
    readers = [
        _spawn(
            config,
            "clients",
            "--url",
            url,
            "--count",
            str(per),
            "--first",
            str(i * per),
            "--seconds",
            str(seconds),
            "--symbols",
            symbols,
            "--tokens",
            tokens if target == "speedtrade" else "[]",
        )
        for i in range(processes)
    ]
    for reader in readers:
        _await_line(reader, "ready")
    log(f"fan-out {target}: {clients} clients connected, {rate} ticks/s for {seconds}s")
    web = stack.processes.get("web") if target == "speedtrade" else None
    cpu_before = web.cpu_seconds() if web else None
    _go(source, *readers)
    results = [json.loads(_await_line(reader)) for reader in readers]
    cpu_used = (web.cpu_seconds() - cpu_before) if web else None
    published = json.loads(_await_line(source))
    if server is not None:
        _go(server)
    for process in (source, *readers):
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    updates = sum(r["updates"] for r in results)
    ages = sorted(age for r in results for age in r["ages_sample"])
    demanded = published["published"] * clients / 10  # each symbol has clients/10 subscribers
    return {
        "target": target,
        "clients": clients,
        "ticks_per_s_offered": rate,
        "ticks_published": published["published"],
        "seconds": seconds,
        "updates_demanded_per_s": round(demanded / published["seconds"], 1),
        "updates_delivered_per_s": round(updates / seconds, 1),
        "fresh_updates_per_s": round(sum(r["fresh"] for r in results) / seconds, 1),
        "frames_per_s": round(sum(r["frames"] for r in results) / seconds, 1),
        "not_delivered_per_s (conflated or lost)": round(
            max(0.0, demanded / published["seconds"] - updates / seconds), 1
        ),
        "age_ms": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in load.percentiles(ages).items()},
        "server_cpu_s_per_s": round(cpu_used / seconds, 2) if cpu_used is not None else None,
        "server_rss_mb": web.rss_mb() if web else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["clients", "feed", "ceiling"])
    parser.add_argument("--url")
    parser.add_argument("--count", type=int)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--port", type=int)
    parser.add_argument("--symbols")
    parser.add_argument("--tokens", default="[]")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run({"clients": clients_main, "feed": feed_main, "ceiling": ceiling_main}[args.role](args))


if __name__ == "__main__":
    main()
