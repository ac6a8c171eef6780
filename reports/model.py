"""Plain data the report is made of: frozen dataclasses parsed from artefacts, and the artefact catalogue.

Every parsed block carries the ``Source`` it came from (the artefact's path relative to the artefacts
folder and the command that writes it), so every number on the page can name and link its file, and a
missing file is shown as "not measured" with the command that would produce it.

Usage::

    src = source_for(Path("artefacts/audit-1"), "defects")
    src.path, src.present, src.command      # "defects.json", True, "payharness defects --artefacts DIR"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# name → (path inside the artefacts folder, command that writes it). DIR stands for the artefacts folder.
# A path may list alternatives separated by "|": the first that exists is read.
ARTEFACTS: dict[str, tuple[str, str]] = {
    "junit": ("junit.xml", "payharness audit (suites step: pytest --junitxml=DIR/junit.xml)"),
    "scenarios": ("scenarios.json", "payharness audit (suites step: pytest --scenarios-json=DIR/scenarios.json)"),
    "coverage": ("coverage.json", "payharness audit (coverage step: coverage combine, coverage json)"),
    "defects": ("defects.json", "payharness defects --artefacts DIR"),
    "load_audit": ("load/audit.json", "payharness load --artefacts DIR/load"),
    "load_stats": ("load/locust_stats.csv", "payharness load --artefacts DIR/load"),
    "load_history": ("load/locust_stats_history.csv", "payharness load --artefacts DIR/load"),
    "load_failures": ("load/locust_failures.csv", "payharness load --artefacts DIR/load"),
    "load_html": ("load/locust.html", "payharness load --artefacts DIR/load"),
    "load_stalls": ("load/stalls.json", "payharness load --artefacts DIR/load (its per-second samples.jsonl and gc/,"
                    " analysed into stalls.json; python -m load.stalls DIR/load analyses a run folder again)"),
    "bench": ("bench.json|bench/bench.json", "payharness bench-load --artefacts DIR/bench"),
    "bench_db": ("bench_db.json", "payharness bench-db --json DIR/bench_db.json"),
    "run": ("run.json", "payharness audit"),
    "mutants": ("mutants.json|mutants/mutants.json", "payharness mutants --artefacts DIR"),
}
# Artefacts only some runs have: absent, they are not "not measured" (a core audit has no seed findings).
OPTIONAL_ARTEFACTS: dict[str, tuple[str, str]] = {
    "seed_findings": ("seed_findings.toml", "payharness audit --target FILE (its findings.toml, or --findings)"),
    "builtin_scenarios": ("builtin_scenarios.json", "payharness audit --target FILE (the core's catalog, each "
                          "scenario with the suite families its tests live in and why they cannot run here)"),
}
# Artefacts only the reference core's audit can produce: they measure the core's own code, so an audit of a
# foreign service (payharness audit --target) shows them as not applicable, with this reason, never as
# "not measured" (a gap) and never as an issue. Its own artefacts (junit, scenarios, load) stay expected.
CORE_ONLY: dict[str, str] = {
    "coverage": "line and branch coverage of the reference core's code (core/); payharness does not instrument "
                "a service it only reaches over HTTP",
    "defects": "defects are seeded into the reference core's code; a foreign service's code cannot be seeded",
    "mutants": "mutation testing mutates the reference core's decision code",
    "bench": "the webhook benchmark measures the reference core against bare asyncpg and pgbench",
    "bench_db": "times payharness's embedded Postgres and the reference core's migrated template",
}


@dataclass(frozen=True)
class Source:
    """An artefact: where it lives (relative to the artefacts folder), who writes it, whether it was read."""

    name: str
    path: str
    command: str
    present: bool
    error: str | None = None  # the file exists but could not be parsed
    not_applicable: str = ""  # why this run cannot produce it (CORE_ONLY in a target audit); empty: it can
    JSON_PROPERTIES = ("usable",)

    @property
    def usable(self) -> bool:
        return self.present and self.error is None

    def failed(self, error: str) -> Source:
        return Source(self.name, self.path, self.command, self.present, error, self.not_applicable)

    def inapplicable(self, reason: str) -> Source:
        """This source, absent and not applicable to the run, with ``reason``."""
        return Source(self.name, self.path, self.command, self.present, self.error, reason)


def source_for(artefacts: Path, name: str) -> Source:
    paths, command = ARTEFACTS[name] if name in ARTEFACTS else OPTIONAL_ARTEFACTS[name]
    candidates = paths.split("|")
    found = next((p for p in candidates if (artefacts / p).is_file()), None)
    return Source(name, found or candidates[0], command, found is not None)


# ------------------------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class CaseResult:
    nodeid: str
    time_s: float
    outcome: str  # passed | failed | error | skipped
    message: str = ""


@dataclass(frozen=True)
class JUnit:
    source: Source
    cases: tuple[CaseResult, ...] = ()

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)


@dataclass(frozen=True)
class ScenarioTest:
    nodeid: str
    outcome: str
    reason: str = ""  # why it was not runnable (a per-gateway run: "the profile gives no [webhooks] efecty")
    JSON_PROPERTIES = ("case",)

    @property
    def case(self) -> str:
        """The parametrised case of the test (``payu`` for ``test_x[payu]``), empty for a plain test."""
        name = self.nodeid.rsplit("::", 1)[-1]
        return name.split("[", 1)[1].removesuffix("]") if name.endswith("]") and "[" in name else ""


@dataclass(frozen=True)
class Scenario:
    id: str
    point: str
    title: str
    origin: str  # the catalog's "source": seed-tested | seed-not-tested | seed-finding | added
    runnable: bool
    reason: str
    status: str  # passed | failed | skipped | not covered | not runnable
    tests: tuple[ScenarioTest, ...] = ()


@dataclass(frozen=True)
class Scenarios:
    source: Source
    scenarios: tuple[Scenario, ...] = ()


@dataclass(frozen=True)
class BuiltinScenarios:
    """The core's own catalog in an audit of a foreign service (``builtin_scenarios.json``).

    Each scenario's status is decided from where its tests live: "not runnable" with the reason of every
    family they live in when none of those families runs against a foreign target.
    """

    source: Source
    catalog: str = ""
    reasons: tuple[tuple[str, str], ...] = ()  # (family, why it cannot run here) for each family that cannot
    scenarios: tuple[Scenario, ...] = ()
    families: dict[str, tuple[str, ...]] = field(default_factory=dict)  # scenario id → where its tests live


# ------------------------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Counts:
    statements: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0
    JSON_PROPERTIES = ("line_pct", "branch_pct", "combined_pct")

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.statements + other.statements,
            self.covered_lines + other.covered_lines,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )

    @property
    def line_pct(self) -> float | None:
        return round(100 * self.covered_lines / self.statements, 1) if self.statements else None

    @property
    def branch_pct(self) -> float | None:
        return round(100 * self.covered_branches / self.branches, 1) if self.branches else None

    @property
    def combined_pct(self) -> float | None:
        """coverage.py's own total with branch=true: covered lines and branches over all of them."""
        whole = self.statements + self.branches
        return round(100 * (self.covered_lines + self.covered_branches) / whole, 1) if whole else None


@dataclass(frozen=True)
class FileCoverage:
    path: str
    counts: Counts


@dataclass(frozen=True)
class ComponentCoverage:
    component: str
    counts: Counts
    files: tuple[FileCoverage, ...]


@dataclass(frozen=True)
class Coverage:
    source: Source
    components: tuple[ComponentCoverage, ...] = ()
    total: Counts = field(default_factory=Counts)


# ------------------------------------------------------------------------------------------- mutation


@dataclass(frozen=True)
class MutantCounts:
    """mutmut's verdicts over some files; score = killed ÷ (total − equivalent), timeouts are not kills."""

    total: int = 0
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    not_run: int = 0
    equivalent: int = 0
    JSON_PROPERTIES = ("score_pct", "judged")

    def __add__(self, other: MutantCounts) -> MutantCounts:
        return MutantCounts(self.total + other.total, self.killed + other.killed, self.survived + other.survived,
                            self.timeout + other.timeout, self.not_run + other.not_run,
                            self.equivalent + other.equivalent)

    @property
    def judged(self) -> int:
        return self.total - self.equivalent

    @property
    def score_pct(self) -> float | None:
        return round(100 * self.killed / self.judged, 1) if self.judged else None


@dataclass(frozen=True)
class MutationRow:
    """A module as ``payharness mutants`` was asked for it, or a coverage component (its files summed)."""

    name: str
    counts: MutantCounts
    files: tuple[str, ...] = ()
    equivalents: tuple[tuple[str, str], ...] = ()  # (change, reason)

    @property
    def status(self) -> str:
        """Inconclusive when mutants of these files were not run: the score is then a lower bound."""
        if not self.counts.total:
            return "not run"
        return "inconclusive" if self.counts.not_run else "measured"

    JSON_PROPERTIES = ("status",)


@dataclass(frozen=True)
class Mutation:
    source: Source
    tool: str = ""
    tool_version: str = ""
    git_commit: str = ""
    duration_s: float | None = None
    budget_s: float | None = None
    stopped: str = ""
    modules: tuple[MutationRow, ...] = ()
    components: tuple[MutationRow, ...] = ()
    total: MutantCounts = field(default_factory=MutantCounts)
    JSON_PROPERTIES = ("status",)

    @property
    def counts(self) -> MutantCounts:
        """The total, under the name a row uses, so one template cell renders both."""
        return self.total

    def component(self, name: str) -> MutationRow | None:
        return next((c for c in self.components if c.name == name), None)

    @property
    def status(self) -> str:
        """Not run without a usable mutants.json; inconclusive when the run was cut short."""
        if not self.source.usable or not self.total.total:
            return "not run"
        return "inconclusive" if self.stopped or self.total.not_run else "measured"


# ------------------------------------------------------------------------------------------- defects


@dataclass(frozen=True)
class DefectRow:
    name: str
    title: str
    finding: str
    severity: str
    kind: str
    failed_tests: tuple[str, ...]
    load_anomalies: tuple[str, ...]
    outcome: str  # caught | missed | inconclusive (harness/defects/matrix.py says when)
    duration_s: float
    junit: str | None = None  # its own JUnit file, relative to the artefacts folder
    reason: str = ""
    caught_by: tuple[str, ...] = ()  # tests that pass on the clean core and fail with the defect
    # The matrix's load part (``payharness defects --load``), None when no load ran for this defect: its verdict
    # (caught | missed | inconclusive), why, and its load/audit.json relative to the artefacts folder.
    load_outcome: str | None = None
    load_reason: str = ""
    load_audit: str | None = None

    @property
    def detected(self) -> bool:
        return self.outcome == "caught"


@dataclass(frozen=True)
class DefectMatrix:
    source: Source
    mode: str = ""
    clean_passed: int = 0
    clean_failed: tuple[str, ...] = ()
    clean_errors: tuple[str, ...] = ()
    defects: tuple[DefectRow, ...] = ()


# ------------------------------------------------------------------------------------------- load


@dataclass(frozen=True)
class LatencyRow:
    """One request name in Locust's stats CSV (milliseconds; None where Locust wrote N/A)."""

    method: str
    name: str
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float


@dataclass(frozen=True)
class HistoryPoint:
    timestamp: int
    users: int
    rps: float
    fps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class FailureRow:
    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class Anomaly:
    kind: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class LoadAudit:
    """The consistency audit and the webhook thresholds, as ``load/audit.json`` has them."""

    source: Source
    audited: bool = False  # the run had an audit (``--no-audit`` leaves only thresholds)
    ok: bool = False
    anomalies: tuple[Anomaly, ...] = ()
    stats: tuple[tuple[str, int], ...] = ()  # flat scalar counters: requests, orders, event_rows, …
    by_role: tuple[tuple[str, int], ...] = ()
    by_code: tuple[tuple[str, int], ...] = ()
    requests: int = 0
    failures: int = 0
    error_ratio: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    breaches: tuple[str, ...] = ()
    rate: float | None = None
    mix: str = ""


@dataclass(frozen=True)
class LoadStats:
    source: Source
    rows: tuple[LatencyRow, ...] = ()


@dataclass(frozen=True)
class LoadHistory:
    source: Source
    points: tuple[HistoryPoint, ...] = ()


@dataclass(frozen=True)
class LoadFailures:
    source: Source
    rows: tuple[FailureRow, ...] = ()


@dataclass(frozen=True)
class StallEpisode:
    """Consecutive seconds whose webhooks missed the p99 limit or the offered rate, as load/stalls.py found them.

    ``kinds`` counts, per kind of suspect (``gc pause``, ``autovacuum``, ``pg waits LWLock:WALWrite``…), the
    seconds of the episode's ``span_seconds`` (its look-back seconds included) whose samples showed it."""

    first: int  # seconds from the run's first webhook
    last: int
    worst_p99_ms: float
    lowest_sent: int | None  # the fewest webhooks sent in one of its seconds (None: not in the artefact)
    span_seconds: int
    kinds: tuple[tuple[str, int], ...] = ()
    suspects: tuple[str, ...] = ()  # "s41: gc pause 92 ms (gen2 x1)"


@dataclass(frozen=True)
class SignalMedians:
    """One sampled signal's median over the missed seconds and over the good ones (None: never sampled)."""

    signal: str
    missed: float | None
    good: float | None


@dataclass(frozen=True)
class StallRun:
    """One run's ``stalls.json``: the load run's, or a bench-load phase's (``label`` names which)."""

    source: Source
    label: str
    rate: float | None = None  # offered webhooks/s the seconds were judged against
    p99_limit_ms: float | None = None
    share: float | None = None  # a second below share x rate missed
    trim_start: int | None = None  # first and last seconds not judged (spawning, the partial end); None: not said
    trim_end: int | None = None
    seconds: int = 0  # seconds of webhooks analysed
    sampled_seconds: int = 0  # of them with a line of samples.jsonl
    gc_seconds: int = 0  # with the core's GC counters
    missed: tuple[int, ...] = ()
    episodes: tuple[StallEpisode, ...] = ()
    compare: tuple[SignalMedians, ...] = ()
    JSON_PROPERTIES = ("status", "judged_seconds")

    @property
    def judged_seconds(self) -> int:
        """The seconds a stall could be found in: the spawning and the last, partial second are left out."""
        return max(0, self.seconds - (self.trim_start or 0) - (self.trim_end or 0))

    @property
    def status(self) -> str:
        """not measured | unreadable | stalls found | none found."""
        if not self.source.present:
            return "not measured"
        if self.source.error:
            return "unreadable"
        return "stalls found" if self.missed else "none found"


# ------------------------------------------------------------------------------------------- benchmarks


@dataclass(frozen=True)
class Target:
    """A limit on one figure of a row: ``on`` is p50 | p95 | p99 | value; ``basis`` says where it comes from."""

    on: str
    limit: float
    basis: str
    higher_is_better: bool = False

    def met(self, measured: float) -> bool:
        return measured >= self.limit if self.higher_is_better else measured <= self.limit


@dataclass(frozen=True)
class PerfFigure:
    """One measured operation: latency percentiles in ms, or one ``value`` (a rate, a ratio) in ``unit``."""

    operation: str
    unit: str  # "ms", "/s", "ratio"
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    value: float | None = None
    targets: tuple[Target, ...] = ()
    note: str = ""
    lower_bound: str = ""  # why ``value`` is only a lower bound ("budget ended"); empty when it was measured

    def measured(self, on: str) -> float | None:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "value": self.value}.get(on)


@dataclass(frozen=True)
class Bench:
    source: Source
    figures: tuple[PerfFigure, ...] = ()


@dataclass(frozen=True)
class PacedPair:
    """The core and the bare endpoint paced at the same offered rate in one run (``bench-load --bare-paced``):
    each part's CPU per webhook where neither is batched by an overload, as the ceilings are."""

    rate: float
    core_cost_ms: tuple[tuple[str, float], ...]
    bare_cost_ms: tuple[tuple[str, float], ...]
    core_held: bool
    bare_held: bool
    # With --verified: the verified endpoint (the core's work without its HTTP layer) at the same rate, if it ran it
    verified_cost_ms: tuple[tuple[str, float], ...] = ()
    verified_held: bool | None = None


@dataclass(frozen=True)
class CeilingRun:
    """One ``bench.json``: how the machine was split, and the core's unpaced ceiling with its CPU per webhook.

    ``cost_ms`` is CPU milliseconds per answered webhook by part of the stack over the ceiling's steady
    window (the median round); ``others_cores`` the cores other jobs used meanwhile, ``load1`` the load
    average then (or at the benchmark's start, for an artefact without samples)."""

    source: Source
    label: str
    machine_cpus: int
    core_workers: int
    stack_cpus: int | None = None  # CPUs the stack was pinned to; None: not pinned
    generator_cpus: int | None = None
    locust_processes: int = 1
    ceiling: float | None = None
    cost_ms: tuple[tuple[str, float], ...] = ()
    others_cores: float | None = None
    load1: float | None = None
    sustained: float | None = None
    sustained_is_lower_bound: bool = False
    # What each part costs at its own bare minimum, in the same run (the floor, reports/floor.py): the bare
    # endpoint's unpaced ceiling (the core's statements behind bare Starlette, its median round) and Locust
    # against a null endpoint (the generator phase).
    bare_ceiling: float | None = None
    bare_cost_ms: tuple[tuple[str, float], ...] = ()
    null_generator_ms: float | None = None
    sustained_unconfirmed: bool = False
    ratio_sustained_to_bare: float | None = None
    target_rate: float | None = None
    target_ratio: float | None = None
    # bench-load --bare-paced: what the bare endpoint itself held paced the same way (None: not run or none held)
    bare_paced_sustained: float | None = None
    ratio_bare_paced_to_bare: float | None = None
    bare_paced_is_lower_bound: bool = False
    # bench-load --verified: the core's checks and recording without its HTTP layer, unpaced and (with --bare-paced)
    # paced; whether it held under the target share of the bare ceiling (None: not known)
    verified_ceiling: float | None = None
    verified_paced_sustained: float | None = None
    ratio_verified_paced_to_bare: float | None = None
    verified_paced_is_lower_bound: bool = False
    receiver_floor_below_target: bool | None = None
    # The search's steps at rates both the core and the bare endpoint were offered, in the order run
    paced_pairs: tuple[PacedPair, ...] = ()


@dataclass(frozen=True)
class CapacityRuns:
    """The reference ``bench.json`` the model is built from, and the runs it is checked against."""

    source: Source
    reference: CeilingRun | None = None
    checks: tuple[CeilingRun, ...] = ()


# ------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class RunStep:
    name: str
    command: str
    exit_code: int | None
    duration_s: float
    artefacts: tuple[str, ...]


@dataclass(frozen=True)
class RunInfo:
    source: Source
    started_at: str = ""
    finished_at: str = ""
    duration_s: float | None = None
    git_commit: str = ""
    quick: bool = False
    machine: tuple[tuple[str, str], ...] = ()
    steps: tuple[RunStep, ...] = ()
    target: str = ""  # the audited service's profile name (payharness audit --target); empty for the core


# ------------------------------------------------------------------------------------------- the seed's findings


@dataclass(frozen=True)
class SeedFinding:
    """One finding of the seed report, as an examples/*/findings.toml maps it to portable scenarios."""

    id: str
    title: str
    seed_section: str
    seed_severity: str
    seed_tested: bool
    scenarios: tuple[str, ...]
    note: str = ""  # why the mapping is what it is (why no black-box scenario can see it, when none)


@dataclass(frozen=True)
class SeedFindings:
    source: Source
    findings: tuple[SeedFinding, ...] = ()


@dataclass(frozen=True)
class Artefacts:
    """Everything read from one artefacts folder, before any judgement."""

    root: str
    junit: JUnit
    scenarios: Scenarios
    coverage: Coverage
    defects: DefectMatrix
    load_audit: LoadAudit
    load_stats: LoadStats
    load_history: LoadHistory
    load_failures: LoadFailures
    load_html: Source
    bench: Bench
    bench_db: Bench
    run: RunInfo
    mutation: Mutation
    seed_findings: SeedFindings | None = None  # only an audit of a profiled service has them
    builtin: BuiltinScenarios | None = None  # only an audit of a profiled service reads them
    capacity: CapacityRuns | None = None
    # The load run's stall analysis first (absent: not measured), then any bench-load phase's that exists.
    stalls: tuple[StallRun, ...] = ()

    def sources(self) -> dict[str, Source]:
        """Each artefact's ``Source`` as its parser left it (present, absent or unreadable), by name."""
        blocks = (
            self.junit,
            self.scenarios,
            self.coverage,
            self.defects,
            self.load_audit,
            self.load_stats,
            self.load_history,
            self.load_failures,
            self.bench,
            self.bench_db,
            self.run,
            self.mutation,
        )
        found = {b.source.name: b.source for b in blocks}
        found[self.load_html.name] = self.load_html
        if self.seed_findings is not None:
            found["seed_findings"] = self.seed_findings.source
        if self.builtin is not None:
            found["builtin_scenarios"] = self.builtin.source
        for run in self.stalls:
            if run.source.name == "load_stalls":
                found[run.source.name] = run.source
        return found
