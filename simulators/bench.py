"""Throughput of each simulator on one core: ``python -m simulators.bench [--gateway efecty]``.

Each simulator runs alone as ``python -m simulators.<gateway> --port 0`` in a child process pinned to
CPU 0 (uvloop + httptools, as it is served for real). This process, pinned to the other CPUs, drives it
with a minimal keep-alive HTTP/1.1 client on raw asyncio streams, so the client is not what gets
measured. A round is bounded by a request count and by seconds; the figure is the median of the rounds.
Not a test: it prints numbers and asserts nothing.
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

MAX_SECONDS_PER_ROUND = 10.0
TARGET_PER_SECOND = 3_000


@dataclass(frozen=True)
class Scenario:
    gateway: str
    name: str
    request: bytes


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux), to express throughput per CPU-second."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _http(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def scenarios() -> dict[str, Scenario]:
    """One cheap, representative call per gateway (configs imported lazily for their defaults)."""
    from simulators.efecty.config import EfectyConfig
    from simulators.payu.config import PayUConfig
    from simulators.wompi.config import WompiConfig

    payu, wompi, efecty = PayUConfig(), WompiConfig(), EfectyConfig()
    ping = {
        "test": True,
        "language": "es",
        "command": "PING",
        "merchant": {"apiLogin": payu.api_login, "apiKey": payu.api_key},
    }
    return {
        "payu": Scenario(
            "payu",
            "POST service.cgi PING",
            _http(
                "POST",
                "/payments-api/4.0/service.cgi",
                {"Content-Type": "application/json", "Accept": "application/json"},
                json.dumps(ping).encode(),
            ),
        ),
        "wompi": Scenario("wompi", "GET /v1/merchants/{public_key}", _http("GET", f"/v1/merchants/{wompi.public_key}")),
        "efecty": Scenario(
            "efecty",
            "GET /api/v1/vouchers/{code}",
            _http("GET", "/api/v1/vouchers/BENCH-1", {"Authorization": f"Bearer {efecty.merchant_api_key}"}),
        ),
    }


def launch(gateway: str, cpu: int) -> tuple[subprocess.Popen[str], int]:
    """Start one simulator pinned to ``cpu``; return the process and its port."""

    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    child = subprocess.Popen(
        [sys.executable, "-m", f"simulators.{gateway}", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pin,
    )
    assert child.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(r"127\.0\.0\.1:(\d+)", child.stdout.readline())
        if found:
            return child, int(found.group(1))
    child.kill()
    raise RuntimeError(f"simulators.{gateway} did not start within 20 s")


async def _prepare(gateway: str, port: int) -> None:
    # The Efecty scenario reads a voucher, so one must exist first.
    if gateway != "efecty":
        return
    import httpx

    from simulators.efecty.config import EfectyConfig

    key = EfectyConfig().merchant_api_key
    body = {
        "payment_code": "BENCH-1",
        "amount": "65000.00",
        "currency": "COP",
        "expires_at": "2099-01-01T00:00:00Z",
        "reference": "bench",
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/api/v1/vouchers", json=body, headers={"Authorization": f"Bearer {key}"})
        response.raise_for_status()


async def _connection(port: int, request: bytes, budget: list[int], until: float) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = failures = 0
    try:
        while budget[0] > 0 and time.perf_counter() < until:
            budget[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done += 1
            if not head.startswith(b"HTTP/1.1 200"):
                failures += 1
    finally:
        writer.close()
    return done, failures


async def one_round(port: int, request: bytes, *, requests: int, seconds: float, connections: int) -> tuple[float, int]:
    """Requests per second of one bounded round, and how many answers were not 200."""
    budget = [requests]
    started = time.perf_counter()
    until = started + min(seconds, MAX_SECONDS_PER_ROUND)
    results = await asyncio.gather(*(_connection(port, request, budget, until) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    done = sum(r[0] for r in results)
    return done / elapsed, sum(r[1] for r in results)


@dataclass
class Result:
    per_second: list[float]
    per_cpu_second: list[float]
    failures: int = 0


async def bench(scenario: Scenario, port: int, pid: int, *, rounds: int, **bounds: float) -> Result:
    """Wall-clock rate of each round, and the rate per CPU-second the server actually used: on a busy
    machine the pinned core is shared, and only the second figure says what one core can do."""
    await _prepare(scenario.gateway, port)
    await one_round(port, scenario.request, requests=500, seconds=1, connections=8)  # warm-up
    result = Result([], [])
    for _ in range(rounds):
        cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
        rate, failed = await one_round(port, scenario.request, **bounds)  # type: ignore[arg-type]
        cpu_after, wall = cpu_seconds(pid), time.perf_counter() - wall_before
        result.per_second.append(rate)
        if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
            result.per_cpu_second.append(rate * wall / (cpu_after - cpu_before))
        result.failures += failed
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Benchmark the chosen simulators and print requests/s. Usage: ``main(["--gateway", "efecty"])``."""
    parser = argparse.ArgumentParser(prog="python -m simulators.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", choices=("payu", "wompi", "efecty"), action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help=f"per round, at most {MAX_SECONDS_PER_ROUND:.0f}")
    parser.add_argument("--requests", type=int, default=50_000, help="per round, upper bound")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    server_cpu = cpus[0]
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))
    else:
        print("only one CPU: client and server share it, figures are pessimistic", file=sys.stderr)
    runner: Callable[[Coroutine[Any, Any, Result]], Result] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    table = scenarios()
    for gateway in args.gateway or list(table):
        scenario = table[gateway]
        child, port = launch(gateway, server_cpu)
        try:
            result = runner(
                bench(
                    scenario,
                    port,
                    child.pid,
                    rounds=args.rounds,
                    requests=args.requests,
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
        finally:
            child.terminate()
            child.wait(timeout=10)
        wall = statistics.median(result.per_second)
        per_core = statistics.median(result.per_cpu_second) if result.per_cpu_second else float("nan")
        verdict = "ok" if per_core >= TARGET_PER_SECOND else f"BELOW {TARGET_PER_SECOND}"
        rounds = ", ".join(f"{f:.0f}" for f in result.per_second)
        print(
            f"{gateway:<7} {scenario.name:<32} median {wall:>6.0f} req/s wall [{rounds}]  "
            f"{per_core:>6.0f} req/s per CPU-second ({verdict})  non-200: {result.failures}  "
            f"server on CPU {server_cpu}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
