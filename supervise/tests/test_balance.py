"""Connections spread evenly over a service's workers: the parent hands them out round robin (supervise/balance.py).

With ``PAYHARNESS_SHARED_ACCEPT=1`` (every worker accepting from the shared socket, uvicorn's own mode) the
spread test fails: 24/36 and the like.
"""

from __future__ import annotations

import http.client
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from supervise import Service

REPO = Path(__file__).resolve().parents[2]


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def _pid(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/pid")
    return int(conn.getresponse().read())


def _pid_over_new_connection(url: str) -> int:
    conn = _connect(url)
    try:
        return _pid(conn)
    finally:
        conn.close()


def _connections_by_worker(service: Service, count: int) -> Counter[int]:
    """Open ``count`` keep-alive connections one after another, each asking which worker serves it; all held open."""
    held, seen = [], Counter[int]()
    try:
        for _ in range(count):
            held.append(_connect(service.url))
            seen[_pid(held[-1])] += 1
    finally:
        for conn in held:
            conn.close()
    return seen


@pytest.mark.parametrize("workers", [2, 3])
def test_keep_alive_connections_are_spread_evenly_over_the_workers(tmp_path: Path, workers: int) -> None:
    argv = [sys.executable, "-m", "supervise.asgi", "supervise.tests.hello:app", "--workers", str(workers)]
    with Service("hello", argv, log_dir=tmp_path, cwd=REPO).start(timeout=60) as service:
        deadline = time.monotonic() + 30
        while len({_pid_over_new_connection(service.url) for _ in range(2 * workers)}) < workers:
            assert time.monotonic() < deadline, "not every worker started"  # round robin skips one not ready yet
        seen = _connections_by_worker(service, 60)
    assert sorted(seen.values()) == [60 // workers] * workers, seen


def _workers(service: Service) -> list[psutil.Process]:
    """The worker processes (multiprocessing also starts a resource tracker beside them)."""
    assert service.proc is not None
    found = []
    for child in psutil.Process(service.proc.pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # a worker just killed, not reaped yet
            continue
    return found


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "supervise.asgi", "supervise.tests.hello:app", "--workers", "2"]
    with Service("hello", argv, log_dir=tmp_path, cwd=REPO).start(timeout=60) as service:
        first = _workers(service)
        first[0].kill()
        deadline = time.monotonic() + 30
        while True:
            now = {p.pid for p in _workers(service)}
            if len(now) == 2 and first[0].pid not in now:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        answers = {_pid_over_new_connection(service.url) for _ in range(20)}
        assert first[0].pid not in answers and answers <= now
