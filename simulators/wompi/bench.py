"""Throughput benchmark of the Wompi simulator on one core: ``python -m simulators.wompi.bench``.

The simulator runs in its own process pinned to one CPU; a raw keep-alive HTTP client pinned to
another CPU drives it, so the figure is the server's, not httpx's. Every run is bounded in both
requests and seconds.
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
from dataclasses import dataclass
from typing import Any

import httpx

from simulators.wompi.config import WompiConfig
from simulators.wompi.signing import integrity_signature

MAX_SECONDS = 30.0
MAX_REQUESTS = 1_000_000


@dataclass(frozen=True)
class Result:
    scenario: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float | None:
        """Requests per second of server CPU: the one-core capacity, whatever else shares the machine."""
        if not self.server_cpu_seconds:
            return None
        return self.requests / self.server_cpu_seconds

    def line(self) -> str:
        capacity = f"{self.per_cpu_second:>7.0f}" if self.per_cpu_second else "      ?"
        return (
            f"{self.scenario:<18} {self.rate:>7.0f} req/s wall  {capacity} req/s per server CPU-second  "
            f"{self.requests:>7} requests  {self.errors} errors  p50 {self.p50_ms:.2f} ms  p99 {self.p99_ms:.2f} ms"
        )


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def start_server(cpu: int) -> tuple[subprocess.Popen[str], int]:
    """The simulator in a child process, pinned to ``cpu``; returns it and its port."""
    command = [sys.executable, "-m", "simulators.wompi", "--port", "0", "--finalize-delay", "3600"]
    pin = ["taskset", "-c", str(cpu)] if sys.platform.startswith("linux") else []
    process = subprocess.Popen(pin + command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "127.0.0.1:" in line:
            return process, int(line.split("127.0.0.1:")[1].split("/")[0])
    process.kill()
    raise RuntimeError("the simulator did not start within 15 s")


async def _worker(
    port: int, make: Callable[[int], bytes], counter: list[int], stop_at: float, limit: int, lat: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while counter[0] < limit and time.perf_counter() < stop_at:
            if writer.is_closing():
                return errors + 1
            counter[0] += 1
            started = time.perf_counter()
            writer.write(make(counter[0]))
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                return errors + 1
            length = 0
            for raw in head.split(b"\r\n"):
                if raw[:15].lower() == b"content-length:":
                    length = int(raw[15:])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 201")):
                errors += 1
    finally:
        writer.close()
    return errors


async def run_scenario(
    name: str,
    port: int,
    make: Callable[[int], bytes],
    *,
    seconds: float,
    requests: int,
    connections: int,
    server_pid: int,
) -> Result:
    cpu_before = server_cpu_seconds(server_pid)
    counter = [0]
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + min(seconds, MAX_SECONDS)
    limit = min(requests, MAX_REQUESTS)
    errors = await asyncio.gather(
        *(_worker(port, make, counter, stop_at, limit, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    cpu_after = server_cpu_seconds(server_pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    return Result(name, len(latencies), sum(errors), elapsed, quantile(0.5), quantile(0.99), cpu)


def _get(path: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


def _post(path: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def bench(port: int, server_pid: int, *, seconds: float, requests: int, connections: int) -> list[Result]:
    config = WompiConfig()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        merchant = (await http.get(f"/v1/merchants/{config.public_key}")).json()["data"]
        acceptance = merchant["presigned_acceptance"]["acceptance_token"]
    run_id = time.time_ns()

    def create(n: int) -> bytes:
        reference = f"bench-{run_id}-{n}"
        body = {
            "acceptance_token": acceptance,
            "amount_in_cents": 4490000,
            "currency": "COP",
            "customer_email": "bench@example.com",
            "reference": reference,
            "signature": integrity_signature(reference, 4490000, "COP", config.integrity_secret),
            "payment_method": {"type": "NEQUI", "phone_number": "3991111111"},
        }
        return _post("/v1/transactions", config.private_key, json.dumps(body).encode())

    options: dict[str, Any] = {
        "seconds": seconds,
        "requests": requests,
        "connections": connections,
        "server_pid": server_pid,
    }
    banks = _get("/v1/pse/financial_institutions", config.public_key)
    results = [await run_scenario("pse_banks GET", port, lambda _n: banks, **options)]
    results.append(await run_scenario("create_tx POST", port, create, **options))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        found = await http.get(
            "/v1/transactions",
            params={"reference": f"bench-{run_id}-1"},
            headers={"Authorization": f"Bearer {config.private_key}"},
        )
        tx_id = found.json()["data"][0]["id"]
    read = _get(f"/v1/transactions/{tx_id}", config.public_key)
    results.append(await run_scenario("get_tx GET", port, lambda _n: read, **options))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one line per scenario. Usage: ``main(["--seconds", "3"])``."""
    parser = argparse.ArgumentParser(prog="python -m simulators.wompi.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help=f"per scenario (max {MAX_SECONDS:.0f})")
    parser.add_argument("--requests", type=int, default=200_000, help="per scenario, upper bound")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    process, port = start_server(cpu=0)
    try:
        _pin(1)
        results = asyncio.run(
            bench(port, process.pid, seconds=args.seconds, requests=args.requests, connections=args.connections)
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"Wompi simulator, one server process on one CPU, {args.connections} keep-alive connections")
    for result in results:
        print(result.line())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([{**r.__dict__, "rate": round(r.rate, 1)} for r in results], handle, indent=2)
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
