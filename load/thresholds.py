"""Thresholds that fail a run: p95, p99 and error ratio over the webhook requests, as pure functions; and what a
benchmark step must meet to *hold* (``StepLimits``).

In the spirit of locust-plugins' ``--check-*`` options. Expected 401s (deliberately forged signatures) are
marked successes by the users (``catch_response``), so they never count as errors here; a 5xx, a
connection error or any unexpected status does.

Usage::

    result = evaluate(samples_from_stats(environment.stats), Thresholds(p95_ms=100, p99_ms=250))
    result.breaches          # ["p99 312 ms > 250 ms", ...]; empty when the run held
    STEP_LIMITS.holds(requests=5000, failures=0, steady_p99_ms=42.0, offered=500, achieved=498.3)  # True
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """Limits; ``None`` switches one off. ``names`` is a regex picking the request names they apply to."""

    p95_ms: float | None = 100.0
    p99_ms: float | None = 250.0
    max_error_ratio: float | None = 0.001
    names: str = r"^webhook"


@dataclass(frozen=True)
class Sample:
    """One request name's statistics as plain data (Locust's buckets: rounded ms → count)."""

    name: str
    requests: int
    failures: int
    response_times: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    requests: int
    failures: int
    error_ratio: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    breaches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "error_ratio": round(self.error_ratio, 6),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "breaches": list(self.breaches),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class StepLimits:
    """A benchmark step *holds* when its steady-window p99 is under ``p99_ms``, under ``max_error_ratio`` of its
    requests failed, it achieved at least ``achieved_share`` of the offered rate (an unpaced run, offered 0,
    has no rate to achieve) and, paced open-loop, no scheduled send was refused by a user's in-flight cap
    (``not_sent``): a send that could not go out on time is an overload however few they are. Overload shows
    as achieved < offered as often as it shows as latency."""

    p99_ms: float = 100.0
    max_error_ratio: float = 0.001
    achieved_share: float = 0.95

    def holds(self, *, requests: int, failures: int, steady_p99_ms: float, offered: float, achieved: float,
              not_sent: int = 0) -> bool:
        return (
            requests > 0
            and not_sent == 0
            and steady_p99_ms < self.p99_ms
            and failures / requests < self.max_error_ratio
            and (not offered or achieved >= self.achieved_share * offered)
        )


STEP_LIMITS = StepLimits()


def percentile(times: Mapping[int, int], q: float) -> float:
    """The smallest recorded time at or below which a fraction ``q`` of the requests fall (0 if none)."""
    total = sum(times.values())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(times):
        seen += times[value]
        if seen >= rank:
            return float(value)
    return float(max(times))


def evaluate(samples: Iterable[Sample], limits: Thresholds) -> Evaluation:
    pattern = re.compile(limits.names)
    chosen = [s for s in samples if pattern.search(s.name)]
    times: Counter[int] = Counter()
    for s in chosen:
        times.update(s.response_times)
    requests = sum(s.requests for s in chosen)
    failures = sum(s.failures for s in chosen)
    ratio = failures / requests if requests else 0.0
    p50, p95, p99 = (percentile(times, q) for q in (0.50, 0.95, 0.99))
    breaches = []
    if not requests:
        breaches.append(f"no requests matched {limits.names!r}")
    if limits.p95_ms is not None and p95 > limits.p95_ms:
        breaches.append(f"p95 {p95:g} ms > {limits.p95_ms:g} ms")
    if limits.p99_ms is not None and p99 > limits.p99_ms:
        breaches.append(f"p99 {p99:g} ms > {limits.p99_ms:g} ms")
    if limits.max_error_ratio is not None and ratio > limits.max_error_ratio:
        breaches.append(f"error ratio {ratio:.4%} > {limits.max_error_ratio:.4%} ({failures} of {requests})")
    return Evaluation(requests, failures, ratio, p50, p95, p99, tuple(breaches))


NOT_SENT = "not sent"  # the suffix of the request name an open-loop send refused by the in-flight cap is counted under


def not_sent_count(samples: Iterable[Sample]) -> int:
    """Scheduled sends that were not sent (open pacing: a user's in-flight cap refused them)."""
    return sum(s.requests for s in samples if s.name.endswith(f" {NOT_SENT}"))


def samples_from_stats(stats: Any) -> list[Sample]:
    """Plain samples from a Locust ``RequestStats`` (one per method+name entry)."""
    return [Sample(f"{e.name}", e.num_requests, e.num_failures, dict(e.response_times)) for e in stats.entries.values()]
