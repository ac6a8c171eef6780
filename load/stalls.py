"""Which seconds of a load run stalled, and what the per-second samples show in and just before them.

Reads one run's artefacts: the ledger (every request's send time and latency: exact per-second
percentiles, where Locust's ``locust_stats_history.csv`` smooths its "current" percentiles over a sliding
window of several seconds), ``samples.jsonl`` (load/samples.py) and the core workers' ``gc/*.jsonl``
(core/gcstats.py). A second *missed* when its webhooks' p99 exceeds ``p99_ms`` or fewer than ``share`` of
the offered rate were sent in it (a paced user waiting for a slow answer sends late). Consecutive missed
seconds form an episode; for each, the samples from ``LOOK_BACK`` seconds before it to its end, and the
suspects they name. Beside them, each signal's median over missed and over good seconds: a trigger shows
as a difference there, noise does not.

Usage::

    python -m load.stalls artefacts/load-20261204-072000        # prints, and writes stalls.json there
    python -m load.stalls artefacts/bench/hold-520 520          # a bench-load phase: its offered rate
    python -m load.stalls --by-others 500 artefacts/load-*      # missed seconds by other jobs' cores
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from load.ledger import LedgerEntry, read_ledger
from load.payloads import ROLES

P99_MS = 100.0  # the benchmark's per-step limit; the acceptance run allows p95 100 / p99 250 over the run
SHARE = 0.9
TRIM_START, TRIM_END = 2, 1  # spawning; the last, partial second
LOOK_BACK = 2
# What makes a sample a suspect (each named in the output, so a reader can disagree with the threshold).
GC_PAUSE_MS = 30.0
OTHERS_CORES = 0.5
PSI_MS = 300.0
SATURATED = 0.95  # of the machine's CPUs busy (ours and others' together)


@dataclass(frozen=True)
class Second:
    """Webhooks sent in one second (offset from the first request) and their latencies."""

    at: int
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Episode:
    first: int
    last: int
    worst_p99_ms: float
    seconds: list[dict[str, Any]] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)
    # Each kind of suspect: in how many of the episode's seconds (look-back included) it showed.
    kinds: dict[str, int] = field(default_factory=dict)


def _rank(values: Sequence[float], share: float) -> float:
    return values[max(0, math.ceil(share * len(values)) - 1)]


def per_second(entries: Iterable[LedgerEntry]) -> tuple[float, list[Second]]:
    """The first send time (epoch) and each second's answered webhooks, by send time."""
    hooks = sorted((e for e in entries if e.role in ROLES and e.code is not None), key=lambda e: e.at)
    if not hooks:
        return 0.0, []
    start = hooks[0].at
    buckets: dict[int, list[float]] = {}
    for e in hooks:
        buckets.setdefault(int(e.at - start), []).append(e.ms)
    out = []
    for at in range(max(buckets) + 1):
        ms = sorted(buckets.get(at, []))
        if not ms:
            out.append(Second(at, 0, 0.0, 0.0, 0.0))
            continue
        out.append(Second(at, len(ms), round(_rank(ms, 0.5), 1), round(_rank(ms, 0.99), 1), round(ms[-1], 1)))
    return start, out


def missed(seconds: Sequence[Second], rate: float, *, p99_ms: float = P99_MS, share: float = SHARE) -> list[int]:
    """Offsets of the seconds (spawning and the end left out) whose p99 or throughput missed."""
    inside = seconds[TRIM_START:len(seconds) - TRIM_END]
    return [s.at for s in inside if s.p99_ms > p99_ms or s.sent < share * rate]


def episodes(bad: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for at in sorted(bad):
        if runs and at == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], at)
        else:
            runs.append((at, at))
    return runs


def by_second(lines: Iterable[dict[str, Any]], start: float) -> dict[int, dict[str, Any]]:
    """Sample lines (each stamped at the end of its second) keyed by the second they cover."""
    return {int(line["t"] - line.get("span", 1.0) / 2 - start): line for line in lines if line["t"] >= start}


def gc_by_second(lines: Iterable[dict[str, Any]], start: float) -> dict[int, dict[str, Any]]:
    """Every worker's collections summed per second: counts and pause per generation, the longest pause."""
    out: dict[int, dict[str, Any]] = {}
    for line in lines:
        if line["t"] < start:
            continue
        slot = out.setdefault(int(line["t"] - 0.5 - start), {"count": [0, 0, 0], "pause_ms": [0.0, 0.0, 0.0],
                                                              "max_ms": 0.0, "cpu_ms": 0.0, "workers": 0})
        slot["workers"] += 1
        for g in range(3):
            slot["count"][g] += line["count"][g]
            slot["pause_ms"][g] = round(slot["pause_ms"][g] + line["pause_ms"][g], 3)
        slot["max_ms"] = max(slot["max_ms"], line["max_ms"])
        slot["cpu_ms"] = round(slot["cpu_ms"] + line.get("cpu_ms", 0.0), 3)
    return out


def suspects(sample: dict[str, Any] | None, gc: dict[str, Any] | None) -> list[str]:
    """What in one second's samples could stall the core; empty when nothing stands out."""
    found = []
    if gc and gc["max_ms"] >= GC_PAUSE_MS:
        found.append(f"gc pause {gc['max_ms']:g} ms (gen2 x{gc['count'][2]})")
    if sample:
        machine, pg = sample.get("machine", {}), sample.get("pg", {})
        if machine.get("others", 0) >= OTHERS_CORES:
            found.append(f"other processes {machine['others']:g} cores (load1 {machine.get('load1')})")
        cpus = machine.get("cpus")
        if cpus and machine.get("busy", 0) >= SATURATED * cpus:
            found.append(f"cpu saturated {machine['busy']:g} of {cpus} cores busy")
        if (machine.get("psi_some_ms") or 0) >= PSI_MS:
            found.append(f"cpu pressure {machine['psi_some_ms']:g} ms/s")
        if machine.get("steal", 0) >= 0.1:
            found.append(f"steal {machine['steal']:g} cores")
        if pg.get("autovacuum"):
            rels = ", ".join(sorted({v["rel"] + (" analyze" if str(v.get("phase", "")).startswith("analyze") else "")
                                     for v in pg.get("vacuuming", [])})) or "?"
            found.append(f"autovacuum ({rels})")
        ckpt = pg.get("checkpointer", {})
        if ckpt.get("buffers_written") or ckpt.get("write_time") or ckpt.get("num_requested"):
            found.append(f"checkpoint ({ckpt.get('buffers_written', 0):g} buffers,"
                         f" {ckpt.get('write_time', 0):g} ms write)")
        waits = {k: v for k, v in pg.get("waits", {}).items() if not k.startswith("Client:")}
        if sum(waits.values()) >= 8:  # two sessions waiting all second, on the four snapshots
            top = sorted(waits.items(), key=lambda kv: -kv[1])[:3]
            found.append("pg waits " + ", ".join(f"{k} {v}" for k, v in top))
    return found


def kind_of(suspect: str) -> str:
    """``gc pause 92 ms (gen2 x1)`` -> ``gc pause``: the words before the first figure or parenthesis."""
    words = []
    for word in suspect.split():
        if word[0].isdigit() or word[0] == "(":
            break
        words.append(word)
    return " ".join(words)


SIGNALS: tuple[tuple[str, str], ...] = (
    ("core cores", "cpu.core"), ("postgres cores", "cpu.postgres"), ("generator cores", "cpu.generator"),
    ("machine busy", "machine.busy"), ("other processes' cores", "machine.others"), ("load1", "machine.load1"),
    ("cpu pressure ms/s", "machine.psi_some_ms"), ("pg client connections", "pg.clients"),
    ("pg active (4 snapshots)", "pg.states.active"), ("autovacuum workers", "pg.autovacuum"),
    ("checkpoint buffers", "pg.checkpointer.buffers_written"), ("gc longest pause ms", "gc.max_ms"),
    ("gc gen2 collections", "gc.count.2"), ("gc CPU ms", "gc.cpu_ms"),
)


def _get(row: dict[str, Any], path: str) -> float | None:
    value: Any = row
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return float(value) if isinstance(value, int | float) else None


def compare(rows: dict[int, dict[str, Any]], bad: set[int], good: set[int]) -> list[dict[str, Any]]:
    """Each signal's median over missed seconds against good ones."""
    out = []
    for label, path in SIGNALS:
        med = {}
        for name, keys in (("missed", bad), ("good", good)):
            values = [v for k in keys if (v := _get(rows.get(k, {}), path)) is not None]
            med[name] = round(statistics.median(values), 3) if values else None
        out.append({"signal": label, **med})
    return out


def analyse(seconds: Sequence[Second], rate: float, samples: dict[int, dict[str, Any]],
            gc: dict[int, dict[str, Any]], *, p99_ms: float = P99_MS) -> dict[str, Any]:
    """The missed seconds, their episodes with the samples around them, and the signals compared."""
    bad = missed(seconds, rate, p99_ms=p99_ms)
    rows = {s.at: {**samples.get(s.at, {}), "gc": gc.get(s.at), "load": asdict(s)} for s in seconds}
    eps = []
    for first, last in episodes(bad):
        ep = Episode(first, last, max(seconds[a].p99_ms for a in range(first, last + 1)))
        for at in range(max(0, first - LOOK_BACK), last + 1):
            found = suspects(samples.get(at), gc.get(at))
            ep.seconds.append({"at": at, **rows.get(at, {}), "suspects": found})
            ep.suspects += [f"s{at}: {s}" for s in found]
            for kind in dict.fromkeys(kind_of(s) for s in found):
                ep.kinds[kind] = ep.kinds.get(kind, 0) + 1
        eps.append(asdict(ep))
    inside = {s.at for s in seconds[TRIM_START:len(seconds) - TRIM_END]}
    return {
        "rate": rate, "p99_limit_ms": p99_ms, "share": SHARE, "seconds": len(seconds),
        "trim_start": TRIM_START, "trim_end": TRIM_END,
        "missed": bad, "episodes": eps,
        "compare": compare(rows, set(bad), inside - set(bad)),
        "sampled_seconds": len(samples), "gc_seconds": len(gc),
    }


def _jsonl(paths: Iterable[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        for raw in path.read_text().splitlines():
            if raw.strip():
                out.append(json.loads(raw))
    return out


def analyse_folder(folder: Path, *, rate: float | None = None, p99_ms: float = P99_MS) -> dict[str, Any]:
    """``analyse`` over a run's artefacts folder; writes ``stalls.json`` there and returns it."""
    if rate is None:
        rate = float(json.loads((folder / "run.json").read_text())["rate"])
    start, seconds = per_second(read_ledger(folder / "ledger"))
    samples = by_second(_jsonl([folder / "samples.jsonl"] if (folder / "samples.jsonl").exists() else []), start)
    gc = gc_by_second(_jsonl(sorted((folder / "gc").glob("gc-*.jsonl"))), start)
    result = analyse(seconds, rate, samples, gc, p99_ms=p99_ms)
    (folder / "stalls.json").write_text(json.dumps(result, indent=1))
    return result


def analyse_phase(folder: Path, rate: float) -> int | None:
    """For a bench-load phase at ``rate``: ``analyse_folder``, never failing the benchmark; the missed seconds'
    count, or None when there was nothing to analyse (an unpaced phase has no rate to fall short of)."""
    if not rate:
        return None
    try:
        return len(analyse_folder(folder, rate=rate)["missed"])
    except (OSError, ValueError, KeyError) as exc:
        print(f"stalls: no analysis of {folder.name} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def summary(result: dict[str, Any]) -> str:
    """A few lines for the terminal: the missed seconds, each episode's suspects, the signals that differ."""
    lines = [f"stalls: {len(result['missed'])} of {result['seconds']} seconds missed p99 {result['p99_limit_ms']:g} ms"
             f" or {result['share']:.0%} of {result['rate']:g}/s"]
    for ep in result["episodes"]:
        span = len(ep["seconds"])
        kinds = ", ".join(f"{kind} {n}/{span} s" for kind, n in sorted(ep["kinds"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  s{ep['first']}-{ep['last']} (worst p99 {ep['worst_p99_ms']:g} ms): "
                     + (kinds or "no suspect in the samples"))
    if result["missed"]:
        lines.append("  medians, missed vs good seconds: " + ", ".join(
            f"{c['signal']} {c['missed']:g} vs {'–' if c['good'] is None else format(c['good'], 'g')}"
            for c in result["compare"] if c["missed"] is not None))
    return "\n".join(lines)


def by_others(runs: Iterable[tuple[Sequence[Second], dict[int, dict[str, Any]]]], rate: float,
              step: float = 0.2) -> list[dict[str, Any]]:
    """Over many runs' seconds (spawning and the end left out): how often a second missed, by the cores other
    jobs used in it, in bins of ``step`` cores. A stall of ours shows as misses where others used nothing."""
    bins: dict[int, list[int]] = {}
    for seconds, samples in runs:
        bad = set(missed(seconds, rate))
        for s in seconds[TRIM_START:len(seconds) - TRIM_END]:
            others = (samples.get(s.at) or {}).get("machine", {}).get("others")
            if others is None:
                continue
            counts = bins.setdefault(int(others / step), [0, 0])
            counts[0] += 1
            counts[1] += s.at in bad
    return [{"others_from": round(k * step, 2), "others_to": round((k + 1) * step, 2), "seconds": n, "missed": m}
            for k, (n, m) in sorted(bins.items())]


def by_others_folders(folders: Sequence[Path], rate: float) -> list[dict[str, Any]]:
    runs = []
    for folder in folders:
        start, seconds = per_second(read_ledger(folder / "ledger"))
        runs.append((seconds, by_second(_jsonl([folder / "samples.jsonl"]), start)))
    return by_others(runs, rate)


def print_after_run(folder: Path, rate: float) -> None:
    """For ``payharness load``: analyse and print, never failing the run it describes."""
    try:
        print(summary(analyse_folder(folder, rate=rate)))
    except (OSError, ValueError, KeyError) as exc:
        print(f"stalls: no analysis ({type(exc).__name__}: {exc})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m load.stalls FOLDER [RATE]``: RATE for a folder without run.json (a bench-load phase);
    ``python -m load.stalls --by-others RATE FOLDER…``: missed seconds by other jobs' cores, over many runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 3 and args[0] == "--by-others" and all(Path(a).is_dir() for a in args[2:]):
        for row in by_others_folders([Path(a) for a in args[2:]], float(args[1])):
            share = row["missed"] / row["seconds"]
            print(f"others {row['others_from']:.1f}-{row['others_to']:.1f} cores: {row['seconds']} s,"
                  f" {row['missed']} missed ({share:.0%})")
        return 0
    if not 1 <= len(args) <= 2 or not Path(args[0]).is_dir():
        print("usage: python -m load.stalls ARTEFACTS_FOLDER [RATE]\n"
              "       python -m load.stalls --by-others RATE ARTEFACTS_FOLDER...", file=sys.stderr)
        return 2
    rate = float(args[1]) if len(args) == 2 else None
    print(summary(analyse_folder(Path(args[0]), rate=rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
