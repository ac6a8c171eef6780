"""Per-process load state: the run id, which story indices this process drives, and its ledger writer.

Story indices are partitioned without coordination: worker ``k`` of ``W`` drives indices ``k, k+W, k+2W, …``
of each pool. A pool sized too small wraps around (its transactions get further events, which the audit
handles like any other), and says so once.

Usage::

    state = state_of(environment)
    index = state.next_index("wompi")
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load.ledger import LedgerWriter
from load.payloads import Mix

log = logging.getLogger("payharness.load")
# Head-room over the expected number of stories: workers drift apart and the spike shape peaks above the rate.
POOL_MARGIN = 1.4
SHAPE_PEAK = {"steady": 1.0, "ramp": 1.0, "spike": 1.2}


@dataclass
class LoadState:
    artefacts: Path
    node: str
    run_ids: list[str] = field(default_factory=list)  # master/local: every run seeded by this process
    run_id: str = ""
    workers: int = 1
    index: int = 0
    pools: dict[str, int] = field(default_factory=dict)
    writer: LedgerWriter | None = None
    writer_path: Path | None = None
    awaiting: set[str] = field(default_factory=set)
    incomplete: set[str] = field(default_factory=set)
    ledger_counts: dict[str, int] = field(default_factory=dict)
    _taken: dict[str, int] = field(default_factory=dict)
    exhausted: set[str] = field(default_factory=set)  # pools that wrapped around

    def begin(self, *, run_id: str, workers: int, index: int, pools: dict[str, int]) -> None:
        self.run_id, self.workers, self.index, self.pools = run_id, workers, index, dict(pools)
        self._taken.clear()
        self.exhausted.clear()

    def _mine(self, pool: str) -> int:
        size = self.pools.get(pool, 0)
        return max(1, math.ceil((size - self.index) / self.workers)) if size > self.index else 1

    def indices(self, pool: str) -> range:
        """Every story index of ``pool`` this process drives, in the order ``next_index`` hands them out."""
        return range(self.index, self.index + self.workers * self._mine(pool), self.workers)

    def next_index(self, pool: str) -> int:
        taken = self._taken.get(pool, 0)
        self._taken[pool] = taken + 1
        mine = self._mine(pool)
        if taken >= mine and pool not in self.exhausted:
            self.exhausted.add(pool)
            log.warning("payharness load: pool %s exhausted after %d stories; reusing its orders", pool, mine)
        return self.index + self.workers * (taken % mine)

    def open_writer(self) -> LedgerWriter:
        self.writer = LedgerWriter(self.artefacts / "ledger", node=self.node)
        self.writer_path = self.writer.path
        return self.writer

    def close_writer(self) -> int:
        if self.writer is None:
            return 0
        self.writer.close()
        return self.writer.count

    def sim_used(self, environment: Any) -> bool:
        return any(getattr(u, "pool", None) == "sim" for u in environment.runner.user_classes)


def state_of(environment: Any) -> LoadState:
    state: LoadState = environment.payharness_load
    return state


def pool_sizes(
    *, rate: float, duration: float, mix: Mix, sim_rate: float, user_classes: Iterable[Any], shape: str = "steady"
) -> dict[str, int]:
    """How many orders to seed per pool so no worker runs out within ``duration``."""
    classes = list(user_classes)
    weights: dict[str, float] = {}
    for cls in classes:
        pool = getattr(cls, "pool", None)
        if pool in ("wompi", "payu") and not getattr(cls, "fixed_count", 0):
            weights[pool] = weights.get(pool, 0.0) + float(cls.weight)
    total_weight = sum(weights.values()) or 1.0
    stories = rate * duration * SHAPE_PEAK.get(shape, 1.2) / mix.mean_requests()
    pools = {pool: math.ceil(stories * w / total_weight * POOL_MARGIN) + 100 for pool, w in weights.items()}
    if any(getattr(cls, "pool", None) == "sim" for cls in classes):
        pools["sim"] = math.ceil(sim_rate * duration * POOL_MARGIN) + 20
    return pools
