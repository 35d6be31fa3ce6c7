"""Load generation: a small keep-alive HTTP/1.1 client on asyncio streams, open- and closed-loop drivers.

Open loop: request i is due at start + i / rate whatever happened before, and its latency
is measured from that intended send time, so a server that stalls cannot hide the queue it
builds (no coordinated omission). Closed loop: N clients send back to back; that is the maximum.
"""

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        reused = self.writer is not None and not self.writer.is_closing()
        if not reused:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            # A kept-alive connection the server closed while idle: nothing was processed, send again.
            if not reused or getattr(exc, "partial", b""):
                raise
            self.writer.close()
            self.writer = None
            return await self.request(method, path, body, headers)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                response_headers[name.strip().lower()] = value.strip()
        if "content-length" in response_headers:
            payload = await self.reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding") == "chunked":
            payload = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                payload += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                payload = payload[:-2]
        else:
            payload = b""
        if response_headers.get("connection") == "close":
            self.writer.close()
        return status, response_headers, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"count": len(ordered), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": ordered[-1]}


def rounded(values: list[float]) -> dict:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in percentiles(values).items()}


SHED_STATUS = 503  # refused before any work: "at capacity, retry" (speedtrade/admission.py, the pool's timeout)


@dataclass
class RunResult:
    """One load step. Latency percentiles are of successful requests only; errors, refusals and requests the
    server had not answered when the step ended are counted apart (a 503 answered in 1 ms is not a fast order).

    Three kinds of answer: accepted (`ok_statuses`: the work was done), shed (503: the server refused before doing
    any of it — admission at the edge or no database connection in time — so "stored orders = accepted" holds
    and the client may retry), and errors (any other status, a dropped connection, no answer by the end)."""

    mode: str
    offered_rate: float | None
    duration_s: float
    ok_statuses: tuple = (200, 201)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    server_ms: list[float] = field(default_factory=list)
    sent: int = 0
    in_flight_when_sending_ended: int = 0

    def record(self, status, latency_ms: float, response_headers: dict) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status in self.ok_statuses:
            self.latencies_ms.append(latency_ms)
            if "x-process-time" in response_headers:
                self.server_ms.append(float(response_headers["x-process-time"].removesuffix("ms")))

    def summary(self) -> dict:
        ok = sum(count for status, count in self.statuses.items() if status in self.ok_statuses)
        shed = self.statuses.get(SHED_STATUS, 0)
        failed = sum(count for status, count in self.statuses.items() if status not in self.ok_statuses) - shed
        sent = self.sent or ok + shed + failed
        return {
            "mode": self.mode,
            "offered_per_s": self.offered_rate,
            "duration_s": round(self.duration_s, 2),
            "sent": sent,
            "accepted": ok,
            "accepted_per_s": round(ok / self.duration_s, 1) if self.duration_s else 0,
            "accepted_pct": round(100 * ok / sent, 3) if sent else None,
            "shed": shed,
            "shed_pct": round(100 * shed / sent, 3) if sent else None,
            "errors": failed,
            "errors_pct": round(100 * failed / sent, 3) if sent else None,
            "in_flight_when_sending_ended": self.in_flight_when_sending_ended,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=lambda kv: str(kv[0]))},
            "latency_ms": rounded(self.latencies_ms),
            "server_ms": rounded(self.server_ms),
        }


def sustained(summary: dict, *, p99_ms: float) -> bool:
    """A rate is sustained when p99 of successes ≤ `p99_ms`, ≥ 99.5 % of requests succeeded (shed ones did not),
    ≤ 0.1 % failed, and the server was not building a backlog: when sending stopped, no more than 25 ms of work was
    queued."""
    p99 = summary["latency_ms"]["p99"]
    offered = summary["offered_per_s"] or 0
    return (
        p99 is not None
        and p99 <= p99_ms
        and (summary["accepted_pct"] or 0) >= 99.5
        and (summary["errors_pct"] or 0) <= 0.1
        and summary["in_flight_when_sending_ended"] <= max(5, offered * 0.025)
    )


RequestFactory = Callable[[int], tuple[str, str, bytes, dict]]  # i -> (method, path, body, headers)


async def send_one(conn: HttpConnection, make: RequestFactory, i: int) -> tuple[object, dict]:
    method, path, body, headers = make(i)
    try:
        status, response_headers, _ = await conn.request(method, path, body, headers)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        conn.close()
        conn.writer = None
        return "error", {}
    return status, response_headers


async def open_loop(
    host: str,
    port: int,
    make: RequestFactory,
    *,
    rate: float,
    duration: float,
    ok_statuses: tuple = (200, 201),
    max_connections: int = 256,
    drain_seconds: float = 10.0,
) -> RunResult:
    """Send at `rate`/s for `duration` s; latency from each request's intended send time."""
    idle: list[HttpConnection] = [HttpConnection(host, port) for _ in range(16)]
    result = RunResult("open", rate, duration, ok_statuses)
    loop = asyncio.get_running_loop()
    total = int(rate * duration)
    start = loop.time() + 0.05
    in_flight: set[asyncio.Task] = set()

    async def one(i: int, due: float) -> None:
        conn = idle.pop() if idle else HttpConnection(host, port)
        status, response_headers = await send_one(conn, make, i)
        result.record(status, (loop.time() - due) * 1000, response_headers)
        if len(idle) < max_connections:
            idle.append(conn)
        else:
            conn.close()

    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    result.sent = total
    result.in_flight_when_sending_ended = len(in_flight)
    if in_flight:
        await asyncio.wait(in_flight, timeout=drain_seconds)
    unfinished = list(in_flight)
    for task in unfinished:  # still queued at the server after the drain: counted as failed, not waited for
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)
    if unfinished:
        result.statuses["unfinished"] = len(unfinished)
    result.duration_s = duration
    for conn in idle:
        conn.close()
    return result


async def closed_loop(
    host: str, port: int, make: RequestFactory, *, concurrency: int, duration: float, ok_statuses=(200, 201)
) -> RunResult:
    """`concurrency` clients, each sending its next request when the previous answer arrives."""
    result = RunResult("closed", None, duration, ok_statuses)
    counter = itertools.count()
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + duration

    async def client() -> None:
        conn = HttpConnection(host, port)
        while loop.time() < stop_at:
            sent = loop.time()
            status, response_headers = await send_one(conn, make, next(counter))
            result.record(status, (loop.time() - sent) * 1000, response_headers)
        conn.close()

    start = loop.time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.duration_s = loop.time() - start
    return result


async def settled(host: str, port: int, *, quiet_ms: float = 20.0, timeout: float = 60.0) -> float:
    """Wait until the server answers /health within `quiet_ms` three times in a row: the previous step's
    queue is worked off and does not land in the next one. Returns the seconds waited."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    quick = 0
    conn = HttpConnection(host, port)
    try:
        while quick < 3 and loop.time() - started < timeout:
            sent = loop.time()
            status, _ = await send_one(conn, lambda _: ("GET", "/health", b"", {}), 0)
            quick = quick + 1 if status == 200 and (loop.time() - sent) * 1000 <= quiet_ms else 0
            await asyncio.sleep(0.2)
    finally:
        conn.close()
    return round(loop.time() - started, 1)


def json_body(data) -> bytes:
    return orjson.dumps(data)


def now() -> float:
    return time.time()
