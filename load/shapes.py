"""Load shapes whose stages are data (steady, ramp, spike), and how a user's rate is paced: closed or open.

A rate of R events/s is paced in one of two ``PACINGS``:

* ``closed`` (``Pacer``): R / r users each paced at r requests/s (``users_for``); a user waits for its answer
  before the next request. A slow answer delays that user's next request, so under overload the offered rate
  falls (achieved < offered) and the latency of the requests that were never sent is not measured
  (coordinated omission); many modest users keep that small, not nil. The shape varies the users.
* ``open`` (``Schedule`` + ``InFlight``): a fixed number of users per Locust process (``OPEN_USERS``,
  ``open_users``), whatever the rate, share it; a user's requests start at fixed instants whatever the
  answers; each is timed *from its scheduled instant*, so a late start counts as latency, and a request that
  would exceed the user's cap of requests in flight is not sent and counted as a failure ("not sent on
  time"). The shape varies each user's rate (``rate_factor``), not the users: what grows with the rate is
  only what is in flight.

Usage::

    stages = build_stages("spike", users=100, duration=60)    # (Stage(until=24.0, users=100, …), …)
    pacer = Pacer(rate=5.0); delay = pacer.after(requests=2)   # closed: seconds to wait before the next request
    schedule = Schedule(rate=5.0); at = schedule.take(2)       # open: the instant of the next two requests
    cap = InFlight(250); cap.admit(2) and …; cap.done(1)       # open: at most 250 in flight, refusals counted
    users = open_users(OPEN_USERS, processes=2)                # open: 8 users carry any rate on 2 processes
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
# Open pacing's webhook users per Locust process, whatever the rate: a user's cost to the generator (its greenlet,
# its timers, its connection pool) no longer grows with the rate, and the figure no longer depends on how the rate
# is split (at 5 events/s per user, 150/s was 30 users and 2,800/s 560). Four keep Wompi:PayU at their 3:1 weights.
OPEN_USERS = 4
# Open pacing's default cap of requests in flight per user: OPEN_USERS x 250 = 1,000 per Locust process, reached
# when answers take 1 s at 1,000 events/s per process (ten times the benchmark's p99 limit). The pool opens a
# connection only when every open one is busy, so the cap costs nothing until answers slow.
MAX_IN_FLIGHT = 250
# Open pacing builds its shape in hundredths of the rate: a stage of 50 of them runs each user at half its rate.
PROFILE_UNITS = 100


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


def open_users(per_process: int, processes: int) -> int:
    """How many open-loop users carry the rate: ``per_process`` on each Locust process, whatever the rate."""
    if per_process < 1 or processes < 1:
        raise ValueError("open pacing needs at least one user on at least one process")
    return per_process * processes


def webhook_stages(pacing: str, shape: str, *, rate: float, user_rate: float, open_per_process: int,
                   processes: int, duration: float) -> tuple[Stage, ...]:
    """The webhook users over the run. Closed: ⌈rate / user_rate⌉ users, the shape varying their number. Open:
    ``open_per_process`` users on each Locust process for the whole run, whatever the rate — the shape varies
    each one's rate instead (``open_rate``)."""
    if pacing == OPEN:
        return steady(open_users(open_per_process, processes), duration)
    return build_stages(shape, users=users_for(rate, user_rate), duration=duration)


def open_rate(shape: str, *, rate: float, per_process: int, processes: int, duration: float,
              started: float) -> tuple[float, Callable[[float], float]]:
    """One open-loop user's base rate (its share of ``rate``) and the shape's factor at an instant, the run
    having ``started`` at that clock's instant."""
    base = rate / open_users(per_process, processes)
    stages = build_stages(shape, users=PROFILE_UNITS, duration=duration)
    return base, lambda at: rate_factor(stages, at - started)


def rate_factor(stages: tuple[Stage, ...], elapsed: float) -> float:
    """Open pacing: the share of the base rate in force ``elapsed`` seconds into the run (the stage's users over
    the last stage's, which is the base: ramp and spike end at it); after the last stage, the last one's."""
    stage = stage_at(stages, elapsed) or stages[-1]
    return stage.users / stages[-1].users


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
    are timed with (``time.perf_counter``, as Locust's own timer). ``factor(instant)`` scales the rate at an
    instant (a shape's ramp or spike, ``rate_factor``); the gap after an instant is at the rate in force then.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.perf_counter,
                 rng: random.Random | None = None, factor: Callable[[float], float] | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.period = 1.0 / rate
        self._clock = clock
        self._factor = factor
        self._next = clock() + (rng or random.Random()).random() * self.period

    def take(self, requests: int = 1) -> float:
        """The instant the next ``requests`` requests (sent together) are due; the schedule moves past them."""
        at = self._next
        self._next += requests * self.period / (self._factor(at) if self._factor else 1.0)
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
