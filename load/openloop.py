"""One open-loop webhook user's sends: stories started at their scheduled instants, whatever the answers.

``--pacing open`` (load/shapes.py has the two pacings side by side). The user's task hands the stories due to
``OpenLoop.start_due`` and waits ``OpenLoop.wait()``; the story plays in its own greenlet, so a slow answer
delays nothing that was scheduled after it. Each step of a story goes at its instant — a later step of the
same story also only after the earlier one ended, since a gateway's events for one payment come in order —
and is timed from that instant by ``send`` (``load.actions.deliver(…, scheduled=at)``). A step that would
take the user past its ``InFlight`` cap is not sent: each of its deliveries goes to ``refuse``, which counts
it as a failed request (``load.actions.not_sent``), never dropped silently.

No Locust here (importing Locust patches the process): the user passes ``send`` and ``refuse`` in, and the
tests drive this with a fake client and gevent alone.

Usage (inside a FastHttpUser)::

    loop = OpenLoop(rate=250.0, cap=250, refuse=lambda d, n, cap: not_sent(events.request, d, in_flight=n, cap=cap))
    loop.start(signed.steps, lambda delivery, request, at: deliver(client, delivery, request, ctx, scheduled=at))
    gevent.sleep(loop.wait()); …; loop.stop()
    late_figures(read_ledger(folder))   # after the run: how late the first tries started, p50/p99/max in ms
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from gevent.pool import Group

from load.ledger import LedgerEntry
from load.shapes import InFlight, Schedule

# Stories one task call may start when its user fell behind, before letting the other greenlets run.
CATCH_UP = 100
Step = Sequence[tuple[Any, Any]]  # (Delivery, SignedRequest) pairs sent at the same instant
Send = Callable[[Any, Any, float], Any]  # (delivery, request, scheduled instant)
Refuse = Callable[[Any, int, int], None]  # (delivery, requests in flight, cap)


class OpenLoop:
    """A user's schedule, its cap of requests in flight, and the greenlets of its stories in flight."""

    def __init__(self, rate: float, cap: int, refuse: Refuse, *, clock: Callable[[], float] = time.perf_counter,
                 rng: random.Random | None = None, factor: Callable[[float], float] | None = None) -> None:
        self.schedule = Schedule(rate, clock=clock, rng=rng, factor=factor)
        self.in_flight = InFlight(cap)
        self.greenlets = Group()
        self._refuse = refuse
        self._clock = clock

    def wait(self) -> float:
        """Seconds until the next story is due."""
        return self.schedule.wait()

    def start(self, steps: Sequence[Step], send: Send) -> None:
        """Give the story its instants now (the schedule moves past them whatever becomes of it) and play it."""
        due = [self.schedule.take(len(step)) for step in steps]
        self.greenlets.spawn(self._play, steps, due, send)

    def start_due(self, story: Callable[[], Sequence[Step]], send: Send, *, most: int = CATCH_UP) -> int:
        """Start the next story and every later one already due (at most ``most``); how many were started.

        A few users carry the whole rate, so a user that fell behind has many stories due at once: one per task
        call would cost each a round of the hub (Locust's wait of 0 still yields), each round later than the last."""
        started = 0
        while True:
            self.start(story(), send)
            started += 1
            if started >= most or self.schedule.wait() > 0:
                return started

    def stop(self) -> None:
        """Kill what is in flight: each request writes its ledger entry (no answer) as it dies."""
        self.greenlets.kill(block=True)

    def _play(self, steps: Sequence[Step], due: list[float], send: Send) -> None:
        for step, at in zip(steps, due, strict=True):
            wait = at - self._clock()
            if wait > 0:  # not gevent.sleep(0) when due: that yields a whole round of the hub, late for nothing
                gevent.sleep(wait)
            if not self.in_flight.admit(len(step)):
                for delivery, _ in step:
                    self._refuse(delivery, self.in_flight.count, self.in_flight.cap)
                continue
            if len(step) == 1:  # most steps: sent from this greenlet, one spawn per request saved
                self._send_one(send, *step[0], at)
                continue
            gevent.joinall([self.greenlets.spawn(self._send_one, send, delivery, request, at)
                            for delivery, request in step])

    def _send_one(self, send: Send, delivery: Any, request: Any, at: float) -> None:
        try:
            send(delivery, request, at)
        finally:
            self.in_flight.done(1)


def late_figures(entries: Sequence[LedgerEntry]) -> dict[str, float]:
    """How late the scheduled sends (first tries of webhook deliveries) started, nearest-rank p50/p99 and max, ms.

    The latency of an open-loop run counts from the scheduled instants, so it holds the generator's share too:
    this is that share. A large one says the generator, not the server, fell behind (its CPU taken)."""
    # Webhook deliveries are the signed entries (the API's and the simulator's have none); a retry has no instant.
    late = sorted(e.late_ms for e in entries if e.try_no == 1 and e.signature and e.code is not None)
    if not late:
        return {}

    def rank(q: float) -> float:
        return late[max(0, math.ceil(q * len(late)) - 1)]

    return {"sends": len(late), "p50_ms": rank(0.5), "p99_ms": rank(0.99), "max_ms": late[-1]}
