"""Test doubles shared by the common-engine tests: a tiny webhook builder and a wired dispatcher."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from simulators.common import Journal, Scheduler, SimClock, WebhookDispatcher, WebhookMessage
from simulators.common.chaos import MissingSignature, TamperSigned, TamperUnsigned, WrongSecret


@dataclass
class FakeBuilder:
    """Signs ``{"id", "status", "note", "attempt"}`` with a toy signature over id and status only."""

    event_id: str = "evt-1"
    status: str = "APPROVED"
    secret: str = "s3cret"
    calls: list[int] = field(default_factory=list)

    def request(self, attempt: int, chaos: tuple[object, ...]) -> tuple[bytes, dict[str, str]]:
        self.calls.append(attempt)
        body = {"id": self.event_id, "status": self.status, "note": "hello", "attempt": attempt}
        secret = self.secret
        for c in chaos:
            if isinstance(c, TamperUnsigned):
                body[c.field] = c.value
            if isinstance(c, WrongSecret):
                secret = "not-the-secret"
        signature = toy_sign(str(body["id"]), str(body["status"]), secret)
        for c in chaos:
            if isinstance(c, TamperSigned):
                body[c.field] = c.value
        headers = {"content-type": "application/json", "x-signature": signature}
        if any(isinstance(c, MissingSignature) for c in chaos):
            del headers["x-signature"]
        return json.dumps(body).encode(), headers


def toy_sign(event_id: str, status: str, secret: str) -> str:
    return f"{event_id}|{status}|{secret}"


def wired(
    schedule: Sequence[float] = (1800, 10800, 86400), is_success: Callable[[int], bool] = lambda s: s == 200
) -> tuple[SimClock, Scheduler, Journal, WebhookDispatcher]:
    clock = SimClock()
    scheduler = Scheduler(clock)
    journal = Journal(clock=clock)
    dispatcher = WebhookDispatcher(
        clock=clock,
        scheduler=scheduler,
        journal=journal,
        schedule=schedule,
        is_success=is_success,
        timeout_seconds=2.0,
    )
    return clock, scheduler, journal, dispatcher


def message(url: str, builder: FakeBuilder | None = None, kind: str = "transaction.updated") -> WebhookMessage:
    builder = builder or FakeBuilder()
    return WebhookMessage("fake", kind, url, f"{builder.event_id}:{builder.status}", builder)
