"""WebhookDispatcher: at-least-once webhook delivery on the SimClock, with retries, chaos and a log."""

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from simulators.common.chaos import (
    BUILDER_CHAOS,
    ChaosPicker,
    Delay,
    Duplicate,
    Reorder,
    ReplayLater,
    WebhookChaosPlan,
)
from simulators.common.clock import SimClock
from simulators.common.journal import Journal
from simulators.common.scheduler import Scheduler

log = logging.getLogger("simulators.delivery")
_BODY_LOG_LIMIT = 2_000


class WebhookBuilder(Protocol):
    def request(self, attempt: int, chaos: tuple[object, ...]) -> tuple[bytes, dict[str, str]]:
        """Body and headers for this attempt, with the given chaos values applied (tampering,
        wrong secret, missing signature). PayU bumps `attempts`; Wompi keeps sent_at of the first."""
        ...


@dataclass(frozen=True)
class WebhookMessage:
    """One logical event to deliver; ``build`` renders each attempt's HTTP request.

    Usage: ``dispatcher.send(WebhookMessage("wompi", "transaction.updated", url, f"{tx_id}:APPROVED",
    builder))``.
    """

    gateway: str
    kind: str
    url: str
    event_key: str
    build: WebhookBuilder


@dataclass
class _Delivery:
    id: int
    message: WebhookMessage
    copy: int
    tamper: tuple[object, ...]
    first_due: float
    status: str = "pending"
    attempts: int = 0
    job_id: int | None = None
    first_request: tuple[bytes, dict[str, str]] | None = None
    replay_after: float | None = None
    chaos_names: list[str] = field(default_factory=list)


class WebhookDispatcher:
    """Delivers webhooks at least once, retrying per the gateway's schedule on the simulated clock.

    ``schedule`` holds the offsets, in seconds after the *first* attempt, of each retry: Wompi's
    ``(1800, 10800, 86400)`` gives attempts at +0, +30 min, +3 h and +24 h. An attempt fails on a
    transport error, a timeout or ``is_success(status)`` false; after the last the delivery is
    "exhausted". Usage::

        dispatcher = WebhookDispatcher(clock=clock, scheduler=scheduler, journal=journal,
                                       schedule=(1800, 10800, 86400), is_success=lambda s: s == 200)
        dispatcher.send(message)
    """

    def __init__(
        self,
        *,
        clock: SimClock,
        scheduler: Scheduler,
        journal: Journal,
        schedule: Sequence[float],
        is_success: Callable[[int], bool],
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        timeout_seconds: float = 10.0,
        log_limit: int = 20_000,
    ) -> None:
        self._clock = clock
        self._scheduler = scheduler
        self._journal = journal
        self.schedule = tuple(float(s) for s in schedule)
        if any(b <= a for a, b in itertools.pairwise((0.0, *self.schedule))):
            raise ValueError("retry offsets must be positive and increasing")
        self._is_success = is_success
        self._client_factory = client_factory
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None
        self._picker = ChaosPicker()
        self._ids = itertools.count(1)
        self._deliveries: dict[int, _Delivery] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=log_limit)
        self._held: list[_Delivery] = []
        scheduler.on_stop(self.aclose)

    @property
    def chaos(self) -> WebhookChaosPlan:
        return self._picker.plan

    @chaos.setter
    def chaos(self, plan: WebhookChaosPlan) -> None:
        self._picker.set_plan(plan)

    def chaos_snapshot(self) -> dict[str, Any]:
        return self._picker.snapshot()

    def send(self, message: WebhookMessage) -> None:
        """Queue the first attempt now (a job due immediately) and retries per the schedule."""
        chaos = self._picker.pick(message.kind)
        now = self._clock.timestamp()
        delay = sum(c.seconds for c in chaos if isinstance(c, Delay))
        tamper = tuple(c for c in chaos if isinstance(c, BUILDER_CHAOS))
        copies = 1 + sum(c.times for c in chaos if isinstance(c, Duplicate))
        replay = next((c.after_seconds for c in chaos if isinstance(c, ReplayLater)), None)
        reorder = next((c for c in chaos if isinstance(c, Reorder)), None)
        names = [c.type_tag for c in chaos]
        fresh = []
        for copy in range(copies):
            d = _Delivery(next(self._ids), message, copy, tamper, now + delay, chaos_names=names)
            d.replay_after = replay if copy == 0 else None
            self._deliveries[d.id] = d
            fresh.append(d)
        if reorder is not None:
            for d in fresh:
                d.first_due = now + max(delay, reorder.max_hold_seconds)
                self._plan_attempt(d, 1, d.first_due)
            self._held.extend(fresh)
            return
        for d in fresh:
            self._plan_attempt(d, 1, d.first_due)

    def _plan_attempt(self, d: _Delivery, attempt: int, due: float) -> None:
        async def job() -> None:
            await self._attempt(d, attempt, due)

        d.job_id = self._scheduler.call_at_timestamp(due, job, name=f"{d.message.gateway} webhook {d.id}#{attempt}")

    def _release_held(self) -> None:
        # The event that overtook the held ones has been attempted: let them go right after it.
        held, self._held = self._held, []
        now = self._clock.timestamp()
        for d in held:
            if d.status == "pending" and d.attempts == 0 and d.job_id is not None:
                self._scheduler.cancel(d.job_id)
                d.first_due = now
                self._plan_attempt(d, 1, now)

    async def _attempt(self, d: _Delivery, attempt: int, due: float) -> None:
        if d.status != "pending":
            return
        if d in self._held and attempt == 1:
            self._held.remove(d)
        body, headers = d.message.build.request(attempt, d.tamper)
        if attempt == 1:
            d.first_request = (body, headers)
        d.attempts = attempt
        status, error, response_text, ms = await self._post(d.message.url, body, headers)
        ok = status is not None and self._is_success(status)
        if ok:
            d.status = "delivered"
        elif attempt <= len(self.schedule):
            self._plan_attempt(d, attempt + 1, d.first_due + self.schedule[attempt - 1])
        else:
            d.status = "exhausted"
        outcome = "delivered" if ok else ("exhausted" if d.status == "exhausted" else "retry_scheduled")
        if d.status != "pending":
            self._prune()
        self._record(d, attempt, due, body, status, error, response_text, ms, outcome, replay=False)
        if attempt == 1:
            if d.replay_after is not None:
                self._plan_replay(d)
            if self._held and d not in self._held:
                self._release_held()

    def _prune(self) -> None:
        # Finished deliveries are kept for /__admin/deliveries, but not forever under load.
        excess = len(self._deliveries) - self._log.maxlen if self._log.maxlen else 0
        for key in [k for k, v in self._deliveries.items() if v.status != "pending"][: max(excess, 0)]:
            del self._deliveries[key]

    def _plan_replay(self, d: _Delivery) -> None:
        assert d.first_request is not None
        body, headers = d.first_request
        due = d.first_due + (d.replay_after or 0.0)

        async def job() -> None:
            status, error, text, ms = await self._post(d.message.url, body, headers)
            self._record(d, 1, due, body, status, error, text, ms, "replayed", replay=True)

        self._scheduler.call_at_timestamp(due, job, name=f"{d.message.gateway} replay {d.id}")

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None, str, float]:
        started = time.perf_counter()
        try:
            response = await self._get_client().post(url, content=body, headers=headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            return None, f"{type(exc).__name__}: {exc}", "", ms
        ms = (time.perf_counter() - started) * 1000
        return response.status_code, None, response.text[:_BODY_LOG_LIMIT], ms

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._client_factory() if self._client_factory else httpx.AsyncClient()
        return self._client

    def _record(
        self,
        d: _Delivery,
        attempt: int,
        due: float,
        body: bytes,
        status: int | None,
        error: str | None,
        response_text: str,
        ms: float,
        outcome: str,
        *,
        replay: bool,
    ) -> None:
        entry = {
            "delivery_id": d.id,
            "gateway": d.message.gateway,
            "kind": d.message.kind,
            "event_key": d.message.event_key,
            "copy": d.copy,
            "attempt": attempt,
            "replay": replay,
            "scheduled_for": self._clock.to_datetime(due).isoformat(),
            "at": self._clock.now().isoformat(),
            "url": d.message.url,
            "status": status,
            "error": error,
            "duration_ms": round(ms, 3),
            "chaos": list(d.chaos_names),
            "outcome": outcome,
            "request_body": body.decode("utf-8", "replace")[:_BODY_LOG_LIMIT],
            "response_body": response_text,
        }
        self._log.append(entry)
        self._journal.record(
            "webhook",
            gateway=d.message.gateway,
            event_kind=d.message.kind,
            **{k: entry[k] for k in ("delivery_id", "event_key", "attempt", "status", "outcome")},
        )

    def log(self) -> list[dict[str, Any]]:
        """Every attempt (and replay), oldest first."""
        return [dict(e) for e in self._log]

    def deliveries(self) -> list[dict[str, Any]]:
        """One summary per delivery: pending, delivered or exhausted, and how many attempts."""
        return [
            {
                "delivery_id": d.id,
                "gateway": d.message.gateway,
                "kind": d.message.kind,
                "event_key": d.message.event_key,
                "copy": d.copy,
                "url": d.message.url,
                "status": d.status,
                "attempts": d.attempts,
                "chaos": list(d.chaos_names),
            }
            for d in self._deliveries.values()
        ]

    def reset(self) -> None:
        for d in self._deliveries.values():
            if d.job_id is not None:
                self._scheduler.cancel(d.job_id)
        self._deliveries.clear()
        self._held.clear()
        self._log.clear()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
