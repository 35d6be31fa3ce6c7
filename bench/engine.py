"""Paper market order → fill committed, in one process (issue 22; `python -m bench.engine [N]`, Django configured by
env: services mode, tasks eager).

A light measurement beside `make bench`, to compare the order path before and after the order engine on the same
database and machine, without the web server or sockets:

* `inline`: N market orders placed one after another; each is committed and then submitted by its own after-commit
  hand-off in this process (before issue 22: the submit task's three transactions; after: the engine's batch of
  that one order). Per order: placement's commit → fill committed, and the whole placement call.
* `engine` (after issue 22 only): N orders committed by placement with the engine off, then the engine's batches
  take them all; the time the batches take, per order.

CPU seconds are this process's own (PostgreSQL's are not counted); the notifications' announcement subscriber is off
(in production it only queues a task). Run with CELERY_TASK_ALWAYS_EAGER=true DEBUG=false. Prints one JSON object.
"""

import json
import sys
import time
import uuid
from decimal import Decimal
from statistics import median, quantiles

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.demo import trader_create  # noqa: E402
from bench.seed import assets_seed, cheap_password_hashing  # noqa: E402
from portfolios.selectors import primary_account  # noqa: E402
from trading import services  # noqa: E402
from trading.models import Order  # noqa: E402
from trading.risk import OrderRequest  # noqa: E402

SYMBOL = "E000/USD"


def market_buy() -> OrderRequest:
    return OrderRequest(symbol=SYMBOL, side="buy", type="market", time_in_force="gtc", qty=Decimal("0.01"))


def summary(samples_ms: list[float]) -> dict:
    p = quantiles(samples_ms, n=100)
    return {"n": len(samples_ms), "p50_ms": round(median(samples_ms), 2), "p99_ms": round(p[98], 2)}


def inline(account, count: int) -> dict:
    to_fill: list[float] = []
    whole: list[float] = []
    cpu = time.process_time()
    for _ in range(count):
        started = time.perf_counter()
        committed: list[float] = []
        with transaction.atomic():
            transaction.on_commit(
                lambda stamps=committed: stamps.append(time.perf_counter())
            )  # before placement's hooks
            order, _ = services.order_place(account=account, request=market_buy())
        done = time.perf_counter()
        order.refresh_from_db()
        assert order.status == "filled", order.status
        to_fill.append((done - committed[0]) * 1000)
        whole.append((done - started) * 1000)
    return {
        "commit_to_fill": summary(to_fill),
        "placement_call": summary(whole),
        "cpu_ms_per_order": round((time.process_time() - cpu) * 1000 / count, 2),
    }


def engine_batches(account, count: int) -> dict:
    from trading.engine import paper_batch_run

    settings.TRADING_ENGINE_INLINE = False
    ids = [services.order_place(account=account, request=market_buy())[0].pk for _ in range(count)]
    cpu, started = time.process_time(), time.perf_counter()
    batches = 0
    while paper_batch_run():
        batches += 1
    elapsed = time.perf_counter() - started
    assert Order.objects.filter(pk__in=ids, status="filled").count() == count
    return {
        "batches": batches,
        "ms_per_order": round(elapsed * 1000 / count, 3),
        "orders_per_second": round(count / elapsed),
        "cpu_ms_per_order": round((time.process_time() - cpu) * 1000 / count, 3),
    }


def statements_per_order(count: int, run) -> float:
    """Statements sent per order while `run()` handles `count` orders (savepoints included)."""
    from django.db import connection

    sent = []

    def counted(execute, sql, params, many, context):
        sent.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        run()
    return round(len(sent) / count, 1)


def main(count: int) -> None:
    cheap_password_hashing()
    # What customers are told (notifications, emails) is queued to Celery in production; run eagerly here it would
    # be most of the time measured, and it is not the order path.
    settings.ANNOUNCEMENT_SUBSCRIBERS = []
    assets_seed([SYMBOL])
    user = trader_create(
        email=f"engine-{uuid.uuid4().hex[:8]}@bench.example",
        password="bench-password-2026",
        cash=Decimal("40000"),
        kyc="approved",
    )
    account = primary_account(user=user)
    result = {"orders": count, "inline": inline(account, count)}
    result["inline"]["statements_per_order"] = statements_per_order(20, lambda: inline(account, 20))
    try:
        from trading.engine import paper_batch_run
    except ImportError:  # before issue 22
        pass
    else:
        result["engine"] = engine_batches(account, count)
        [services.order_place(account=account, request=market_buy()) for _ in range(20)]
        result["engine"]["statements_per_order"] = statements_per_order(20, paper_batch_run)
    print(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
