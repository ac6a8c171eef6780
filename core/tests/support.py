"""Test helpers for the gateway clients: a recording MockTransport, a fake sleep and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Wraps a handler in ``httpx.MockTransport`` and keeps every request it saw.

    Usage: ``rec = Recorder(handler); async with rec.client() as http: ...; rec.json(0)``.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def json(self, index: int) -> Any:
        return json.loads(self.requests[index].content)

    def commands(self) -> list[str]:
        """PayU: the ``command`` of every request, in order."""
        return [json.loads(r.content)["command"] for r in self.requests]


class FakeSleep:
    """Records requested waits instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sequence(*steps: httpx.Response | Exception) -> Handler:
    """A handler answering each request with the next step; an exception step is raised (transport error)."""
    remaining = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        if not remaining:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        step = remaining.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return handler
