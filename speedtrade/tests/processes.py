"""Real processes for tests that need them: app commands against the test database, and throwaway
servers of our own (a RabbitMQ node, moto's S3 server) on 127.0.0.1 and free ports — never the
machine's shared PostgreSQL, Redis or RabbitMQ processes, which other people are using."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from e2e.support import test_database_url

ROOT = Path(settings.BASE_DIR)
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the unwrapped script: runs as the current user


def free_port() -> int:
    """A port the kernel just handed out and nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until_listening(process: "ManagedProcess", port: int, timeout: float) -> None:
    started = time.monotonic()
    while not listening(port):
        assert process.process.poll() is None, f"exited early:\n{process.output()[-4000:]}"
        assert time.monotonic() - started < timeout, f"no port {port} in {timeout}s:\n{process.output()[-4000:]}"
        time.sleep(0.1)


def app_environment(**overrides: str) -> dict[str, str]:
    """Services mode against the test database and the test Redis database."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "SPEEDTRADE_ENV": "test",
        "LOG_FORMAT": "text",
        **overrides,
    }
    env.pop("DATABASE_DIRECT_URL", None)
    return env


class ManagedProcess:
    """A subprocess in its own process group, its output in a log file the test can wait on."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env if env is not None else app_environment(),
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds until `text` appeared in the output; fails if the process exits or time runs out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if text in self.output():
                return time.monotonic() - started
            assert self.process.poll() is None, f"exited early:\n{self.output()[-4000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole group (a wrapper script's children too) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env if env is not None else app_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def celery_worker(log: Path, env: dict[str, str], *, pool: str = "solo") -> ManagedProcess:
    """A worker with one execution slot: `solo` (in the worker process) or `prefork` (one child, as deployed)."""
    command = [sys.executable, "-m", "celery", "-A", "speedtrade", "worker", "-l", "INFO", "-P", pool, "-c", "1"]
    return ManagedProcess([*command, "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"], log, env)


class RabbitMQNode:
    """Our own RabbitMQ node: its own node name, ports, data and logs under `base`; no plugins.

    It registers with the machine's epmd (which outlives it harmlessly) under a unique name, and
    keeps its Erlang cookie in `base` (HOME). `kill()` is the crash; `start()` again with the same
    `base` is the restart that recovers durable queues and persistent messages from disk.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"speedtrade_test_{os.getpid()}_{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process: ManagedProcess | None = None
        base.mkdir(parents=True, exist_ok=True)
        (base / "rabbitmq-env.conf").write_text("")
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n")

    def environment(self) -> dict[str, str]:
        base = str(self.base)
        return {
            "PATH": os.environ["PATH"],
            "HOME": base,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{base}/mnesia",
            "RABBITMQ_LOG_BASE": f"{base}/log",
            "RABBITMQ_PID_FILE": f"{base}/pid",
            "RABBITMQ_CONF_ENV_FILE": f"{base}/rabbitmq-env.conf",
            "RABBITMQ_CONFIG_FILE": f"{base}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{base}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{base}/enabled_plugins",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 90) -> None:
        self.process = ManagedProcess([RABBITMQ_SERVER], self.base / "server.log", self.environment())
        wait_until_listening(self.process, self.port, timeout)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process = None


class MotoS3Server:
    """moto's server mode: an S3-compatible endpoint of our own (in-memory, gone when killed)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = ManagedProcess(command, log, env)
        wait_until_listening(self.process, self.port, timeout=60)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def kill(self) -> None:
        self.process.kill()


class RedisServer:
    """A redis-server of our own, without persistence (like the one in docker-compose)."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = ManagedProcess([*command, "--dir", str(base)], base / "redis.log", dict(os.environ))
        wait_until_listening(self.process, self.port, timeout=30)

    def kill(self) -> None:
        self.process.kill()
