"""Garbage-collector counters of one worker, one JSON line per second into a file, only when asked for.

A full collection pauses every request a worker has in flight, so a load run wants to know, second by
second, how many collections each worker made and how long they took. ``gc.callbacks`` gives both for
a few clock reads per collection; a daemon thread appends the second's totals to
``<dir>/gc-<pid>.jsonl``, and nothing at all runs unless ``PAYHARNESS_GC_STATS_DIR`` names that folder
(``payharness load`` sets it; a production core never does).

A line: ``{"t": 1733300000.0, "pid": 4242, "count": [31, 2, 0], "pause_ms": [3.1, 1.2, 0.0], "max_ms": 0.9,
"cpu_ms": 4.1, "pending": [412, 3, 7], "maxrss_mb": 88.2}`` — collections and milliseconds paused per
generation during the second that ended at ``t``, the longest single pause, the CPU those pauses used (all
generations), ``gc.get_count()`` at ``t`` (cheap, unlike counting the tracked objects, which would itself
pause the worker), and the worker's peak resident memory (what rarer collections could cost).
Two clock reads per collection is the whole cost (four with the CPU clock).

Usage::

    install_from_env()            # in the worker's app factory; a no-op without PAYHARNESS_GC_STATS_DIR
"""

from __future__ import annotations

import gc
import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any

ENV = "PAYHARNESS_GC_STATS_DIR"


class GcCounter:
    """Collections and pause time per generation since the last ``take``; fed by ``gc.callbacks``."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.pause_ms = [0.0, 0.0, 0.0]
        self.max_ms = 0.0
        self.cpu_ms = 0.0
        self._started = self._started_cpu = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        # Called by the collector itself, with the GIL held: no lock is needed, and it must stay tiny.
        if phase == "start":
            self._started, self._started_cpu = time.perf_counter(), time.thread_time()
            return
        took = (time.perf_counter() - self._started) * 1000
        # CPU beside wall time: a pause much longer than its CPU was the worker waiting for a core, not collecting.
        self.cpu_ms += (time.thread_time() - self._started_cpu) * 1000
        generation = min(int(info.get("generation", 0)), 2)
        self.count[generation] += 1
        self.pause_ms[generation] += took
        self.max_ms = max(self.max_ms, took)

    def take(self) -> dict[str, Any]:
        """This interval's totals, and a fresh start for the next one."""
        line = {"count": self.count, "pause_ms": [round(v, 3) for v in self.pause_ms], "max_ms": round(self.max_ms, 3),
                "cpu_ms": round(self.cpu_ms, 3)}
        self.count, self.pause_ms, self.max_ms, self.cpu_ms = [0, 0, 0], [0.0, 0.0, 0.0], 0.0, 0.0
        return line


def _write_every_second(counter: GcCounter, path: Path, stop: threading.Event) -> None:
    with path.open("a", buffering=1) as out:  # line-buffered: a reader sees each second as it ends
        while not stop.wait(1.0):
            line = {"t": round(time.time(), 3), "pid": os.getpid(), **counter.take(), "pending": list(gc.get_count()),
                    "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def install(folder: Path) -> threading.Event:
    """Count this process's collections and write them to ``folder/gc-<pid>.jsonl``; set the event to stop."""
    folder.mkdir(parents=True, exist_ok=True)
    counter = GcCounter()
    gc.callbacks.append(counter)
    stop = threading.Event()
    threading.Thread(target=_write_every_second, args=(counter, folder / f"gc-{os.getpid()}.jsonl", stop),
                     name="gc-stats", daemon=True).start()
    return stop


def install_from_env() -> threading.Event | None:
    """``install`` into ``$PAYHARNESS_GC_STATS_DIR`` when it is set; otherwise nothing."""
    folder = os.environ.get(ENV)
    return install(Path(folder)) if folder else None
