"""Parse what the capacity model needs from ``bench.json`` files: the reference one and ``capacity/*/bench.json``.

Each file gives one ``CeilingRun``: the machine's CPUs, the core's worker count, how the benchmark pinned
the stack and the generator (``cpus``), and its core ceiling (the median round) with CPU per webhook by
part. Nothing is computed here but unit conversions; the model is reports/capacity.py.

Usage::

    runs = parse_capacity(Path("artefacts/audit-1"))
    runs.reference.cost_ms, [c.label for c in runs.checks]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.model import CapacityRuns, CeilingRun, PacedPair, Source, source_for
from reports.parse_tests import PARSE_ERRORS, read_json

# The runs the model is checked against, one folder each (not one of the catalogue's artefacts: any number).
CHECKS = "capacity"
CHECK_COMMAND = ("payharness bench-load --artefacts DIR/capacity/NAME"
                 " [--core-workers 1 | --stack-cpus 0 --generator-cpus 1]")


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cpu_count(text: str | None) -> int | None:
    """How many CPUs a taskset list such as ``0,2-3`` names; None when not pinned."""
    if not text:
        return None
    found: set[int] = set()
    for part in str(text).split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return len(found)


def _decided(value: Any) -> bool | None:
    """A yes/no the benchmark decided, or None (not decided, or not a boolean at all)."""
    return value if isinstance(value, bool) else None


def _costs(phase: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    """A phase's CPU milliseconds per answered request by part, sorted by part."""
    return tuple(sorted((str(k), float(v)) for k, v in (phase.get("cpu_ms_per_request") or {}).items()))


def _first_by_rate(steps: list[dict[str, Any]]) -> dict[float, dict[str, Any]]:
    """Paced steps with CPU by part, by offered rate, in the order run; the first counts when a search came back."""
    found: dict[float, dict[str, Any]] = {}
    for step in steps:
        rate = _float(step.get("offered"))
        if rate and step.get("cpu_ms_per_request"):
            found.setdefault(rate, step)
    return found


def paced_pairs(data: dict[str, Any]) -> tuple[PacedPair, ...]:
    """The core's search steps and the bare endpoint's (``bare_paced``) at the same offered rate, each with CPU by
    part, in the order the core ran them."""
    bare = _first_by_rate((data.get("bare_paced") or {}).get("steps") or [])
    verified = _first_by_rate((data.get("verified_paced") or {}).get("steps") or [])
    return tuple(PacedPair(rate, _costs(step), _costs(bare[rate]), bool(step.get("held")), bool(bare[rate].get("held")),
                           _costs(verified.get(rate) or {}),
                           bool(verified[rate].get("held")) if rate in verified else None)
                 for rate, step in _first_by_rate(data.get("steps") or []).items() if rate in bare)


def ceiling_run(data: dict[str, Any], source: Source, label: str) -> CeilingRun:
    """One bench.json as a ``CeilingRun`` (a benchmark without a core ceiling gives ``ceiling`` None)."""
    machine = data.get("machine") or {}
    ceiling = data.get("core_ceiling") or {}
    bare = data.get("bare_ceiling") or {}
    result = data.get("result") or {}
    cpus = data.get("cpus") or {}
    load = machine.get("load_average") or [None]
    load1 = _float(ceiling.get("load1"))
    return CeilingRun(
        source=source,
        label=label,
        machine_cpus=int(machine.get("cpus") or 1),
        core_workers=int(data.get("core_workers") or 1),
        stack_cpus=cpu_count(cpus.get("stack")),
        generator_cpus=cpu_count(cpus.get("generator")),
        locust_processes=max(1, int(ceiling.get("locust_workers") or 0)),
        ceiling=_float(ceiling.get("achieved")) or None,
        cost_ms=_costs(ceiling),
        others_cores=_float(ceiling.get("others_cores")),
        load1=load1 if load1 is not None else _float(load[0]),
        sustained=_float(result.get("sustained_rate")),
        sustained_is_lower_bound=bool(result.get("sustained_is_lower_bound")),
        bare_ceiling=_float(bare.get("achieved")) or None,
        bare_cost_ms=_costs(bare),
        null_generator_ms=dict(_costs(data.get("generator") or {})).get("generator"),
        sustained_unconfirmed=bool(result.get("sustained_unconfirmed")),
        ratio_sustained_to_bare=_float(result.get("ratio_sustained_to_bare")),
        target_rate=_float((result.get("target") or {}).get("rate")),
        target_ratio=_float((result.get("target") or {}).get("ratio")),
        bare_paced_sustained=_float(result.get("bare_paced_sustained")),
        ratio_bare_paced_to_bare=_float(result.get("ratio_bare_paced_to_bare")),
        bare_paced_is_lower_bound=bool(result.get("bare_paced_is_lower_bound")),
        verified_ceiling=_float(result.get("verified_ceiling")),
        verified_paced_sustained=_float(result.get("verified_paced_sustained")),
        ratio_verified_paced_to_bare=_float(result.get("ratio_verified_paced_to_bare")),
        verified_paced_is_lower_bound=bool(result.get("verified_paced_is_lower_bound")),
        receiver_floor_below_target=_decided(result.get("receiver_floor_below_target")),
        paced_pairs=paced_pairs(data),
    )


def parse_capacity(artefacts: Path) -> CapacityRuns:
    """The reference (``bench.json`` or ``bench/bench.json``) and every ``capacity/<name>/bench.json``."""
    source = source_for(artefacts, "bench")
    reference = None
    if source.present:
        try:
            reference = ceiling_run(read_json(artefacts / source.path), source, "reference")
        except PARSE_ERRORS as exc:
            source = source.failed(f"{type(exc).__name__}: {exc}")
    checks = []
    for path in sorted((artefacts / CHECKS).glob("*/bench.json")):
        check = Source("capacity", path.relative_to(artefacts).as_posix(), CHECK_COMMAND, True)
        try:
            checks.append(ceiling_run(read_json(path), check, path.parent.name))
        except PARSE_ERRORS:
            continue  # an unreadable check is left out; the reference's own source reports errors
    return CapacityRuns(source, reference, tuple(checks))
