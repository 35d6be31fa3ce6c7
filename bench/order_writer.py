"""Issue 22's order writer in one process: `python -m bench.order_writer [N]` (Django configured by env, on a
migrated services database whose rows it keeps; not part of `make bench`).

For each way of writing a placement — the ORM path (what the embedded default runs; on PostgreSQL the steps
before the function), the function called unprepared, and prepared — it reports the statements of one
placement (`CaptureQueriesContext`; round trips = statements + the commit) and the time of N placements in a
row, each its own transaction as a request's is: wall time and this process's CPU time per placement. Run in a
checkout without `trading/order_writer.py` it measures `order_place` as it is there ("before"). Submission after
commit is left out (the orders stay `new`), so the numbers are order entry's own.
"""

import sys
import time
import uuid
from contextlib import ExitStack
from decimal import Decimal
from unittest import mock

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from accounts.demo import trader_create  # noqa: E402
from bench.seed import PASSWORD, assets_seed, cheap_password_hashing, resting_buy  # noqa: E402
from portfolios.selectors import primary_account  # noqa: E402
from trading import services  # noqa: E402

try:
    from trading import order_writer
except ImportError:  # a checkout from before issue 22
    order_writer = None  # type: ignore[assignment]

SYMBOL = "W000/USD"


def variants() -> dict:
    """Name → the patches that select it."""
    if order_writer is None:
        return {"before (order_place as it was)": []}
    return {
        "ORM path": [mock.patch.object(order_writer, "order_write", order_writer.write_with_orm)],
        "function, unprepared": [override_settings(DB_TRANSACTION_POOLER=True)],
        "function, prepared": [override_settings(DB_TRANSACTION_POOLER=False)],
    }


def place(account, tag: str) -> None:
    services.order_place(account=account, request=resting_buy(SYMBOL, client_order_id=f"{tag}-{uuid.uuid4().hex}"))


def measure(account, name: str, patches: list, count: int) -> dict:
    with ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        for _ in range(20):  # warm: asset cache, the connection, the prepared statement
            place(account, "warm")
        with CaptureQueriesContext(connection) as queries:
            place(account, "count")
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            place(account, "timed")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "variant": name,
        "statements": len(queries),
        "sql": [query["sql"][:60] for query in queries],
        "orders_per_s": round(count / wall),
        "wall_ms_per_order": round(wall * 1000 / count, 3),
        "cpu_ms_per_order": round(cpu * 1000 / count, 3),
    }


def main(count: int) -> None:
    cheap_password_hashing()
    assets_seed([SYMBOL])
    user = trader_create(
        email=f"writer-{uuid.uuid4().hex[:8]}@bench.local", password=PASSWORD, cash=Decimal(40_000), kyc="approved"
    )
    account = primary_account(user=user)
    with mock.patch("trading.queueing.order_submit_queue"):  # order entry only: no submission after commit
        results = [measure(account, name, patches, count) for name, patches in variants().items()]
    for result in results:
        print(
            f"{result['variant']:32} {result['statements']} statements  {result['orders_per_s']:6}/s  "
            f"wall {result['wall_ms_per_order']} ms  CPU {result['cpu_ms_per_order']} ms per order"
        )
        for sql in result["sql"]:
            print(f"    {sql}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
