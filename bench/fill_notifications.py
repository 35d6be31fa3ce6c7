"""What the Celery worker pays for a fill (issue 22; `python -m bench.fill_notifications [N]`, Django configured by
env: services mode with a real broker, CELERY_TASK_ALWAYS_EAGER=false).

N market orders of ten traders are placed (the engine off: they stay `new`), then the engine's batch
(`paper_batch_run`, 20 orders a batch) fills them in this process, as `run_engine` does; a real prefork worker
(`-c 1`, as deployed) runs the tasks the fills queue (the notifications: in-app, email, push) until the queue is
empty and it has been idle a while. Per fill: the worker's CPU (the process and its child), the tasks it ran,
and the PostgreSQL sessions opened meanwhile (PostgreSQL's own counter; this process's connection is one).
Every fill must end as a notification. Prints one JSON object.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import django

django.setup()

import psycopg  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from accounts.demo import trader_create  # noqa: E402
from bench.seed import assets_seed, cheap_password_hashing  # noqa: E402
from bench.stack import ROOT, Process  # noqa: E402
from notifications.models import Notification  # noqa: E402
from portfolios.selectors import primary_account  # noqa: E402
from trading import services  # noqa: E402
from trading.engine import paper_batch_run  # noqa: E402
from trading.models import Order  # noqa: E402
from trading.risk import OrderRequest  # noqa: E402

SYMBOL = "E000/USD"
TRADERS = 10
BATCH = 20
IDLE_SECONDS = 3.0  # the worker ran no task for this long and the queue is empty: done


def sessions_opened() -> int:
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    with psycopg.connect(**params, autocommit=True) as own:
        own.execute("SELECT pg_stat_force_next_flush()")
        return own.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def worker_start(work: Path) -> tuple[Process, str]:
    """The worker, and the address of its metrics (its children's task counts, Prometheus multiprocess mode)."""
    argv = [sys.executable, "-m", "celery", "-A", "speedtrade", "worker", "-P", "prefork", "-c", "1"]
    argv += ["--without-gossip", "--without-mingle", "-l", "INFO", "-n", f"fill-cost-{uuid.uuid4().hex[:6]}@%h"]
    with socket.socket() as probe:  # a port the kernel just handed out
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (work / "metrics").mkdir()
    env = os.environ | {"METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
    log = work / "worker.log"
    popen = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    process = Process("worker", popen, log)
    while " ready." not in log.read_text():
        assert popen.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}/metrics"


def tasks_run(metrics: str) -> Counter:
    """Tasks the worker finished so far, by name."""
    done: Counter = Counter()
    page = urllib.request.urlopen(metrics, timeout=5).read().decode()  # noqa: S310 - the worker's own http endpoint
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "speedtrade_task_runtime_seconds_count":
                done[sample.labels["task"].rsplit(".", 1)[-1]] += int(sample.value)
    return done


def idle(metrics: str, queue: redis.Redis) -> None:
    idle_since, seen = time.monotonic(), tasks_run(metrics)
    while time.monotonic() - idle_since < IDLE_SECONDS or queue.llen("celery"):
        time.sleep(0.2)
        if (now := tasks_run(metrics)) != seen:
            idle_since, seen = time.monotonic(), now


def main(count: int) -> None:
    cheap_password_hashing()
    settings.TRADING_ENGINE_INLINE = False
    assets_seed([SYMBOL])
    accounts = [
        primary_account(
            user=trader_create(
                email=f"fills-{uuid.uuid4().hex[:8]}@bench.example",
                password="bench-password-2026",
                cash=Decimal("40000"),
                kyc="approved",
            )
        )
        for _ in range(TRADERS)
    ]
    request = OrderRequest(symbol=SYMBOL, side="buy", type="market", time_in_force="gtc", qty=Decimal("0.01"))
    ids = [services.order_place(account=accounts[i % TRADERS], request=request)[0].pk for i in range(count)]
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    with tempfile.TemporaryDirectory() as work:
        worker, metrics = worker_start(Path(work))
        try:
            idle(metrics, queue)  # what the traders' sign-up queued is not a fill's
            tasks, cpu, sessions = tasks_run(metrics), worker.cpu_seconds(), sessions_opened()
            while paper_batch_run(limit=BATCH):
                pass
            idle(metrics, queue)
            cpu, sessions, tasks = worker.cpu_seconds() - cpu, sessions_opened() - sessions, tasks_run(metrics) - tasks
        finally:
            worker.stop()
    filled = Order.objects.filter(pk__in=ids, status="filled").count()
    notified = Notification.objects.filter(kind="order_filled", data__order_id__in=[str(pk) for pk in ids]).count()
    print(
        json.dumps(
            {
                "fills": filled,
                "notified": notified,
                "worker_cpu_ms_per_fill": round(cpu * 1000 / filled, 2),
                "tasks_per_fill": {name: round(n / filled, 2) for name, n in sorted(tasks.items())},
                "postgres_sessions_per_fill": round(sessions / filled, 2),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
