"""`make bench SMOKE=1` inside the suite: every benchmark runs at tiny size against its own stack and database,
so the benchmarks never rot. Structure only: no timing is asserted (the numbers depend on the machine)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# The smoke stack's Redis database and ports (BENCH_SMOKE_PORT and the next one): apart from the test run's,
# and overridable so that two checkouts' suites can run side by side on one machine.
SMOKE_REDIS_DB = os.environ.get("BENCH_SMOKE_REDIS_DB", "13")
SMOKE_PORT = os.environ.get("BENCH_SMOKE_PORT", "8190")


# It starts a whole stack (web, worker, feed) and runs every step: minutes on a busy machine, bounded by
# the subprocess's own 900 s limit rather than the suite's per-test default.
@pytest.mark.timeout(960)
def test_every_benchmark_runs_at_smoke_size_and_reports_well_formed_results(tmp_path):
    database = settings.DATABASES["default"]
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
    env = {
        **os.environ,
        "BENCH_PG_URL": f"postgres://{credentials}@{database['HOST']}:{database['PORT']}",
        "BENCH_DATABASE": f"{database['NAME']}_bench_smoke",
        "BENCH_REDIS_URL": settings.REDIS_URL.rsplit("/", 1)[0] + f"/{SMOKE_REDIS_DB}",
        "BENCH_PORT": SMOKE_PORT,
        "BENCH_WEB_WORKERS": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "SPEEDTRADE_ENV", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    markdown = (tmp_path / "smoke.md").read_text()

    entry = results["order_entry"]
    assert entry["open_loop"] and all(r["accepted"] > 0 for r in entry["open_loop"])
    assert set(entry["open_loop"][0]["latency_ms"]) == {"count", "p50", "p95", "p99", "max"}
    assert entry["closed_loop"]["accepted"] > 0
    # Every load step is checked for correctness: the ledger verifies and each 2xx answer is a stored order.
    steps = [*entry["open_loop"], entry["closed_loop"], *results["order_to_fill"]]
    assert all(step["correctness"]["ok"] for step in steps), [step["correctness"] for step in steps]
    assert all(step["cpu_ms_per_unit"]["web"] > 0 and step["transactions_per_unit"] > 0 for step in steps)
    # The ceilings were measured on an idle stack, for each concurrency and both ways of sending.
    assert results["raw_psycopg"]["orders_per_s"] > 0 and results["raw_psycopg"]["errors"] == 0
    assert results["raw_psycopg_pipeline"]["orders_per_s"] > 0
    assert results["pgbench"]["tps"] > 0 and results["pgbench_prepared"]["tps"] > 0
    # The bare ASGI ceiling answered every order and account read it was sent, as the stack is asked to.
    bare = results["bare_asgi"]
    assert bare["closed_loop"]["accepted"] > 0
    assert all(set(run["statuses"]) == {"201"} for run in bare["open_loop"]), bare["open_loop"]
    assert all(set(run["statuses"]) == {"200"} for run in bare["account"]), bare["account"]
    for fill in results["order_to_fill"]:
        assert fill["entry"]["statuses"] == {"201": fill["orders"]}
        assert fill["missing_fills"] == 0 and fill["fills"] == fill["orders"]
    assert all(run["accepted"] > 0 for run in results["account_reads"])
    assert results["matching"]["crossing_orders_accepted"] == results["matching"]["crossing_orders"]
    assert results["matching"]["evaluate_ticks_per_s"] > 0
    assert {read["path"] for read in results["reads"]} >= {"/api/v1/account", "/api/v1/positions"}
    assert {run["target"] for run in results["fanout"]} == {"speedtrade", "ceiling"}
    assert all(run["ticks_published"] > 0 for run in results["fanout"])
    assert {server["server"] for server in results["servers"]} == {"uvicorn", "daphne", "granian"}
    assert results["memory_mb"]["web"] and results["memory_mb"]["feed"] and results["memory_mb"]["worker"]
    for row in results["table"]:
        assert set(row) >= {"name", "target", "result", "met"}
        assert row["name"] in markdown
