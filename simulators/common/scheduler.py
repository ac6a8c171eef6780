"""Scheduler: timed jobs (finalisations, webhook attempts) run against the SimClock, not the wall."""

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulators.common.clock import SimClock

log = logging.getLogger("simulators.scheduler")

Job = Callable[[], Awaitable[None]]
# A round that keeps scheduling work "now" forever is a bug in a job; stop rather than spin.
_MAX_ROUNDS = 10_000


@dataclass(order=True)
class _Entry:
    when: float
    seq: int
    job_id: int = field(compare=False)
    job: Job = field(compare=False)
    name: str = field(compare=False)


class Scheduler:
    """Runs jobs when the simulated clock reaches their time.

    Usage::

        scheduler = Scheduler(clock)
        scheduler.call_later(1800, retry, name="webhook retry")
        clock.advance(1800)
        await scheduler.run_due()      # the retry has run when this returns

    Due jobs are *started* in time order (ties in scheduling order) and run concurrently up to
    ``max_concurrency``: a slow webhook receiver must not hold every other delivery back, and
    concurrent duplicates are what a real gateway produces. ``run_due`` returns only when every job
    it started (and any already in flight) has finished, and loops while finished jobs made new ones
    due, so after it returns nothing due is left.
    """

    def __init__(self, clock: SimClock, *, tick_seconds: float = 0.02, max_concurrency: int = 64) -> None:
        self._clock = clock
        self._tick = tick_seconds
        self._heap: list[_Entry] = []
        self._live: dict[int, _Entry] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()
        self._max_concurrency = max_concurrency
        self._sem: asyncio.Semaphore | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self.failures = 0

    @property
    def clock(self) -> SimClock:
        return self._clock

    def call_at(self, when: datetime, job: Job, *, name: str = "") -> int:
        return self._push(when.timestamp(), job, name)

    def call_later(self, delay_seconds: float, job: Job, *, name: str = "") -> int:
        return self._push(self._clock.timestamp() + delay_seconds, job, name)

    def call_at_timestamp(self, when: float, job: Job, *, name: str = "") -> int:
        return self._push(when, job, name)

    def _push(self, when: float, job: Job, name: str) -> int:
        entry = _Entry(when, next(self._seq), next(self._ids), job, name)
        heapq.heappush(self._heap, entry)
        self._live[entry.job_id] = entry
        return entry.job_id

    def cancel(self, job_id: int) -> None:
        # Lazy deletion: the heap entry is skipped when it surfaces.
        self._live.pop(job_id, None)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Register cleanup to await in ``stop()`` (the dispatcher closes its HTTP client here)."""
        self._stop_hooks.append(hook)

    def _start_due(self) -> list[asyncio.Task[None]]:
        now = self._clock.timestamp()
        started: list[asyncio.Task[None]] = []
        while self._heap and self._heap[0].when <= now:
            entry = heapq.heappop(self._heap)
            if self._live.pop(entry.job_id, None) is None:
                continue
            task = asyncio.ensure_future(self._run(entry))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            started.append(task)
        return started

    async def _run(self, entry: _Entry) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._max_concurrency)
        async with self._sem:
            try:
                await entry.job()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("scheduled job %r failed", entry.name or entry.job_id)

    async def run_due(self) -> int:
        """Run every job whose time has come; return how many ran."""
        ran = 0
        for _ in range(_MAX_ROUNDS):
            started = self._start_due()
            waiting = set(self._inflight)
            if not started and not waiting:
                break
            ran += len(started)
            await asyncio.wait(waiting)
        return ran

    async def start(self) -> None:
        """Start the background loop that runs due jobs every tick of real time."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while True:
            self._start_due()
            await asyncio.sleep(self._tick)

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.wait(set(self._inflight))
        for hook in self._stop_hooks:
            await hook()

    async def drain(self, budget_seconds: float) -> int:
        """Drop every pending job and let the running ones finish; return how many had to be cancelled.

        A running job is a delivery on the wire: cancelling it abandons the request while its receiver
        goes on working on it. So a job is cancelled only when it outlives ``budget_seconds``; what the
        finished jobs schedule (a retry, a replay) is dropped with the rest.

        Usage: ``cancelled = await scheduler.drain(budget_seconds=15)`` (the admin reset).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_seconds
        while True:
            self._heap.clear()
            self._live.clear()
            remaining = deadline - loop.time()
            if not self._inflight or remaining <= 0:
                break
            await asyncio.wait(set(self._inflight), timeout=remaining)
        overdue = set(self._inflight)
        for task in overdue:
            task.cancel()
        if overdue:
            await asyncio.wait(overdue)
        return len(overdue)

    def clear(self) -> None:
        """Drop every pending job and cancel the ones running."""
        self._heap.clear()
        self._live.clear()
        for task in list(self._inflight):
            task.cancel()

    def pending(self) -> list[dict[str, Any]]:
        now = self._clock.timestamp()
        live = sorted(e for e in self._heap if e.job_id in self._live)
        return [
            {
                "id": e.job_id,
                "name": e.name,
                "due": self._clock.to_datetime(e.when).isoformat(),
                "in_seconds": round(e.when - now, 3),
            }
            for e in live
        ]
