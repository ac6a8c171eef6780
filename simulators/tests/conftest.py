"""Fixtures for the simulators' contract tests: real servers on 127.0.0.1 and webhook receivers."""

import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from simulators.common import clock
from simulators.common.receiver import WebhookReceiver
from simulators.payu.testing import InProcessPayU


@pytest.fixture
def live_server(serve_app: Callable[[Any], str]) -> Callable[[Any], str]:
    """Serve an ASGI app over real HTTP on a free 127.0.0.1 port; stopped after the test.

    Usage: ``base_url = live_server(create_app(config))`` (lifespan runs, so the scheduler ticks). The same
    fixture the simulators' pytest plugin gives applications (``serve_app``), under the name these tests use.
    """
    return serve_app


@pytest.fixture
def webhook_receiver(live_server: Callable[[Any], str]) -> Callable[..., tuple[WebhookReceiver, str]]:
    """Start a recording receiver: ``receiver, url = webhook_receiver(statuses=[500], status=200)``.

    The url ends in ``/hook``; ``receiver.received`` holds each request (headers, body).
    """

    def start(*, statuses: list[int] | None = None, status: int = 200) -> tuple[WebhookReceiver, str]:
        receiver = WebhookReceiver(status=status, statuses=list(statuses or []))
        return receiver, live_server(receiver.app()) + "/hook"

    return start


@pytest.fixture
def frozen_wall(monkeypatch: pytest.MonkeyPatch) -> float:
    """Stop the wall clock under every SimClock: simulated time then moves only when the test advances it.

    A SimClock is wall time plus an offset, so a test that checks "not yet" half a simulated second before a
    due time also spends, out of that half second, whatever real time the machine takes meanwhile: on a busy
    machine the job is due before the check (0.6 s of real time failed the PayU retry test: tried). Returns
    the stopped wall time. Usage: ``async def test_x(frozen_wall: float, ...)``.
    """
    stopped = time.time()
    monkeypatch.setattr(clock, "time", SimpleNamespace(time=lambda: stopped))
    return stopped


@pytest.fixture
async def payu() -> AsyncIterator[InProcessPayU]:
    """An in-process PayU simulator, closed after the test (the PayU test modules share it)."""
    sim = InProcessPayU()
    yield sim
    await sim.close()
