"""4. Paper venue matching (run as `python -m bench.matching OUT.json` in a Django process, eager tasks).

A book of 10,000 resting limit/stop/trailing orders over 100 symbols, none of which the
measured ticks cross: tick evaluations per second of `PaperBook.evaluate` (the matching
core) and of `on_ticks` batches (the feed handler, including its database sync). Then real
resting orders (placed and accepted through the services) and one crossing tick each:
time from handing the tick to `on_ticks` until the fill is committed (and announced).
`on_ticks` is called as the feed calls a sync tick handler: from its event loop, through
`database_sync_to_async` — so the fill's after-commit publishes reuse that loop's Redis
connections, as in production, instead of opening an event loop and a connection each.
Then ticks that each cross `group` resting orders of four accounts (one tick batch, its fills booked
together): time until they are committed. Both report the SQL statements `on_ticks` ran per fill.
"""

import asyncio
import json
import os
import random
import sys
import time
import uuid
from decimal import Decimal

import django

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.demo import trader_create  # noqa: E402
from marketdata.quotes import Quote, store_quotes  # noqa: E402
from portfolios.selectors import primary_account  # noqa: E402
from speedtrade.celery import app as celery_app  # noqa: E402
from trading import services  # noqa: E402
from trading.brokers.paper import paper_book, paper_book_reset  # noqa: E402
from trading.matching import Resting  # noqa: E402
from trading.models import Execution, Order  # noqa: E402
from trading.paper_fills import on_ticks  # noqa: E402
from trading.risk import OrderRequest  # noqa: E402

CENT = Decimal("0.01")


def synthetic_book(book, symbols: list[str], count: int, rng: random.Random) -> None:
    """Resting orders that a tick within ±1% of 100 never crosses or triggers."""
    kinds = ["buy_limit", "sell_limit", "buy_stop", "sell_stop", "trailing"]
    now = timezone.now()
    for i in range(count):
        kind = kinds[i % len(kinds)]
        below = Decimal(rng.randint(9000, 9700)) / 100
        above = Decimal(rng.randint(10300, 11000)) / 100
        side = "sell" if kind in ("sell_limit", "sell_stop") or (kind == "trailing" and i % 2) else "buy"
        book.add(
            Resting(
                id=uuid.uuid4(),
                symbol=symbols[i % len(symbols)],
                asset_class="crypto",
                side=side,
                type={"buy_limit": "limit", "sell_limit": "limit", "buy_stop": "stop", "sell_stop": "stop"}.get(
                    kind, "trailing_stop"
                ),
                time_in_force="gtc",
                qty=Decimal(1),
                notional=None,
                filled_qty=Decimal(0),
                filled_notional=Decimal(0),
                reserved_qty=Decimal(1) if side == "sell" else Decimal(0),
                increment=Decimal("0.0001"),
                limit_price=below if kind == "buy_limit" else above if kind == "sell_limit" else None,
                stop_price=above if kind == "buy_stop" else below if kind == "sell_stop" else None,
                trail_price=None,
                trail_percent=Decimal(5) if kind == "trailing" else None,
                hwm=None,
                extended_hours=False,
                updated_at=now,
            )
        )


def tick(symbol: str, mid: Decimal, size: Decimal = Decimal(10)) -> Quote:
    return Quote(
        symbol=symbol, bid=mid - CENT, ask=mid + CENT, bid_size=size, ask_size=size, last=mid, timestamp=timezone.now()
    )


def as_the_feed_calls(handler):
    """Call a sync tick handler as marketdata.feeds.runner.FeedRunner does: awaited from the feed's event loop."""
    loop, wrapped = asyncio.new_event_loop(), database_sync_to_async(handler)
    return lambda batch: loop.run_until_complete(wrapped(batch))


class StatementsCounted:
    """`on_ticks`, counting the SQL statements it runs (on the thread's connection, where the feed runs it)."""

    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, quotes: list[Quote]) -> None:
        def counted(execute, sql, params, many, context):
            self.statements += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            on_ticks(quotes)


def percentiles(latencies: list[float]) -> dict:
    latencies = sorted(latencies)
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": round(latencies[-1], 3)}


def resting_buys(accounts: list, symbol: str, count: int) -> list[Order]:
    """`count` resting buys of one cent's worth at 99.00, the accounts taking turns."""
    request = OrderRequest(
        symbol=symbol, side="buy", type="limit", time_in_force="gtc", qty=CENT, limit_price=Decimal("99.00")
    )
    return [services.order_place(account=accounts[i % len(accounts)], request=request)[0] for i in range(count)]


def crossings_timed(feed_on_ticks, symbol: str, rounds: int, per_tick: int) -> list[float]:
    """Ticks that each cross exactly `per_tick` resting orders: ms from handing each to `on_ticks` to its fills
    committed."""
    latencies = []
    for _ in range(rounds):
        crossing = tick(symbol, Decimal("98.98"), size=CENT * per_tick)  # ask 98.99 ≤ 99.00
        before = Execution.objects.count()
        started = time.perf_counter()
        feed_on_ticks([crossing])
        latencies.append((time.perf_counter() - started) * 1000)
        assert Execution.objects.count() == before + per_tick, "each crossing tick commits exactly its fills"
    return latencies


def main(out_path: str) -> None:
    sizes = json.loads(os.environ.get("BENCH_MATCHING", "{}"))
    resting, seconds, crossings = sizes.get("resting", 10_000), sizes.get("seconds", 3.0), sizes.get("crossings", 200)
    symbols = [f"B{i:03d}/USD" for i in range(100)]
    rng = random.Random(10)
    paper_book_reset()
    book = paper_book()
    book.sync(timezone.now())
    synthetic_book(book, symbols, resting, rng)
    walk = [tick(symbols[i % 100], Decimal(rng.randint(9900, 10100)) / 100) for i in range(10_000)]

    evaluated, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for quote in walk[:1000]:
            assert not book.evaluate(quote, quote.timestamp)
        evaluated += 1000
    evaluate_rate = evaluated / (time.perf_counter() - started)

    feed_on_ticks = as_the_feed_calls(on_ticks)
    batches, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        feed_on_ticks(walk[(batches % 10) * 100 : (batches % 10) * 100 + 100])
        batches += 1
    on_ticks_rate = batches * 100 / (time.perf_counter() - started)

    # Real orders: resting buys at 99.00 on the last symbol, each crossed by its own tick.
    symbol = symbols[-1]
    store_quotes([tick(symbol, Decimal(100))])
    accounts = [
        primary_account(
            user=trader_create(
                email=f"matching-{uuid.uuid4().hex[:6]}@bench.local",
                password="bench-password-2026",
                cash=Decimal("40000"),
                kyc="approved",
            )
        )
        for _ in range(4)
    ]
    placed = resting_buys(accounts[:1], symbol, crossings)
    accepted = Order.objects.filter(pk__in=[o.pk for o in placed], status="accepted").count()
    counted = StatementsCounted()
    feed_on_ticks = as_the_feed_calls(counted)
    feed_on_ticks([tick(symbol, Decimal(100))])  # the book syncs the new orders in
    # The feed queues its tasks (a fill's notification) on the broker; eager here, the tick would wait for the
    # whole notification and its deliveries (half the time measured before), which production never does.
    celery_app.conf.task_always_eager = False
    counted.statements = 0
    latencies = crossings_timed(feed_on_ticks, symbol, crossings, 1)
    statements_single = counted.statements / crossings
    # Ticks crossing `group` resting orders of four accounts each (as many fills in all as above).
    group = sizes.get("group", 10)
    rounds = max(crossings // group, 1)
    celery_app.conf.task_always_eager = True
    resting_buys(accounts, symbol, rounds * group)
    feed_on_ticks([tick(symbol, Decimal(100))])
    celery_app.conf.task_always_eager = False
    counted.statements = 0
    group_latencies = crossings_timed(feed_on_ticks, symbol, rounds, group)
    statements_group = counted.statements / (rounds * group)
    celery_app.conf.task_always_eager = True
    result = {
        "resting_orders": len(book.orders),
        "symbols": 100,
        "evaluate_ticks_per_s": round(evaluate_rate),
        "on_ticks_per_s_batches_of_100": round(on_ticks_rate),
        "crossing_orders": crossings,
        "crossing_orders_accepted": accepted,
        "crossing_tick_to_fill_committed_ms": percentiles(latencies),
        "crossing_statements_per_fill": round(statements_single, 2),
        "crossing_group_orders": group,
        "crossing_group_tick_to_fills_committed_ms": percentiles(group_latencies),
        "crossing_group_statements_per_fill": round(statements_group, 2),
    }
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1])
