"""The quote fan-out's pieces measured apart from the machine's load on the whole step (`bench/fanout.py`).

`python -m bench.fanout_parts transport [--sockets 500] [--seconds 10]`: feed → hub. This process holds SOCKETS
channel-layer receives waiting (as a web worker's consumers do) and the quote hub with one subscriber on every
symbol; a child process publishes 50 batches/s of 4 quotes through `marketdata.publishing.publish_quotes`. Prints the
batches' arrival age at the hub, the publisher's CPU per batch and this process's CPU.

`python -m bench.fanout_parts window [--rate 200] [--seconds 5]`: the conflation window alone. 1,000 `QuoteFanOut`
sockets, 10 of 100 symbols each as in the fan-out step, their send replaced by a recorder; the hub's `dispatch`
called with RATE ticks/s in 20 ms batches. Prints the wait from dispatch to the socket's writer, the share of quotes
sent (the rest superseded within a window), frames/s and CPU per sent quote.

Both use only what main and a branch have in common, so an export of main runs them for the "before" (Django's
environment as for `manage.py`; `REDIS_URL` a database of your own).
"""

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

SYMBOLS = [f"S{i:03d}" for i in range(100)]
BATCH_SECONDS = 0.02


def _quote(symbol: str, now: datetime):
    from marketdata.quotes import Quote

    one = Decimal(1)
    return Quote(
        symbol=symbol, bid=one, ask=one + 1, bid_size=one, ask_size=one, last=one, last_size=one, timestamp=now
    )


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    n = len(values)
    return {
        "count": n,
        "mean_ms": round(sum(values) / n, 2),
        "p50_ms": round(values[n // 2], 2),
        "p99_ms": round(values[int(n * 0.99)], 2),
        "max_ms": round(values[-1], 2),
    }


async def publish(seconds: float) -> None:
    from marketdata.publishing import publish_quotes

    loop = asyncio.get_running_loop()
    await publish_quotes([_quote(SYMBOLS[0], datetime.now(UTC))])  # connected before the clock starts
    cpu_before, batches, next_at, stop_at = time.process_time(), 0, loop.time(), loop.time() + seconds
    while loop.time() < stop_at:
        now = datetime.now(UTC)
        await publish_quotes([_quote(SYMBOLS[(batches + 25 * j) % 100], now) for j in range(4)])
        batches += 1
        next_at += BATCH_SECONDS
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    print(json.dumps({"batches": batches, "cpu_ms_per_batch": (time.process_time() - cpu_before) * 1000 / batches}))


async def transport(sockets: int, seconds: float) -> dict:
    from channels.layers import get_channel_layer

    from marketdata.fanout import quote_hub

    layer = get_channel_layer()
    receiving = [asyncio.create_task(layer.receive(await layer.new_channel())) for _ in range(sockets)]
    ages: list[float] = []

    class Arrivals:
        def quote_received(self, tick) -> None:
            ages.append((time.time() - tick.quote.timestamp.timestamp()) * 1000)

    await quote_hub().subscribe(Arrivals(), SYMBOLS)
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fanout_parts", "publish", "--seconds", str(seconds), stdout=asyncio.subprocess.PIPE
    )
    assert publisher.stdout is not None
    cpu_before, started = time.process_time(), time.monotonic()
    published = json.loads(await publisher.stdout.read())
    cpu = time.process_time() - cpu_before
    for task in receiving:
        task.cancel()
    return {
        "publisher": published,
        "arrival_age": _percentiles(ages),
        "listener_cpu_s_per_s": round(cpu / (time.monotonic() - started), 3),
    }


async def window(rate: float, seconds: float) -> dict:
    from marketdata import fanout
    from marketdata.consumers import QuoteFanOut
    from marketdata.quotes import quote_to_dict

    loop = asyncio.get_running_loop()
    hub = fanout.quote_hub()
    waits: list[float] = []
    # id of a dispatched FannedQuote -> loop time of its dispatch, and the tick (kept alive: its id stays its own)
    dispatched_at: dict[int, tuple[float, object]] = {}
    frames = 0

    class Socket(QuoteFanOut):
        def quote_received(self, tick) -> None:
            if id(tick) not in dispatched_at:
                dispatched_at[id(tick)] = (loop.time(), tick)
            super().quote_received(tick)

        async def send_quotes(self, ticks) -> None:
            nonlocal frames
            frames += 1
            now = loop.time()
            waits.extend((now - dispatched_at[id(tick)][0]) * 1000 for tick in ticks)

    sockets = []
    for k in range(1000):
        socket = Socket()
        socket.quotes_setup()
        symbols = [SYMBOLS[(k + 10 * j) % 100] for j in range(10)]
        socket.symbols.update(symbols)
        for symbol in symbols:
            hub.subscribers[symbol].add(socket)
        sockets.append(socket)
    rng, carry, demanded = random.Random(7), 0.0, 0
    cpu_before, next_at, stop_at = time.process_time(), loop.time(), loop.time() + seconds
    while loop.time() < stop_at:
        carry += rate * BATCH_SECONDS
        count, carry = int(carry), carry - int(carry)
        now = datetime.now(UTC)
        changed = {SYMBOLS[rng.randrange(100)] for _ in range(count)}
        newest = [quote_to_dict(_quote(symbol, now)) for symbol in changed]
        demanded += len(newest) * 100  # each symbol has 100 subscribers
        hub.dispatch(newest)
        next_at += BATCH_SECONDS
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu_before
    for socket in sockets:
        await socket.quotes_teardown()
    return {
        "rate": rate,
        "sent_of_demanded": round(len(waits) / demanded, 3),
        "frames_per_s": round(frames / seconds),
        "dispatch_to_writer": _percentiles(waits),
        "cpu_us_per_sent_quote": round(cpu * 1e6 / len(waits), 1),
    }


def main() -> None:
    import os

    import django

    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["transport", "window", "publish"])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedtrade.settings")
    django.setup()
    try:
        import uvloop

        uvloop.install()  # as the server runs
    except ImportError:
        pass
    if args.part == "publish":
        asyncio.run(publish(args.seconds))
        return
    measure = transport(args.sockets, args.seconds) if args.part == "transport" else window(args.rate, args.seconds)
    print(json.dumps(asyncio.run(measure)))


if __name__ == "__main__":
    main()
