"""Price alerts (issue 23; run as `python -m bench.alerts OUT.json` in a Django process, tasks queued to Redis).

10,000 alerts over 100 symbols (100 customers × 100 alerts, thresholds 3–10 % away from the
price), then a random walk of ticks within ±1 % that crosses none of them:
* tick evaluations per second of `AlertBook.crossed` (the evaluation core), and of `on_ticks`
  batches of 100 (the feed handler, with its database sync);
* tick → notification latency: a customer's alert just above the price, one crossing tick each
  time, measured from handing the tick to `on_ticks` (awaited from an event loop, as the feed
  calls it) until the `notifications` message is in the customer's channel-layer group — what
  `/ws/trades` forwards to the socket. Celery is not eager here: the email is queued to Redis as
  in production (the runner purges the queue afterwards).
"""

import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import django

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from alerts.book import alert_book, alert_book_reset, on_ticks  # noqa: E402
from alerts.models import PriceAlert  # noqa: E402
from alerts.services import alert_create  # noqa: E402
from bench.load import percentiles  # noqa: E402
from marketdata.models import Asset  # noqa: E402
from marketdata.quotes import Quote  # noqa: E402
from speedtrade.money import to_cents  # noqa: E402
from speedtrade.realtime import user_events_of, user_group  # noqa: E402

PRICE = Decimal(100)


def tick(symbol: str, mid: Decimal) -> Quote:
    cent = Decimal("0.01")
    return Quote(
        symbol=symbol,
        bid=mid - cent,
        ask=mid + cent,
        bid_size=Decimal(1),
        ask_size=Decimal(1),
        last=mid,
        timestamp=timezone.now(),
    )


def assets(symbols: list[str]) -> None:
    for symbol in symbols:
        Asset.objects.get_or_create(
            symbol=symbol,
            defaults={
                "name": f"Bench coin {symbol}",
                "asset_class": Asset.AssetClass.CRYPTO,
                "exchange": "CRYPTO",
                "price_increment": Decimal("0.01"),
                "reference_price": PRICE,
            },
        )


def far_alerts(symbols: list[str], count: int, rng: random.Random) -> None:
    """`count` alerts 3–10 % from the price, written in bulk (the set-up, not the rule under test), a minute old:
    the book's sync re-reads the last seconds of changes, which a real book of 10,000 alerts would not all be."""
    now = timezone.now() - timedelta(minutes=1)
    owners = [
        User.objects.create_user(email=f"alerts-{uuid.uuid4().hex[:8]}@bench.local", password=None)
        for _ in range(max(1, count // 100))
    ]
    rows = []
    for i in range(count):
        upwards = i % 2 == 0
        pct = Decimal(rng.randint(300, 1000)) / 100
        rows.append(
            PriceAlert(
                user=owners[i % len(owners)],
                symbol=symbols[i % len(symbols)],
                condition="price_above" if upwards else "price_below",
                value=to_cents(PRICE * (1 + pct / 100) if upwards else PRICE * (1 - pct / 100)),
                created_at=now,
                updated_at=now,
            )
        )
    PriceAlert.objects.bulk_create(rows, batch_size=2000)


def main(out_path: str) -> None:
    sizes = json.loads(os.environ.get("BENCH_ALERTS", "{}"))
    count, seconds, crossings = sizes.get("alerts", 10_000), sizes.get("seconds", 3.0), sizes.get("crossings", 200)
    symbols = [f"B{i:03d}/USD" for i in range(100)]
    rng = random.Random(23)
    assets(symbols)
    PriceAlert.objects.filter(user__email__endswith="@bench.local").delete()
    far_alerts(symbols, count, rng)
    alert_book_reset()
    book = alert_book()
    book.sync(timezone.now())
    walk = [tick(symbols[i % 100], Decimal(rng.randint(9900, 10100)) / 100) for i in range(10_000)]
    prices = [(q.symbol, q.last) for q in walk[:1000]]

    evaluated, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for symbol, price in prices:
            assert not book.crossed(symbol, price)
        evaluated += 1000
    crossed_rate = evaluated / (time.perf_counter() - started)

    loop = asyncio.new_event_loop()
    feed_on_ticks = database_sync_to_async(on_ticks)
    batches, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        loop.run_until_complete(feed_on_ticks(walk[(batches % 10) * 100 : (batches % 10) * 100 + 100]))
        batches += 1
    on_ticks_rate = batches * 100 / (time.perf_counter() - started)

    # Tick → notification in the customer's group (what /ws/trades forwards).
    symbol = symbols[-1]
    customer = User.objects.create_user(email=f"alerts-{uuid.uuid4().hex[:8]}@bench.local", password=None)
    layer = get_channel_layer()

    async def listening() -> str:
        channel = await layer.new_channel()
        await layer.group_add(user_group(customer.pk), channel)
        return channel

    channel = loop.run_until_complete(listening())
    latencies = []
    for _ in range(crossings):
        alert_create(user=customer, symbol=symbol, condition="price_above", value=Decimal("100.50"))
        loop.run_until_complete(feed_on_ticks([tick(symbol, PRICE)]))  # the book reads the new alert in
        started = time.perf_counter()

        async def cross_and_receive() -> None:
            await feed_on_ticks([tick(symbol, Decimal("100.60"))])
            while True:
                message = await asyncio.wait_for(layer.receive(channel), 5)
                for event in user_events_of(message):
                    if event.get("stream") == "notifications" and event["data"].get("event") == "created":
                        return

        loop.run_until_complete(cross_and_receive())
        latencies.append((time.perf_counter() - started) * 1000)
    result = {
        "alerts": len(book.alerts),
        "symbols": 100,
        "crossed_ticks_per_s": round(crossed_rate),
        "on_ticks_per_s_batches_of_100": round(on_ticks_rate),
        "crossings": crossings,
        "tick_to_notification_ms": {k: v if k == "count" else round(v, 3) for k, v in percentiles(latencies).items()},
    }
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1])
