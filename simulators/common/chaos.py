"""Webhook chaos as values: duplicated, reordered, delayed, replayed, tampered or badly signed events."""

import fnmatch
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.common.values import TaggedValue, check, from_dict, registry


@dataclass(frozen=True)
class Duplicate(TaggedValue):
    """Deliver the event ``times`` extra times, concurrently, each copy with its own retries."""

    times: int
    type_tag = "duplicate"

    def __post_init__(self) -> None:
        check(isinstance(self.times, int) and 1 <= self.times <= 1000, "duplicate times must be 1..1000")


@dataclass(frozen=True)
class Reorder(TaggedValue):
    """Hold the event until the next one has been attempted, so the later event overtakes it.

    If no other event comes within ``max_hold_seconds`` (simulated), it is released anyway.
    """

    max_hold_seconds: float = 60.0
    type_tag = "reorder"


@dataclass(frozen=True)
class Delay(TaggedValue):
    """First attempt ``seconds`` (simulated) late; retries count from that first attempt."""

    seconds: float
    type_tag = "delay"

    def __post_init__(self) -> None:
        check(isinstance(self.seconds, int | float) and self.seconds >= 0, "delay seconds must be >= 0")


@dataclass(frozen=True)
class ReplayLater(TaggedValue):
    """Deliver normally, then send the first attempt's exact bytes again ``after_seconds`` later."""

    after_seconds: float
    type_tag = "replay_later"

    def __post_init__(self) -> None:
        check(isinstance(self.after_seconds, int | float) and self.after_seconds >= 0, "after_seconds >= 0")


@dataclass(frozen=True)
class TamperUnsigned(TaggedValue):
    """Change a field the signature does not cover; the signature still verifies."""

    field: str
    value: str
    type_tag = "tamper_unsigned"


@dataclass(frozen=True)
class TamperSigned(TaggedValue):
    """Change a signed field after signing; the signature no longer verifies."""

    field: str
    value: str
    type_tag = "tamper_signed"


@dataclass(frozen=True)
class WrongSecret(TaggedValue):
    """Sign with a secret that is not the merchant's."""

    type_tag = "wrong_secret"


@dataclass(frozen=True)
class MissingSignature(TaggedValue):
    """Send the event with no signature at all."""

    type_tag = "missing_signature"


Chaos = Duplicate | Reorder | Delay | ReplayLater | TamperUnsigned | TamperSigned | WrongSecret | MissingSignature
CHAOS_TYPES = registry(
    Duplicate, Reorder, Delay, ReplayLater, TamperUnsigned, TamperSigned, WrongSecret, MissingSignature
)
# The ones only the gateway's WebhookBuilder can apply, because they depend on its signing format.
BUILDER_CHAOS = (TamperUnsigned, TamperSigned, WrongSecret, MissingSignature)


def chaos_from_dict(data: Mapping[str, Any]) -> Chaos:
    """Inverse of ``chaos.to_dict()``: ``chaos_from_dict({"type": "duplicate", "times": 3})``."""
    chaos: Chaos = from_dict(data, CHAOS_TYPES, "chaos")
    return chaos


@dataclass(frozen=True)
class ChaosRule:
    """Which outgoing webhooks get ``chaos``: ``event_filter`` is an fnmatch glob on the message kind.

    Usage: ``ChaosRule(Duplicate(2), event_filter="transaction.*", count=1)``.
    """

    chaos: Chaos
    event_filter: str = "*"
    count: int | None = None
    probability: float = 1.0

    def __post_init__(self) -> None:
        check(self.count is None or (isinstance(self.count, int) and self.count >= 0), "count must be >= 0")
        check(isinstance(self.probability, int | float), "probability must be a number")
        check(0.0 <= self.probability <= 1.0, "probability must be within 0..1")

    def matches(self, kind: str) -> bool:
        return self.event_filter == "*" or fnmatch.fnmatchcase(kind, self.event_filter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chaos": self.chaos.to_dict(),
            "event_filter": self.event_filter,
            "count": self.count,
            "probability": self.probability,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ChaosRule":
        if not isinstance(data, Mapping) or "chaos" not in data:
            raise ValueError("a chaos rule is an object with a 'chaos'")
        extra = set(data) - {"chaos", "event_filter", "count", "probability"}
        check(not extra, f"a chaos rule does not take {sorted(extra)}")
        return cls(chaos=chaos_from_dict(data["chaos"]), **{k: v for k, v in data.items() if k != "chaos"})


@dataclass(frozen=True)
class WebhookChaosPlan:
    """Ordered chaos rules; every rule matching a message applies to it.

    Usage: ``WebhookChaosPlan((ChaosRule(TamperSigned("state_pol", "4")),), seed=3)``.
    """

    rules: tuple[ChaosRule, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules], "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WebhookChaosPlan":
        if not isinstance(data, Mapping):
            raise ValueError("a chaos plan is an object with 'rules' and optional 'seed'")
        rules = data.get("rules", [])
        check(isinstance(rules, list), "'rules' must be a list")
        seed = data.get("seed", 0)
        check(isinstance(seed, int), "'seed' must be an integer")
        return cls(rules=tuple(ChaosRule.from_dict(r) for r in rules), seed=seed)


class ChaosPicker:
    """The active chaos plan with its counters and seeded RNG; used by the dispatcher."""

    def __init__(self, plan: WebhookChaosPlan | None = None) -> None:
        self.set_plan(plan or WebhookChaosPlan())

    def set_plan(self, plan: WebhookChaosPlan) -> None:
        self.plan = plan
        self._applied = [0] * len(plan.rules)
        self._rng = random.Random(plan.seed)

    def pick(self, kind: str) -> tuple[Chaos, ...]:
        chosen: list[Chaos] = []
        for i, rule in enumerate(self.plan.rules):
            if rule.count is not None and self._applied[i] >= rule.count:
                continue
            if not rule.matches(kind):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            self._applied[i] += 1
            chosen.append(rule.chaos)
        return tuple(chosen)

    def snapshot(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "applied": list(self._applied)}
