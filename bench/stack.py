"""The services-mode stack a benchmark run measures, started and stopped by the runner.

PostgreSQL and Redis are the machine's (a dedicated database and Redis db number);
the web server, the Celery worker, the feed and the order engine are started here on the bench ports, with
the same commands production uses (`manage.py serve`, `celery worker`, `manage.py run_feed`, `manage.py run_engine`).
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
CELERY = str(ROOT / ".venv" / "bin" / "celery")


@dataclass
class Config:
    pg_url: str = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    database: str = os.environ.get("BENCH_DATABASE", "speedtrade_bench")
    redis_url: str = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    host: str = "127.0.0.1"
    port: int = int(os.environ.get("BENCH_PORT", "8180"))  # bench ports 8180-8199
    workers: int = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
    smoke: bool = False

    def __post_init__(self) -> None:
        self.pg_url = self.pg_url.rstrip("/")

    @property
    def database_url(self) -> str:
        return f"{self.pg_url}/{self.database}"

    @property
    def libpq_url(self) -> str:
        return self.database_url.replace("postgres://", "postgresql://", 1)

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            # Tasks through Redis, where the runner counts and drops the submission backlog between steps.
            CELERY_BROKER_URL=self.redis_url,
            SPEEDTRADE_ENV="bench",
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            LOG_LEVEL="WARNING",
            # The bench runs a fixed population at fixed rates; throttling is not what is measured.
            API_THROTTLE_USER="1000000/min",
            # 1,000 fan-out clients share the seeded traders' tokens (about 32 sockets each).
            WS_MAX_SOCKETS_PER_USER="100",
            CHANNEL_LAYER_PREFIX=f"bench{self.port}",
            DJANGO_SETTINGS_MODULE="speedtrade.settings",
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env


def _maintenance(config: Config) -> psycopg.Connection:
    return psycopg.connect(f"{config.pg_url}/postgres".replace("postgres://", "postgresql://", 1), autocommit=True)


def database_recreate(config: Config, *, template: str | None = None) -> None:
    with _maintenance(config) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{config.database}"' + (f' TEMPLATE "{template}"' if template else ""))


def database_drop(config: Config) -> None:
    with _maintenance(config) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config.database}" WITH (FORCE)')


def manage(config: Config, *args: str, **env) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=config.env(**env), capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def python_module(config: Config, module: str, *args: str, **env) -> str:
    result = subprocess.run(
        [PYTHON, "-m", module, *args], cwd=ROOT, env=config.env(**env), capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"{module} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def database_seeded_small(config: Config, work: Path, sizes: dict) -> dict:
    """A fresh database, migrated and seeded by bench/seed.py at `sizes` (the one-worker studies: lean path,
    shedding, worker RSS): the seed's traders, tokens and symbols."""
    database_recreate(config)
    manage(config, "migrate", "--no-input")
    seed_path = work / "seed.json"
    python_module(config, "bench.seed", str(seed_path), BENCH_SEED=json.dumps(sizes))
    return json.loads(seed_path.read_text())


def redis_flush(config: Config) -> None:
    import redis

    redis.Redis.from_url(config.redis_url).flushdb()


def task_queue_length(config: Config, *, purge: bool = False) -> int:
    """Messages waiting in Celery's default queue (a Redis list); `purge` drops them."""
    import redis

    client = redis.Redis.from_url(config.redis_url)
    length = client.llen("celery")
    if purge:
        client.delete("celery")
    return length


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """The process and its children (uvicorn/celery workers)."""
        pids = [self.popen.pid]
        for pid in list(pids):
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pids.extend(int(child) for child in children)
        return pids

    def rss_mb(self) -> dict[int, float]:
        sizes = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[pid] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return sizes

    def cpu_seconds(self) -> float:
        return _process_cpu_seconds(self.pids())

    def stop(self, timeout: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class Stack:
    config: Config
    logs: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], **env) -> Process:
        log = self.logs / f"{name}.log"
        handle = log.open("w")
        popen = subprocess.Popen(
            argv, cwd=ROOT, env=self.config.env(**env), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def start_web(self, server: str = "uvicorn", workers: int | None = None, **env) -> Process:
        c = self.config
        workers = workers or c.workers
        argv = {
            "uvicorn": [
                PYTHON,
                "manage.py",
                "serve",
                "--host",
                c.host,
                "--port",
                str(c.port),
                "--workers",
                str(workers),
            ],
            "daphne": [
                str(ROOT / ".venv/bin/daphne"),
                "-b",
                c.host,
                "-p",
                str(c.port),
                "speedtrade.asgi:application",
            ],
            "granian": [
                str(ROOT / ".venv/bin/granian"),
                "--interface",
                "asgi",
                "--host",
                c.host,
                "--port",
                str(c.port),
                "--workers",
                str(workers),
                "--loop",
                "uvloop",
                "speedtrade.asgi:application",
            ],
        }[server]
        process = self.start("web", argv, **env)
        wait_for_port(c.host, c.port, process)
        return process

    def start_worker(self, timeout: float = 120) -> Process:
        process = self.start(
            "worker",
            [
                CELERY,
                "-A",
                "speedtrade",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        deadline = time.monotonic() + timeout
        while " ready." not in process.log.read_text():  # celery logs "celery@host ready." once consuming
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{process.log.read_text()[-3000:]}")
            time.sleep(0.3)
        return process

    def start_feed(self, **env) -> Process:
        return self.start("feed", [PYTHON, "manage.py", "run_feed"], **env)

    def start_engine(self, timeout: float = 60, **env) -> Process:
        """The order engine, once it leads (a step must not count its start as the first orders' wait)."""
        process = self.start("engine", [PYTHON, "manage.py", "run_engine"], **env)
        deadline = time.monotonic() + timeout
        while "Singleton order_engine: active" not in process.log.read_text():
            if process.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the order engine did not start:\n{process.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def wait_for_port(host: str, port: int, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.log.read_text()[-3000:]}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not listen on {port} within {timeout}s")


def _process_cpu_seconds(pids) -> float:
    """CPU of the processes and of their children that ended (reaped into the parent's cutime and cstime): a
    PostgreSQL backend that exits during a step takes its CPU with it unless its postmaster's share is read too
    (the 250/s step once reported PostgreSQL at -2.31 ms per order)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / tick
        except (OSError, IndexError):
            pass
    return total


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


class Meter:
    """What one step cost: CPU seconds per process kind (our processes, PostgreSQL, Redis, this load generator)
    and database work (transactions committed in the bench database; statements when pg_stat_statements is
    loaded), read before and after, to be divided by the step's successful requests.

    PostgreSQL and Redis serve the whole machine: on a shared machine their figures include others' work."""

    def __init__(self, config: Config, stack: "Stack") -> None:
        self.config, self.stack = config, stack
        self.before = self._read()

    def _database_counts(self) -> dict:
        with psycopg.connect(self.config.libpq_url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_force_next_flush()")
            commits = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()[0]
            statements = None
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone():
                try:
                    statements = conn.execute(
                        "SELECT sum(calls) FROM pg_stat_statements"
                        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ).fetchone()[0]
                except psycopg.Error:  # the extension exists but is not in shared_preload_libraries
                    statements = None
        return {"transactions": commits, "statements": statements}

    def _read(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {name: process.cpu_seconds() for name, process in self.stack.processes.items()}
        cpu |= {
            "postgres": _process_cpu_seconds(_pids_named("postgres")),
            "redis": _process_cpu_seconds(_pids_named("redis-server")),
            "load generator": usage.ru_utime + usage.ru_stime,
        }
        return {"cpu": cpu, "db": self._database_counts(), "at": time.monotonic()}

    def per(self, count: int) -> dict:
        """CPU ms and database round trips per unit of work (e.g. per accepted order) since the meter started."""
        after = self._read()
        count = max(count, 1)
        cpu_ms = {
            name: round((after["cpu"][name] - self.before["cpu"].get(name, 0.0)) * 1000 / count, 3)
            for name in after["cpu"]
        }
        db = {
            f"{name}_per_unit": (
                round((after["db"][name] - self.before["db"][name]) / count, 2)
                if after["db"][name] is not None and self.before["db"][name] is not None
                else None
            )
            for name in after["db"]
        }
        elapsed = after["at"] - self.before["at"]
        busy = {
            name: round(100 * (after["cpu"][name] - self.before["cpu"].get(name, 0.0)) / elapsed, 1)
            for name in after["cpu"]
        }
        return {"cpu_ms_per_unit": cpu_ms, "cpu_pct_of_one_core": busy, **db}


def orders_tagged(config: Config, prefix: str) -> int:
    """Orders in the database whose client_order_id starts with `prefix` (one load step's)."""
    with psycopg.connect(config.libpq_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM trading_order WHERE client_order_id LIKE %s", [prefix.replace("%", "") + "%"]
        ).fetchone()[0]


def correctness(config: Config, *, prefix: str, accepted: int) -> dict:
    """After a step: the ledger and the reservations verify (no overspend, no negative cash), and every 2xx
    response is an order in the database and every order in the database was answered 2xx."""
    result = subprocess.run(
        [PYTHON, "manage.py", "verify_ledger"], cwd=ROOT, env=config.env(), capture_output=True, text=True
    )
    stored = orders_tagged(config, prefix)
    return {
        "verify_ledger": result.returncode == 0,
        "verify_ledger_output": (result.stdout + result.stderr).strip()[-500:],
        "orders_stored": stored,
        "orders_answered_2xx": accepted,
        "ok": result.returncode == 0 and stored == accepted,
    }


def machine_load() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen, "cpus": os.cpu_count()}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
