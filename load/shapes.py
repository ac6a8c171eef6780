"""Load shapes whose stages are data (steady, ramp, spike), and how a user's rate is paced: closed or open.

A rate of R events/s is R / r users each paced at r requests/s, in one of two ``PACINGS``:

* ``closed`` (``Pacer``): a user waits for its answer before the next request. A slow answer delays that
  user's next request, so under overload the offered rate falls (achieved < offered) and the latency of
  the requests that were never sent is not measured (coordinated omission); many modest users keep that
  small, not nil.
* ``open`` (``Schedule`` + ``InFlight``): a user's requests start at fixed instants whatever the answers;
  each is timed *from its scheduled instant*, so a late start counts as latency, and a request that would
  exceed the user's cap of requests in flight is not sent and counted as a failure ("not sent on time").

Usage::

    stages = build_stages("spike", users=100, duration=60)    # (Stage(until=24.0, users=100, …), …)
    pacer = Pacer(rate=5.0); delay = pacer.after(requests=2)   # closed: seconds to wait before the next request
    schedule = Schedule(rate=5.0); at = schedule.take(2)       # open: the instant of the next two requests
    cap = InFlight(10); cap.admit(2) and …; cap.done(1)        # open: at most 10 in flight, refusals counted
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOSED = "closed"
OPEN = "open"
PACINGS = (CLOSED, OPEN)
# Open pacing's default cap of requests in flight per user: reached when answers take 2 s at 5 events/s per user.
MAX_IN_FLIGHT = 10


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


class Schedule:
    """The fixed instants of one open-loop user at ``rate`` requests/s: ``start + k / rate``, counting every
    request of a burst.

    Nothing an answer does moves an instant: a user that fell behind (its loop starved of CPU) gets instants
    in the past, which it sends at once and times from the instant — the lateness is latency, not a gap.
    The first instant is at a random phase so users do not fire in lockstep. ``clock`` is the one the sends
    are timed with (``time.perf_counter``, as Locust's own timer).
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.perf_counter,
                 rng: random.Random | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.period = 1.0 / rate
        self._clock = clock
        self._next = clock() + (rng or random.Random()).random() * self.period

    def take(self, requests: int = 1) -> float:
        """The instant the next ``requests`` requests (sent together) are due; the schedule moves past them."""
        at = self._next
        self._next += requests * self.period
        return at

    def wait(self) -> float:
        """Seconds from now until the next instant (0 when it is already due)."""
        return max(0.0, self._next - self._clock())


class InFlight:
    """One open-loop user's cap of requests in flight, and the requests it refused.

    A refusal is a request the schedule asked for that was not sent: the caller records it as a failure,
    never drops it silently. The cap bounds what a stalled server can make one user hold (connections,
    greenlets); at ``rate`` requests/s it is reached when answers take longer than ``cap / rate`` seconds.
    """

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the cap must be at least one request")
        self.cap = cap
        self.count = 0
        self.refused = 0

    def admit(self, requests: int = 1) -> bool:
        """Take ``requests`` places (all or none); False, and counted as refused, when they would pass the cap."""
        if self.count + requests > self.cap:
            self.refused += requests
            return False
        self.count += requests
        return True

    def done(self, requests: int = 1) -> None:
        self.count -= requests
        if self.count < 0:
            raise RuntimeError("more requests finished than were admitted")


def late_ms(scheduled: float, started: float) -> float:
    """How late a request started after its scheduled instant, in ms (never negative)."""
    return max(0.0, (started - scheduled) * 1000)


def latency_ms(scheduled: float | None, started: float, finished: float) -> float:
    """A request's latency in ms: from its scheduled instant when it had one (open pacing: a late start is
    counted, so a slow server cannot hide behind the requests it delayed), else from when it started."""
    return (finished - (started if scheduled is None else min(scheduled, started))) * 1000
