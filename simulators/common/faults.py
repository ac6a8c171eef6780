"""Faults as values (latency, errors, hangs, resets, bad bodies) and the injector that applies them."""

import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.common.values import TaggedValue, check, from_dict, registry


@dataclass(frozen=True)
class Latency(TaggedValue):
    """Delay the request by ``ms`` before handling it; combines with one other fault."""

    ms: int
    type_tag = "latency"

    def __post_init__(self) -> None:
        check(isinstance(self.ms, int) and 0 <= self.ms <= 600_000, "latency ms must be 0..600000")


@dataclass(frozen=True)
class HttpError(TaggedValue):
    """Answer ``status`` without handling the request (nothing happens at the gateway)."""

    status: int
    type_tag = "http_error"

    def __post_init__(self) -> None:
        check(isinstance(self.status, int) and 400 <= self.status <= 599, "http_error status must be 4xx/5xx")


@dataclass(frozen=True)
class RateLimited(TaggedValue):
    """429 with ``Retry-After: retry_after`` (seconds), without handling the request."""

    retry_after: int
    type_tag = "rate_limited"

    def __post_init__(self) -> None:
        check(isinstance(self.retry_after, int) and self.retry_after >= 0, "retry_after must be >= 0")


@dataclass(frozen=True)
class Hang(TaggedValue):
    """Hold the request ``seconds`` (past the client's timeout), then 504 if anyone is still there."""

    seconds: float
    type_tag = "hang"

    def __post_init__(self) -> None:
        check(isinstance(self.seconds, int | float) and 0 < self.seconds <= 600, "hang seconds must be 0..600")


@dataclass(frozen=True)
class ConnectionReset(TaggedValue):
    """Drop the TCP connection (RST) before any response; the request is not handled."""

    type_tag = "connection_reset"


@dataclass(frozen=True)
class Malformed(TaggedValue):
    """Handle the request, then answer its status with a body that is not valid JSON."""

    type_tag = "malformed"


@dataclass(frozen=True)
class Truncated(TaggedValue):
    """Handle the request, then answer only the first half of the body (honest Content-Length)."""

    type_tag = "truncated"


@dataclass(frozen=True)
class FailThenSucceed(TaggedValue):
    """The first ``times`` matching requests get ``status`` unhandled; later ones pass through."""

    times: int
    status: int = 503
    type_tag = "fail_then_succeed"

    def __post_init__(self) -> None:
        check(isinstance(self.times, int) and self.times >= 0, "times must be >= 0")
        check(isinstance(self.status, int) and 400 <= self.status <= 599, "status must be 4xx/5xx")


Fault = Latency | HttpError | RateLimited | Hang | ConnectionReset | Malformed | Truncated | FailThenSucceed
FAULT_TYPES = registry(Latency, HttpError, RateLimited, Hang, ConnectionReset, Malformed, Truncated, FailThenSucceed)


def fault_from_dict(data: Mapping[str, Any]) -> Fault:
    """Inverse of ``fault.to_dict()``: ``fault_from_dict({"type": "http_error", "status": 503})``."""
    fault: Fault = from_dict(data, FAULT_TYPES, "fault")
    return fault


@dataclass(frozen=True)
class FaultRule:
    """Which requests get ``fault``.

    ``path`` is an fnmatch glob on the URL path, ``method`` an HTTP method or ``*``; ``count`` limits
    the rule to the next N matching requests; ``probability`` draws from the plan's seeded RNG;
    ``match_command`` matches the JSON body's ``command`` field (PayU has one URL for every call).
    Usage: ``FaultRule(HttpError(503), path="/v1/transactions*", method="POST", count=2)``.
    """

    fault: Fault
    path: str = "*"
    method: str = "*"
    count: int | None = None
    probability: float = 1.0
    match_command: str | None = None

    def __post_init__(self) -> None:
        check(self.count is None or (isinstance(self.count, int) and self.count >= 0), "count must be >= 0")
        check(isinstance(self.probability, int | float), "probability must be a number")
        check(0.0 <= self.probability <= 1.0, "probability must be within 0..1")

    def matches(self, method: str, path: str, command: str | None) -> bool:
        if self.method != "*" and self.method.upper() != method:
            return False
        if self.path != "*" and not fnmatch.fnmatchcase(path, self.path):
            return False
        return self.match_command is None or self.match_command == command

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault.to_dict(),
            "path": self.path,
            "method": self.method,
            "count": self.count,
            "probability": self.probability,
            "match_command": self.match_command,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultRule":
        if not isinstance(data, Mapping) or "fault" not in data:
            raise ValueError("a fault rule is an object with a 'fault'")
        extra = set(data) - {"fault", "path", "method", "count", "probability", "match_command"}
        check(not extra, f"a fault rule does not take {sorted(extra)}")
        return cls(fault=fault_from_dict(data["fault"]), **{k: v for k, v in data.items() if k != "fault"})


@dataclass(frozen=True)
class FaultPlan:
    """An ordered set of rules plus the seed for their probabilities.

    Usage: ``FaultPlan((FaultRule(Latency(200)), FaultRule(HttpError(502), probability=0.1)), seed=7)``.
    Per request, every matching ``Latency`` adds up and the first other matching fault applies.
    """

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules], "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultPlan":
        if not isinstance(data, Mapping):
            raise ValueError("a fault plan is an object with 'rules' and optional 'seed'")
        rules = data.get("rules", [])
        check(isinstance(rules, list), "'rules' must be a list")
        seed = data.get("seed", 0)
        check(isinstance(seed, int), "'seed' must be an integer")
        return cls(rules=tuple(FaultRule.from_dict(r) for r in rules), seed=seed)


class FaultInjector:
    """The active plan plus per-rule counters; decides, request by request, what goes wrong.

    Usage: ``injector = FaultInjector(plan)``; ``injector.set_plan(...)`` mid-run; the middleware
    calls ``pick``. Single event loop, so no locking is needed.
    """

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.set_plan(plan or FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._applied = [0] * len(plan.rules)
        self._rng = random.Random(plan.seed)
        self.active = bool(plan.rules)
        self.needs_body = any(r.match_command is not None for r in plan.rules)

    def clear(self) -> None:
        self.set_plan(FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def pick(self, method: str, path: str, command: str | None = None) -> tuple[int, Fault | None]:
        """Total latency in ms and the terminal fault (or None) for this request."""
        latency = 0
        for i, rule in enumerate(self._plan.rules):
            if rule.count is not None and self._applied[i] >= rule.count:
                continue
            if not rule.matches(method, path, command):
                continue
            fault = rule.fault
            if isinstance(fault, FailThenSucceed) and self._applied[i] >= fault.times:
                continue
            # Draw only for partial probabilities, so adding a certain rule does not shift the
            # random sequence that a seeded run depends on.
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            self._applied[i] += 1
            if isinstance(fault, Latency):
                latency += fault.ms
                continue
            return latency, fault
        return latency, None

    def snapshot(self) -> dict[str, Any]:
        return {"plan": self._plan.to_dict(), "applied": list(self._applied)}


__all__ = [
    "FAULT_TYPES",
    "ConnectionReset",
    "FailThenSucceed",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "FaultRule",
    "Hang",
    "HttpError",
    "Latency",
    "Malformed",
    "RateLimited",
    "Truncated",
    "fault_from_dict",
]
