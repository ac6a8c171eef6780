"""One open-loop webhook user's sends: stories started at their scheduled instants, whatever the answers.

``--pacing open`` (load/shapes.py has the two pacings side by side). The user's task hands each story to
``OpenLoop.start`` and waits ``OpenLoop.wait()``; the story plays in its own greenlet, so a slow answer
delays nothing that was scheduled after it. Each step of a story goes at its instant — a later step of the
same story also only after the earlier one ended, since a gateway's events for one payment come in order —
and is timed from that instant by ``send`` (``load.actions.deliver(…, scheduled=at)``). A step that would
take the user past its ``InFlight`` cap is not sent: each of its deliveries goes to ``refuse``, which counts
it as a failed request (``load.actions.not_sent``), never dropped silently.

No Locust here (importing Locust patches the process): the user passes ``send`` and ``refuse`` in, and the
tests drive this with a fake client and gevent alone.

Usage (inside a FastHttpUser)::

    loop = OpenLoop(rate=5.0, cap=10, refuse=lambda d, n, cap: not_sent(events.request, d, in_flight=n, cap=cap))
    loop.start(signed.steps, lambda delivery, request, at: deliver(client, delivery, request, ctx, scheduled=at))
    gevent.sleep(loop.wait()); …; loop.stop()
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent
from gevent.pool import Group

from load.shapes import InFlight, Schedule

Step = Sequence[tuple[Any, Any]]  # (Delivery, SignedRequest) pairs sent at the same instant
Send = Callable[[Any, Any, float], Any]  # (delivery, request, scheduled instant)
Refuse = Callable[[Any, int, int], None]  # (delivery, requests in flight, cap)


class OpenLoop:
    """A user's schedule, its cap of requests in flight, and the greenlets of its stories in flight."""

    def __init__(self, rate: float, cap: int, refuse: Refuse, *, clock: Callable[[], float] = time.perf_counter,
                 rng: random.Random | None = None) -> None:
        self.schedule = Schedule(rate, clock=clock, rng=rng)
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

    def stop(self) -> None:
        """Kill what is in flight: each request writes its ledger entry (no answer) as it dies."""
        self.greenlets.kill(block=True)

    def _play(self, steps: Sequence[Step], due: list[float], send: Send) -> None:
        for step, at in zip(steps, due, strict=True):
            gevent.sleep(max(0.0, at - self._clock()))
            if not self.in_flight.admit(len(step)):
                for delivery, _ in step:
                    self._refuse(delivery, self.in_flight.count, self.in_flight.cap)
                continue
            gevent.joinall([self.greenlets.spawn(self._send_one, send, delivery, request, at)
                            for delivery, request in step])

    def _send_one(self, send: Send, delivery: Any, request: Any, at: float) -> None:
        try:
            send(delivery, request, at)
        finally:
            self.in_flight.done(1)
