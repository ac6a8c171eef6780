"""Where the floor is: each part's CPU per webhook at the core's ceiling against its own bare minimum.

Issue 16 asks for 1,000 webhooks/s at p99 < 100 ms on two cores, or, where two cores cannot get there, the
profile that proves where the floor is. Everything here is a figure of one ``bench.json`` (the reference run
of the capacity model), all measured in the same run:

* the **core** at its unpaced ceiling against the **bare endpoint** at its own (the core's statements behind
  bare Starlette, with the same workers, pool and session settings): what the core's own code adds;
* **Postgres** serving the core against Postgres serving the bare endpoint's same statements;
* the **generator** sending to the core against Locust sending to a null endpoint (the benchmark's
  generator phase): the cost of sending alone.

The path's CPU per webhook over the machine's CPUs bounds the unpaced rate (``cpus · 1000 / ms``); the same
with every part at its minimum bounds what *any* implementation of these statements could reach on this
machine with this generator on it. When even that bound, times the share of the ceiling the reference held
at p99 < 100 ms, is under the target, the target is beyond this machine, not only beyond the core.

The ratio target (the core's paced rate ÷ the bare endpoint's unpaced ceiling) is two factors of the same run: the
core's ceiling ÷ the bare endpoint's (``ceiling_ratio``) times the share of its own ceiling the core holds paced
(``headroom``). With ``--bare-paced`` the bare endpoint is searched and held paced too: the share *it* holds is
that second factor's floor, and its search's steps set beside the core's at the same offered rates (``paced``)
give each part's CPU per webhook where neither is batched by an overload, as the ceilings are.

Usage::

    floor = floor_profile(parse_capacity(Path("artefacts/audit-1")))
    [(r.part, r.measured_ms, r.minimum_ms) for r in floor.rows], floor.limit_at_minimum
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.model import CapacityRuns, PacedPair, Source

# (part, its role at the core's ceiling, where its minimum comes from, what that minimum is)
PARTS = (
    ("core", "core", "bare", "the core's statements behind a bare Starlette endpoint (bare ceiling)"),
    ("Postgres", "postgres", "postgres", "Postgres serving the bare endpoint's same statements (bare ceiling)"),
    ("generator", "generator", "null", "Locust sending to a null endpoint (generator phase)"),
)
# Measured at the ceiling but on no webhook's path: the simulators idle (the benchmark sends Wompi events
# only), "other" is the benchmark's own process and its meters.
OFF_PATH = ("simulators", "other")


@dataclass(frozen=True)
class FloorRow:
    part: str
    measured_ms: float  # CPU ms per webhook at the core's unpaced ceiling
    minimum_ms: float | None  # the same part at its own bare minimum; None: none measured
    minimum_is: str
    JSON_PROPERTIES = ("excess_ms",)

    @property
    def excess_ms(self) -> float | None:
        return None if self.minimum_ms is None else round(self.measured_ms - self.minimum_ms, 3)


@dataclass(frozen=True)
class PacedRow:
    """The core and the bare endpoint at one offered rate, paced: each part's CPU ms per webhook, the app
    (the core or the bare endpoint), Postgres under it and the generator sending to it."""

    rate: float
    app_ms: tuple[float | None, float | None]  # (core, bare endpoint)
    postgres_ms: tuple[float | None, float | None]
    generator_ms: tuple[float | None, float | None]
    held: tuple[bool, bool]
    # With --verified: the verified endpoint's own CPU at this rate (the core's work without its HTTP layer)
    verified_app_ms: float | None = None
    verified_held: bool | None = None
    JSON_PROPERTIES = ("path_ms", "app_excess_ms", "http_layer_ms", "receiver_work_ms")

    @property
    def path_ms(self) -> tuple[float | None, float | None]:
        """The three parts together, for the core and for the bare endpoint (None when one was not measured)."""
        def total(i: int) -> float | None:
            parts = (self.app_ms[i], self.postgres_ms[i], self.generator_ms[i])
            return None if any(p is None for p in parts) else round(sum(p or 0.0 for p in parts), 3)
        return total(0), total(1)

    @property
    def app_excess_ms(self) -> float | None:
        core, bare = self.app_ms
        return None if core is None or bare is None else round(core - bare, 3)


    @property
    def http_layer_ms(self) -> float | None:
        """Of the core's excess, what its HTTP layer costs (FastAPI, the core's middleware): core − verified."""
        core = self.app_ms[0]
        return None if core is None or self.verified_app_ms is None else round(core - self.verified_app_ms, 3)

    @property
    def receiver_work_ms(self) -> float | None:
        """Of the core's excess, the receiver's own work above the SQL (checks, state machine, recording):
        verified − bare."""
        bare = self.app_ms[1]
        return None if bare is None or self.verified_app_ms is None else round(self.verified_app_ms - bare, 3)


def paced_row(pair: PacedPair) -> PacedRow:
    core, bare = dict(pair.core_cost_ms), dict(pair.bare_cost_ms)
    # Its own role since 2026-12-05's third round; in the runs before, the CPU meter counted it as "bare"
    verified_cost = dict(pair.verified_cost_ms)
    verified = verified_cost.get("verified", verified_cost.get("bare"))
    return PacedRow(pair.rate, (core.get("core"), bare.get("bare")), (core.get("postgres"), bare.get("postgres")),
                    (core.get("generator"), bare.get("generator")), (pair.core_held, pair.bare_held),
                    verified, pair.verified_held)


@dataclass(frozen=True)
class Floor:
    source: Source
    machine_cpus: int
    rows: tuple[FloorRow, ...]
    off_path_ms: float  # simulators and the benchmark's own process, at the core's ceiling
    core_ceiling: float
    bare_ceiling: float | None
    headroom: float | None  # sustained ÷ core ceiling in this run (None: no confirmed sustained rate)
    sustained: float | None
    sustained_note: str  # "" | "unconfirmed" | "lower bound"
    ratio_sustained_to_bare: float | None
    target_rate: float | None
    target_ratio: float | None = None
    bare_paced_sustained: float | None = None  # bench-load --bare-paced: the bare endpoint's own held rate
    ratio_bare_paced_to_bare: float | None = None
    bare_paced_is_lower_bound: bool = False  # its search ended before a rate failed: the share is at least that
    paced: tuple[PacedRow, ...] = ()  # the core and the bare endpoint paced at the same rates (--bare-paced)
    # --verified: the core's checks and recording without its HTTP layer (load/bare.py), as a yardstick
    verified_ceiling: float | None = None
    verified_paced_sustained: float | None = None
    ratio_verified_paced_to_bare: float | None = None
    verified_paced_is_lower_bound: bool = False
    receiver_floor_below_target: bool | None = None
    JSON_PROPERTIES = ("path_ms", "minimum_path_ms", "limit_at_measured", "limit_at_minimum", "held_at_minimum",
                       "budget_ms", "verdict", "ceiling_ratio", "share_needed", "ratio_verdict", "receiver_verdict")

    @property
    def path_ms(self) -> float:
        return round(sum(r.measured_ms for r in self.rows), 3)

    @property
    def minimum_path_ms(self) -> float | None:
        """The path with every part at its minimum; None when a part's minimum was not measured."""
        if any(r.minimum_ms is None for r in self.rows):
            return None
        return round(sum(r.minimum_ms or 0.0 for r in self.rows), 3)

    def limit(self, ms: float | None) -> float | None:
        """The unpaced rate the machine's CPUs allow at ``ms`` of CPU per webhook."""
        return None if not ms else round(self.machine_cpus * 1000.0 / ms, 1)

    @property
    def limit_at_measured(self) -> float | None:
        return self.limit(self.path_ms)

    @property
    def limit_at_minimum(self) -> float | None:
        return self.limit(self.minimum_path_ms)

    @property
    def held_at_minimum(self) -> float | None:
        """The minimum's limit times the share of the ceiling this run held at p99 < 100 ms."""
        limit = self.limit_at_minimum
        return None if limit is None or self.headroom is None else round(limit * self.headroom, 1)

    @property
    def budget_ms(self) -> float | None:
        """CPU per webhook the whole path may cost for the target rate on these CPUs, with no headroom."""
        return None if not self.target_rate else round(self.machine_cpus * 1000.0 / self.target_rate, 3)

    @property
    def verdict(self) -> str:
        """Whether the target is beyond this machine even at every part's minimum, from the figures above."""
        target, limit, held = self.target_rate, self.limit_at_minimum, self.held_at_minimum
        if not target or limit is None:
            return "not decided: a part's bare minimum or the target was not measured in this run"
        if limit < target:
            return (f"beyond this machine: even with every part at its bare minimum its {self.machine_cpus} CPUs "
                    f"allow {limit:g}/s unpaced, under the target {target:g}/s")
        if held is not None and held < target:
            return (f"beyond this machine at p99 < 100 ms: at every part's minimum the CPUs allow {limit:g}/s "
                    f"unpaced, and this run held {self.headroom:g} of its ceiling ({held:g}/s), under {target:g}/s")
        at_held = f", {held:g}/s at the share of the ceiling this run held" if held is not None else ""
        return (f"within this machine's CPUs at the bare minimum ({limit:g}/s unpaced{at_held}): the gap is the "
                "parts' cost above their minimum")


    @property
    def ceiling_ratio(self) -> float | None:
        """The core's unpaced ceiling ÷ the bare endpoint's. The ratio target is this times the share of its own
        ceiling the core holds paced (``headroom``)."""
        return None if not self.bare_ceiling else round(self.core_ceiling / self.bare_ceiling, 3)

    @property
    def share_needed(self) -> float | None:
        """The share of its own ceiling the core would have to hold paced to meet the ratio target, its ceiling
        ratio being what it is in this run."""
        ratio = self.ceiling_ratio
        return None if self.target_ratio is None or not ratio else round(self.target_ratio / ratio, 3)

    @property
    def ratio_verdict(self) -> str:
        """Whether the ratio target (the core's paced rate ÷ the bare endpoint's unpaced ceiling) is within what
        the bare endpoint itself holds paced on this machine — the ratio's own floor. First, whether the core's own
        unpaced ceiling is already under the target: no paced rate holds more than the ceiling. Then, the target
        being ``ceiling_ratio`` times the share of its own ceiling the core holds, whether that share would have to
        exceed the one the bare endpoint — the same statements with nothing of the core's on top — held of its own:
        the leaner app's headroom stands for the most the core's can be, on the same machine paced the same way."""
        needed = self.share_needed
        if needed is not None and needed > 1:
            return (f"beyond the core's own ceiling: unpaced, the core reached {self.ceiling_ratio:g} of the bare "
                    f"ceiling, under the target {self.target_ratio:g}; the target would need it to hold {needed:g} of "
                    "that ceiling paced, and no paced rate holds more than the ceiling")
        if self.target_ratio is None or self.ratio_bare_paced_to_bare is None:
            return ("not measured: the bare endpoint was not paced in this run (`payharness bench-load --bare-paced`)"
                    if self.bare_paced_sustained is None else "not decided: no target ratio in the run")
        share, target = self.ratio_bare_paced_to_bare, self.target_ratio
        if self.bare_paced_is_lower_bound and share < target:
            return (f"not decided: the bare endpoint held at least {share:g} of its own ceiling paced (its search "
                    "ended before a rate failed)")
        if share < target:
            return (f"beyond the floor: the bare endpoint itself, paced the same way, held {share:g} of its own "
                    f"ceiling, under the target {target:g}")
        held = self.headroom
        held_text = f" (it held {held:g})" if held is not None else ""
        if needed is not None and needed > share:
            return (f"beyond the floor: at {self.ceiling_ratio:g} of the bare ceiling unpaced, the core would have to "
                    f"hold {needed:g} of its own ceiling paced{held_text}, more than the bare endpoint itself, paced "
                    f"the same way, held of its own ({share:g})")
        core = (f"; the core, at {self.ceiling_ratio:g} of the bare ceiling unpaced, would have to hold {needed:g} of "
                f"its own ceiling paced" + (f" and held {held:g}" if held is not None else "")) if needed else ""
        return (f"within the floor: the bare endpoint itself, paced the same way, held {share:g} of its own "
                f"ceiling{core}")


    @property
    def receiver_verdict(self) -> str:
        """Whether a receiver doing all the core does for an event but with no HTTP layer (the verified endpoint)
        holds the ratio target here: below it, the gap is the receiver's own work, whatever carries it."""
        if self.verified_paced_sustained is None and self.receiver_floor_below_target is None:
            return ("not measured: the verified endpoint was not paced in this run "
                    "(`payharness bench-load --verified --bare-paced`), or none of its holds held")
        share, target = self.ratio_verified_paced_to_bare, self.target_ratio
        ceiling_share = (round(self.verified_ceiling / self.bare_ceiling, 3)
                         if self.verified_ceiling and self.bare_ceiling else None)
        ceiling = f" (unpaced, its ceiling was {ceiling_share:.3f} of the bare one)" if ceiling_share else ""
        if self.receiver_floor_below_target is True and target is not None and ceiling_share is not None \
                and ceiling_share < target and (share is None or share >= target):
            return (f"below the target: unpaced, the core's own checks and recording with no HTTP layer reached "
                    f"{ceiling_share:g} of the bare ceiling, under {target:g}, and no paced rate holds more than "
                    "its ceiling — no framework or middleware of ours stands between the core and the target on this "
                    "machine; the gap is the receiver's own work")
        if share is None or target is None:
            return "not decided: no bare ceiling or no target ratio in this run"
        if self.receiver_floor_below_target is True:
            return (f"below the target: the core's own checks and recording with no HTTP layer held {share:g} of the "
                    f"bare ceiling paced, under {target:g}{ceiling} — no framework or middleware of ours stands "
                    "between the core and the target on this machine; the gap is the receiver's own work")
        if self.receiver_floor_below_target is False:
            return (f"not below the target: with no HTTP layer the core's checks and recording held {share:g} of the "
                    f"bare ceiling paced{ceiling} — the gap to the target is the core's HTTP layer, or this run's "
                    "noise")
        bound = " at least" if self.verified_paced_is_lower_bound else ""
        return f"not decided: the verified endpoint held{bound} {share:g} of the bare ceiling paced{ceiling}"


def floor_profile(runs: CapacityRuns | None) -> Floor | None:
    """The floor from the reference ``bench.json``; None without a core ceiling with CPU by part."""
    ref = runs.reference if runs else None
    if runs is None or ref is None or not ref.ceiling:
        return None
    cost, bare = dict(ref.cost_ms), dict(ref.bare_cost_ms)
    if not cost.get("core") or not cost.get("postgres"):
        return None
    minimum = {"bare": bare.get("bare"), "postgres": bare.get("postgres"), "null": ref.null_generator_ms}
    rows = tuple(FloorRow(part, cost[role], minimum[key], what)
                 for part, role, key, what in PARTS if cost.get(role) is not None)
    confirmed = ref.sustained if ref.sustained and not ref.sustained_is_lower_bound \
        and not ref.sustained_unconfirmed else None
    note = "lower bound" if ref.sustained_is_lower_bound else "unconfirmed" if ref.sustained_unconfirmed else ""
    return Floor(
        source=ref.source,
        machine_cpus=ref.machine_cpus,
        rows=rows,
        off_path_ms=round(sum(cost.get(role, 0.0) for role in OFF_PATH), 3),
        core_ceiling=ref.ceiling,
        bare_ceiling=ref.bare_ceiling,
        headroom=round(confirmed / ref.ceiling, 3) if confirmed else None,
        sustained=ref.sustained,
        sustained_note=note,
        ratio_sustained_to_bare=ref.ratio_sustained_to_bare,
        target_rate=ref.target_rate,
        target_ratio=ref.target_ratio,
        bare_paced_sustained=ref.bare_paced_sustained,
        ratio_bare_paced_to_bare=ref.ratio_bare_paced_to_bare,
        bare_paced_is_lower_bound=ref.bare_paced_is_lower_bound,
        paced=tuple(paced_row(pair) for pair in ref.paced_pairs),
        verified_ceiling=ref.verified_ceiling,
        verified_paced_sustained=ref.verified_paced_sustained,
        ratio_verified_paced_to_bare=ref.ratio_verified_paced_to_bare,
        verified_paced_is_lower_bound=ref.verified_paced_is_lower_bound,
        receiver_floor_below_target=ref.receiver_floor_below_target,
    )
