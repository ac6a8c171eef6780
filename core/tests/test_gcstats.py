"""The worker's GC counters: collections and pauses per generation, reset per interval, off unless asked."""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

import pytest

from core import gcstats


def test_counter_sums_collections_and_pauses_per_generation_then_starts_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1.000, 1.002, 2.000, 2.050, 3.000, 3.001])
    cpu = iter([5.000, 5.001, 6.000, 6.010, 7.000, 7.001])
    monkeypatch.setattr(gcstats.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(gcstats.time, "thread_time", lambda: next(cpu))
    counter = gcstats.GcCounter()
    for generation in (0, 2, 0):
        counter("start", {"generation": generation})
        counter("stop", {"generation": generation})
    line = counter.take()
    assert line["count"] == [2, 0, 1]
    assert line["pause_ms"] == [pytest.approx(3.0), 0.0, pytest.approx(50.0)]
    assert line["max_ms"] == pytest.approx(50.0)
    assert line["cpu_ms"] == pytest.approx(12.0)
    assert counter.take() == {"count": [0, 0, 0], "pause_ms": [0.0, 0.0, 0.0], "max_ms": 0.0, "cpu_ms": 0.0}


def test_install_from_env_does_nothing_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gcstats.ENV, raising=False)
    before = list(gc.callbacks)
    assert gcstats.install_from_env() is None
    assert gc.callbacks == before


def test_installed_counter_writes_a_line_per_second_with_real_collections(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gcstats.ENV, str(tmp_path))
    before = list(gc.callbacks)
    stop = gcstats.install_from_env()
    assert stop is not None
    try:
        gc.collect()
        deadline = time.monotonic() + 5
        written = tmp_path / f"gc-{os.getpid()}.jsonl"
        while not written.exists() or not written.read_text():
            assert time.monotonic() < deadline, "no line written within 5 s"
            time.sleep(0.1)
    finally:
        stop.set()
        gc.callbacks[:] = before
    first = json.loads(written.read_text().splitlines()[0])
    assert first["count"][2] >= 1
    assert set(first) == {"t", "pid", "count", "pause_ms", "max_ms", "cpu_ms", "pending", "maxrss_mb"}
