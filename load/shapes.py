"""Load shapes whose stages are data (steady, ramp, spike), and the per-user pacer that turns users into a rate.

A rate of R events/s is R / r users each paced at r requests/s. Many users at a modest pace rather than
few fast ones: a user waits for its answer, so a slow answer delays only that user's next request, and
the offered rate falls visibly (achieved < offered) instead of hiding the latency (coordinated omission).

Usage::

    stages = build_stages("spike", users=100, duration=60)    # (Stage(until=24.0, users=100, …), …)
    pacer = Pacer(rate=5.0); delay = pacer.after(requests=2)   # seconds to wait before the next request
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """Until ``until`` seconds into the run, keep ``users`` users, started at ``spawn_rate`` per second."""

    until: float
    users: int
    spawn_rate: float


def steady(users: int, duration: float) -> tuple[Stage, ...]:
    return (Stage(duration, users, float(max(users, 1))),)


def ramp(users: int, duration: float, *, up: float = 0.3, steps: int = 10) -> tuple[Stage, ...]:
    """From a tenth of ``users`` to all of them over the first ``up`` of the run, then hold."""
    up_time = duration * up
    stages = [
        Stage(up_time * (k + 1) / steps, max(1, math.ceil(users * (k + 1) / steps)), float(max(users, 1)))
        for k in range(steps)
    ]
    return (*stages, Stage(duration, users, float(max(users, 1))))


def spike(
    users: int, duration: float, *, factor: float = 2.0, at: float = 0.4, width: float = 0.15
) -> tuple[Stage, ...]:
    """The base rate, then ``factor`` times it for ``width`` of the run starting at ``at``, then the base again."""
    peak = max(users, math.ceil(users * factor))
    fast = float(max(peak, 1))
    return (Stage(duration * at, users, fast), Stage(duration * (at + width), peak, fast), Stage(duration, users, fast))


SHAPES: dict[str, Callable[[int, float], tuple[Stage, ...]]] = {"steady": steady, "ramp": ramp, "spike": spike}


def build_stages(name: str, *, users: int, duration: float) -> tuple[Stage, ...]:
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}: one of {', '.join(SHAPES)}")
    if users < 1 or duration <= 0:
        raise ValueError("a shape needs at least one user and a positive duration")
    return SHAPES[name](users, duration)


def stage_at(stages: tuple[Stage, ...], elapsed: float) -> Stage | None:
    """The stage in force ``elapsed`` seconds into the run; None once the last one is over."""
    return next((s for s in stages if elapsed < s.until), None)


def users_for(rate: float, user_rate: float) -> int:
    """How many users, each paced at ``user_rate``, offer ``rate`` events/s."""
    if rate <= 0 or user_rate <= 0:
        raise ValueError("rates must be positive")
    return max(1, math.ceil(rate / user_rate))


class Pacer:
    """Paces one user at ``rate`` requests/s, counting every request of a burst.

    A user that fell behind catches up by at most ``max_lag`` seconds of requests, so a stall never turns
    into a burst of thousands. The first slot is at a random phase so users do not fire in lockstep.
    """

    def __init__(
        self,
        rate: float,
        *,
        max_lag: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.period = 1.0 / rate
        self.max_lag = max_lag
        self._clock = clock
        self._next = clock() + (rng or random.Random()).random() * self.period

    def first_delay(self) -> float:
        return max(0.0, self._next - self._clock())

    def after(self, requests: int = 1) -> float:
        """Seconds to wait now that ``requests`` more were sent."""
        now = self._clock()
        self._next = max(self._next + requests * self.period, now - self.max_lag)
        return max(0.0, self._next - now)
