"""A bench-load phase keeps its slice of the core's GC counters and its own stall analysis (no process started)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.gcstats import ENV as GC_STATS_ENV
from load import bench
from load.ledger import LedgerEntry
from load.samples import copy_window
from load.stalls import analyse_phase


def gc_line(t: float, pause_ms: float = 0.5, pid: int = 7) -> str:
    return json.dumps({"t": t, "pid": pid, "count": [3, 0, 1 if pause_ms > 10 else 0], "pause_ms": [0.5, 0, pause_ms],
                       "max_ms": pause_ms, "cpu_ms": 1.0})


def ledger_lines(start: float, seconds: int, per_second: int, slow: int) -> str:
    """``seconds`` of webhooks from ``start``, answered in 5 ms but in second ``slow`` (500 ms)."""
    lines = []
    for s in range(seconds):
        for i in range(per_second):
            n = s * per_second + i
            lines.append(LedgerEntry(id=f"local:{n}", at=start + s + i / per_second, gateway="wompi", key=f"k{n}",
                                     order="o", attempt="a", status="APPROVED", role="event", signature="s",
                                     expect=200, code=200, ms=500.0 if s == slow else 5.0).to_json())
    return "\n".join(lines) + "\n"


def write_core_gc(folder: Path, start: float) -> None:
    """One worker's lines from before the phase, through it (a 90 ms full collection in second 4), and after."""
    folder.mkdir(parents=True)
    times = [start - 30, start - 1, *(start + s + 1 for s in range(8)), start + 60]
    (folder / "gc-7.jsonl").write_text("\n".join(gc_line(t, 90.0 if t == start + 5 else 0.5) for t in times) + "\n")
    (folder / "gc-8.jsonl").write_text(gc_line(start - 30, pid=8) + "\n")  # a worker with nothing in the window


def test_a_window_of_the_cores_gc_lines_is_copied_and_a_stale_copy_is_dropped(tmp_path: Path) -> None:
    start = 1_800_000_000.0
    write_core_gc(tmp_path / "core-gc", start)
    stale = tmp_path / "phase" / "gc" / "gc-3.jsonl"
    stale.parent.mkdir(parents=True)
    stale.write_text(gc_line(start) + "\n")
    assert copy_window(tmp_path / "core-gc", tmp_path / "phase" / "gc", start, start + 8.5) == 8
    assert sorted(p.name for p in (tmp_path / "phase" / "gc").iterdir()) == ["gc-7.jsonl"]
    kept = [json.loads(raw)["t"] for raw in (tmp_path / "phase" / "gc" / "gc-7.jsonl").read_text().splitlines()]
    assert kept == [start + s + 1 for s in range(8)]
    assert copy_window(tmp_path / "absent", tmp_path / "phase" / "gc", start, start + 9) == 0


def test_an_unpaced_phase_is_not_analysed_and_a_broken_one_does_not_fail_the_benchmark(tmp_path: Path) -> None:
    assert analyse_phase(tmp_path, 0) is None
    (tmp_path / "quiet").mkdir()
    assert analyse_phase(tmp_path / "quiet", 100) == 0  # no webhook: nothing missed
    assert analyse_phase(tmp_path / "gone", 100) is None  # said on stderr, not raised
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "local.jsonl").write_text("{not json\n")
    assert analyse_phase(tmp_path, 100) is None


def test_a_bench_phase_keeps_its_gc_slice_and_explains_its_stall_with_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bench" / "hold-10"
    core_gc = tmp_path / "bench" / "gc"

    clock = SimpleNamespace(now=1_800_000_000.0)

    def fake_locust(plan: Any, *, log_dir: Path, timeout: float, name: str) -> int:
        # Locust "runs" 9 s: 8 s of webhooks at 10/s, second 4 slow; the core writes its lines meanwhile.
        write_core_gc(core_gc, clock.now + 0.5)
        (out / "ledger").mkdir()
        (out / "ledger" / "local.jsonl").write_text(ledger_lines(clock.now + 0.5, 8, 10, slow=4))
        clock.now += 9
        return 0

    class Meter(contextlib.AbstractContextManager[Any]):
        def between(self, start: float, end: float) -> tuple[dict[str, float], float]:
            return {}, 0.0

        def serving_shares(self, start: float, end: float) -> list[float]:
            return []

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(bench, "time", SimpleNamespace(time=lambda: clock.now))
    monkeypatch.setattr(bench, "run_locust", fake_locust)
    monkeypatch.setattr(bench, "CpuMeter", lambda roots: Meter())
    monkeypatch.setattr(bench, "stack_sampler", lambda *a: contextlib.nullcontext())
    stack = SimpleNamespace(urls={"database": "postgresql://u@127.0.0.1:1/db"}, postgres=SimpleNamespace(kind="x"))
    m = bench.locust_run("hold", host="http://127.0.0.1:1", stack=stack, out=out, offered=10, seconds=8,  # type: ignore[arg-type]
                         user_rate=5, audit=True, core_gc=core_gc)
    assert m.missed_seconds == 1
    assert len((out / "gc" / "gc-7.jsonl").read_text().splitlines()) == 8
    stalls = json.loads((out / "stalls.json").read_text())
    assert stalls["missed"] == [4] and stalls["gc_seconds"] == 8
    assert stalls["episodes"][0]["suspects"] == ["s4: gc pause 90 ms (gen2 x1)"]


def test_the_benchmarks_core_counts_its_collections_into_a_fresh_gc_folder(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Started(Exception):
        pass

    def start(**options: Any) -> None:
        seen.update(options)
        raise Started  # nothing is started: the options the stack would get are the point

    monkeypatch.setattr(bench.Stack, "start", start)
    (tmp_path / "gc").mkdir()
    (tmp_path / "gc" / "gc-1.jsonl").write_text(gc_line(1.0) + "\n")  # an earlier benchmark's
    args = bench.build_parser().parse_args(["--artefacts", str(tmp_path)])
    with pytest.raises(Started):
        bench.run(args, bench.search_plan(args))
    assert seen["core_extra_env"][GC_STATS_ENV] == str(tmp_path / "gc")
    assert not (tmp_path / "gc").exists()
