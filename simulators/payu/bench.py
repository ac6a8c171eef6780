"""Throughput benchmark of the PayU simulator on one core: ``python -m simulators.payu.bench``.

The simulator runs in a child process pinned to CPU 0 (uvloop + httptools, as ``serve`` runs it); a
minimal keep-alive HTTP/1.1 client on raw sockets, pinned to CPU 1, drives it so the client is not
what is measured. Every scenario is bounded in requests and in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH
from simulators.payu.testing import card_request, command

MAX_SECONDS = 30.0
MAX_REQUESTS = 1_000_000


@dataclass(frozen=True)
class Figure:
    scenario: str
    requests: int
    failures: int
    seconds: float
    server_cpu_seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_cpu_second(self) -> float:
        # On a shared machine the wall rate depends on the neighbours; requests per CPU-second
        # the server actually got is the capacity of one dedicated core.
        return self.requests / self.server_cpu_seconds if self.server_cpu_seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.scenario:<27} {self.per_second:>6.0f} req/s wall  {self.per_cpu_second:>6.0f} req/s per "
            f"server CPU-second  {self.requests:>6} requests  {self.failures} failures  "
            f"p50 {self.p50_ms:.2f} ms  p99 {self.p99_ms:.2f} ms"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere, and the column reads 0)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(path: str, body: dict[str, object]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def launch(cpu: int) -> tuple[subprocess.Popen[str], int]:
    """Start ``python -m simulators.payu --port 0`` pinned to ``cpu``; return it and its port."""
    argv = [sys.executable, "-m", "simulators.payu", "--port", "0"]
    if sys.platform.startswith("linux") and cpu < (os.cpu_count() or 1):
        argv = ["taskset", "-c", str(cpu), *argv]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if "127.0.0.1:" in line:
            return child, int(line.split("127.0.0.1:", 1)[1].split("/", 1)[0])
    child.kill()
    raise RuntimeError("the PayU simulator did not start within 15 s")


async def _connection(
    port: int, request_for: Callable[[int], bytes], issued: list[int], limit: int, until: float, samples: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures = 0
    try:
        while issued[0] < limit and time.perf_counter() < until:
            issued[0] += 1
            begun = time.perf_counter()
            writer.write(request_for(issued[0]))
            head = await reader.readuntil(b"\r\n\r\n")
            size = next(
                (int(h.split(b":", 1)[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")),
                0,
            )
            body = await reader.readexactly(size)
            samples.append(time.perf_counter() - begun)
            if not head.startswith(b"HTTP/1.1 200") or b'"SUCCESS"' not in body:
                failures += 1
    finally:
        writer.close()
    return failures


async def measure(
    name: str,
    port: int,
    request_for: Callable[[int], bytes],
    *,
    pid: int,
    seconds: float,
    requests: int,
    connections: int,
) -> Figure:
    cpu_before = cpu_seconds(pid)
    issued = [0]
    samples: list[float] = []
    begun = time.perf_counter()
    until = begun + min(seconds, MAX_SECONDS)
    limit = min(requests, MAX_REQUESTS)
    failures = await asyncio.gather(
        *(_connection(port, request_for, issued, limit, until, samples) for _ in range(connections))
    )
    elapsed = time.perf_counter() - begun
    cpu = cpu_seconds(pid) - cpu_before
    samples.sort()

    def quantile(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] * 1000 if samples else 0.0

    return Figure(name, len(samples), sum(failures), elapsed, cpu, quantile(0.5), quantile(0.99))


async def run(port: int, *, pid: int, seconds: float, requests: int, connections: int) -> list[Figure]:
    run_id = time.time_ns()
    ping = _post(PAYMENTS_PATH, command("PING"))
    query_ping = _post(QUERIES_PATH, command("PING"))
    # A cheap card body: no notifyUrl, so no webhook work muddies the figure.
    submits = [_post(PAYMENTS_PATH, card_request(f"bench-{run_id}-{n}")) for n in range(min(requests, 50_000))]

    def submit(n: int) -> bytes:
        return submits[(n - 1) % len(submits)] if n <= len(submits) else _post(PAYMENTS_PATH, card_request(f"b{n}"))

    kw = {"pid": pid, "seconds": seconds, "requests": requests, "connections": connections}
    return [
        await measure("payments PING", port, lambda _n: ping, **kw),  # type: ignore[arg-type]
        await measure("queries PING", port, lambda _n: query_ping, **kw),  # type: ignore[arg-type]
        await measure("SUBMIT_TRANSACTION (card)", port, submit, **kw),  # type: ignore[arg-type]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark and print one line per scenario. Usage: ``main(["--seconds", "3"])``."""
    parser = argparse.ArgumentParser(prog="python -m simulators.payu.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help=f"per scenario (at most {MAX_SECONDS:.0f})")
    parser.add_argument("--requests", type=int, default=100_000, help="per scenario, upper bound")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    child, port = launch(cpu=0)
    try:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})
        figures = asyncio.run(
            run(port, pid=child.pid, seconds=args.seconds, requests=args.requests, connections=args.connections)
        )
    finally:
        child.terminate()
        child.wait(timeout=10)
    print(f"PayU simulator, one server process on one CPU, {args.connections} keep-alive connections")
    for figure in figures:
        print(figure.line())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            rows = [
                {**asdict(f), "per_second": round(f.per_second, 1), "per_cpu_second": round(f.per_cpu_second, 1)}
                for f in figures
            ]
            json.dump(rows, handle, indent=2)
    return 0 if all(f.failures == 0 for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
