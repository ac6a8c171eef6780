"""The capacity model: webhooks/s from each part's measured CPU per webhook, for this machine and bigger ones.

Every input is a figure of a ``bench.json`` (the core's unpaced ceiling, its median round): CPU
milliseconds per answered webhook for the core, Postgres, the generator and the simulators. The model:

* one CPU of a part serves ``1000 / ms`` webhooks/s;
* parts that share CPUs share them: a group of ``c`` CPUs running parts costing ``Σ ms`` serves at most
  ``c · 1000 / Σ ms`` webhooks/s;
* a single-threaded process uses at most one CPU: the core's ``W`` workers at most ``W · 1000 / core ms``,
  ``L`` Locust processes at most ``L · 1000 / generator ms``;
* the rate is the lowest of those limits, and the limit that set it is named. That is a *ceiling*
  (unpaced, queues full); the rate held at p99 < 100 ms is a share of it, which the reference run measured
  (``headroom`` = sustained ÷ core ceiling) and the model carries over unchanged.

It is checked against the other ``capacity/*/bench.json`` runs (1 core worker instead of 2, the
generator on its own CPU): each predicted with the reference's costs and that run's placement, and, on
a shared machine, again with the CPUs other jobs took meanwhile removed from every group in proportion.

Usage::

    model = capacity_model(runs)               # runs: reports.model.CapacityRuns
    [(r.label, r.predicted, r.measured, r.error_pct) for r in model.checks]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reports.model import CapacityRuns, CeilingRun, Source

# The parts a webhook costs ("other": the benchmark's own process, its meters); the bare endpoint is not one.
MODEL_ROLES = ("core", "postgres", "generator", "simulators", "other")
MACHINE_SIZES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Group:
    """CPUs shared by some parts of the stack."""

    cpus: float
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    rate: float
    bound: str  # the limit that set the rate
    limits: tuple[tuple[str, float], ...]


def per_cpu(ms: float) -> float:
    """Webhooks/s one CPU of a part serves, at ``ms`` CPU milliseconds per webhook."""
    return 1000.0 / ms


def predict(cost_ms: Mapping[str, float], groups: Sequence[Group], caps: Mapping[str, float]) -> Prediction:
    """The ceiling the CPUs allow: the lowest of every group's and every capped part's limit.

    ``caps`` gives, per part, the CPUs it can use at most (its single-threaded processes)."""
    limits: dict[str, float] = {}
    for group in groups:
        spent = sum(cost_ms.get(role, 0.0) for role in group.roles)
        if spent > 0:
            parts = "+".join(r for r in group.roles if cost_ms.get(r))
            limits[f"{group.cpus:.3g} CPU for {parts}"] = group.cpus * per_cpu(spent)
    for role, cpus in caps.items():
        if cost_ms.get(role):
            limits[f"{cpus:g} {role} process{'es' if cpus != 1 else ''}"] = cpus * per_cpu(cost_ms[role])
    if not limits:
        raise ValueError("no part has a measured cost")
    bound = min(limits, key=lambda k: limits[k])
    return Prediction(round(limits[bound], 1), bound, tuple((k, round(v, 1)) for k, v in limits.items()))


def placement(run: CeilingRun, roles: Sequence[str], *,
              others_cores: float = 0.0) -> tuple[list[Group], dict[str, float]]:
    """The CPU groups and process caps of a benchmark run; ``others_cores`` (other jobs' CPU) is taken from
    every group in proportion to its size."""
    spare = max(0.0, 1.0 - others_cores / run.machine_cpus)
    if run.stack_cpus and run.generator_cpus:
        stack = tuple(r for r in roles if r != "generator")
        groups = [Group(run.stack_cpus * spare, stack), Group(run.generator_cpus * spare, ("generator",))]
    else:
        groups = [Group(run.machine_cpus * spare, tuple(roles))]
    return groups, {"core": float(run.core_workers), "generator": float(run.locust_processes)}


@dataclass(frozen=True)
class MachineRow:
    """Parts on separate machines of ``cores`` CPUs each (one core worker per CPU): what each serves."""

    cores: int
    core_machine: float  # webhooks/s, ceiling
    postgres_machine: float
    generator_machine: float | None  # None: the generator's cost was not measured
    ceiling: float  # the lower of the core's and Postgres's
    sustained: float | None  # ceiling x the reference's headroom
    source: Source


@dataclass(frozen=True)
class CheckRow:
    """A benchmark run predicted from the reference's costs, against its measured core ceiling."""

    label: str
    setup: str
    predicted: float
    bound: str
    predicted_shared: float | None  # with the CPUs other jobs took meanwhile removed
    measured: float | None
    error_pct: float | None  # (measured - predicted) / predicted
    error_shared_pct: float | None
    others_cores: float | None
    load1: float | None
    sources: tuple[Source, ...]
    # The rate held at p99 < 100 ms: the prediction x the reference's headroom, against the run's own sustained
    # rate (a lower bound when its search ended before any step failed: then no error is given).
    predicted_sustained: float | None = None
    measured_sustained: float | None = None
    sustained_is_lower_bound: bool = False
    sustained_error_pct: float | None = None


@dataclass(frozen=True)
class Configuration:
    """A placement the model is to be checked on (issue 16), and the runs (labels) that measured it."""

    name: str
    runs: tuple[str, ...]
    command: str  # what measures it, shown when no run did


@dataclass(frozen=True)
class CapacityModel:
    source: Source
    cost_ms: tuple[tuple[str, float], ...]
    per_cpu: tuple[tuple[str, float], ...]  # webhooks/s per CPU of each part
    reference_ceiling: float | None
    reference_load1: float | None
    headroom: float | None  # sustained / ceiling in the reference run
    machines: tuple[MachineRow, ...]
    checks: tuple[CheckRow, ...]
    configurations: tuple[Configuration, ...] = ()
    JSON_PROPERTIES = ("mean_abs_error_pct", "worst_check")

    @property
    def mean_abs_error_pct(self) -> float | None:
        """How far the ceilings' predictions were from their measurements, on average (None: nothing measured)."""
        errors = [abs(c.error_pct) for c in self.checks if c.error_pct is not None]
        return round(sum(errors) / len(errors), 1) if errors else None

    @property
    def worst_check(self) -> CheckRow | None:
        measured = [c for c in self.checks if c.error_pct is not None]
        return max(measured, key=lambda c: abs(c.error_pct or 0.0)) if measured else None


def _error(measured: float | None, predicted: float | None) -> float | None:
    if measured is None or not predicted:
        return None
    return round(100.0 * (measured - predicted) / predicted, 1)


def setup_text(run: CeilingRun) -> str:
    where = (f"stack on {run.stack_cpus} CPU, generator on {run.generator_cpus}"
             if run.stack_cpus and run.generator_cpus else f"all on {run.machine_cpus} CPUs")
    return f"{run.core_workers} core worker{'s' if run.core_workers != 1 else ''}, {where}"


def check(reference_cost: Mapping[str, float], run: CeilingRun, sources: tuple[Source, ...],
          headroom: float | None = None) -> CheckRow:
    roles = tuple(reference_cost)
    groups, caps = placement(run, roles)
    plain = predict(reference_cost, groups, caps)
    shared = None
    if run.others_cores is not None:
        groups, caps = placement(run, roles, others_cores=run.others_cores)
        shared = predict(reference_cost, groups, caps).rate
    held = round(plain.rate * headroom, 1) if headroom else None
    return CheckRow(run.label, setup_text(run), plain.rate, plain.bound, shared, run.ceiling,
                    _error(run.ceiling, plain.rate), _error(run.ceiling, shared), run.others_cores, run.load1, sources,
                    predicted_sustained=held, measured_sustained=run.sustained,
                    sustained_is_lower_bound=run.sustained_is_lower_bound,
                    sustained_error_pct=None if run.sustained_is_lower_bound else _error(run.sustained, held))


def _pinned(run: CeilingRun) -> bool:
    return bool(run.stack_cpus and run.generator_cpus)


# What issue 16 asks the model to be checked on: 1 vs 2 core workers, the generator on vs off the measured CPUs.
CONFIGURATIONS: tuple[tuple[str, Callable[[CeilingRun], bool], str], ...] = (
    ("2 core workers, generator on the same CPUs", lambda r: r.core_workers == 2 and not _pinned(r),
     "payharness bench-load --artefacts DIR/bench"),
    ("1 core worker, generator on the same CPUs", lambda r: r.core_workers == 1 and not _pinned(r),
     "payharness bench-load --artefacts DIR/capacity/one-worker --core-workers 1"),
    ("generator off the measured CPUs (taskset)", _pinned,
     "payharness bench-load --artefacts DIR/capacity/pinned --stack-cpus 0 --generator-cpus 1"),
)


def configurations(runs: Sequence[CeilingRun]) -> tuple[Configuration, ...]:
    """Each configuration with the runs that measured it (their core ceiling, not only their placement)."""
    return tuple(Configuration(name, tuple(r.label for r in runs if r.ceiling and fits(r)), command)
                 for name, fits, command in CONFIGURATIONS)


def machines(cost: Mapping[str, float], headroom: float | None, source: Source,
             sizes: Sequence[int] = MACHINE_SIZES) -> tuple[MachineRow, ...]:
    rows = []
    for n in sizes:
        core = n * per_cpu(cost["core"])
        pg = n * per_cpu(cost["postgres"])
        gen = round(n * per_cpu(cost["generator"]), 1) if cost.get("generator") else None
        ceiling = min(core, pg)
        rows.append(MachineRow(n, round(core, 1), round(pg, 1), gen, round(ceiling, 1),
                               round(ceiling * headroom, 1) if headroom else None, source))
    return tuple(rows)


def capacity_model(runs: CapacityRuns | None) -> CapacityModel | None:
    """The model from the reference run, checked against every run (the reference included); None when the
    reference has no core ceiling with CPU by part."""
    ref = runs.reference if runs else None
    if runs is None or ref is None or not ref.ceiling:
        return None
    cost = {role: ms for role, ms in ref.cost_ms if role in MODEL_ROLES}
    if not cost.get("core") or not cost.get("postgres"):
        return None
    headroom = round(ref.sustained / ref.ceiling, 3) if ref.sustained and not ref.sustained_is_lower_bound else None
    checks = tuple(check(cost, run, (ref.source, run.source), headroom) for run in (ref, *runs.checks))
    return CapacityModel(
        source=ref.source,
        cost_ms=tuple(cost.items()),
        per_cpu=tuple((role, round(per_cpu(ms), 1)) for role, ms in cost.items() if ms),
        reference_ceiling=ref.ceiling,
        reference_load1=ref.load1,
        headroom=headroom,
        machines=machines(cost, headroom, ref.source),
        checks=checks,
        configurations=configurations((ref, *runs.checks)),
    )
