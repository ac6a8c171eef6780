"""Benchmark of the foundation (not a test): embedded Postgres start, template migration, one clone.

Prints medians of N runs in milliseconds; ``--json`` writes them for the report. Targets from the
foundation issue: start < 2 s, clone < 300 ms. Timings on a shared machine are noisy: read medians.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from harness.databases import DatabaseFactory
from harness.postgres import start_embedded


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def measure(runs: int = 5) -> dict[str, object]:
    starts, migrations, clones, drops = [], [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        pg = start_embedded()
        starts.append(_ms(t))
        try:
            factory = DatabaseFactory(pg)
            t = time.perf_counter()
            factory.build_template()
            migrations.append(_ms(t))
            for _ in range(runs):
                t = time.perf_counter()
                name = factory.clone()
                clones.append(_ms(t))
                t = time.perf_counter()
                factory.drop(name)
                drops.append(_ms(t))
        finally:
            pg.stop()
    med = statistics.median
    return {
        "runs": runs,
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "embedded_start_ms": {"median": round(med(starts), 1), "samples": [round(x, 1) for x in starts]},
        "template_migration_ms": {"median": round(med(migrations), 1), "samples": [round(x, 1) for x in migrations]},
        "clone_ms": {"median": round(med(clones), 1), "samples": [round(x, 1) for x in clones]},
        "drop_ms": {"median": round(med(drops), 1), "samples": [round(x, 1) for x in drops]},
        "targets_ms": {"embedded_start": 2000, "clone": 300},
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def main(runs: int = 5, json_path: str | None = None) -> int:
    result = measure(runs)
    for key in ("embedded_start_ms", "template_migration_ms", "clone_ms", "drop_ms"):
        entry = result[key]
        assert isinstance(entry, dict)
        print(f"{key:<24} median {entry['median']:>8.1f}   samples {entry['samples']}")
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
        print(f"wrote {json_path}")
    return 0
