"""Fixtures for the simulators' contract tests: real servers on 127.0.0.1 and webhook receivers."""

from collections.abc import Callable
from typing import Any

import pytest

from simulators.common.receiver import WebhookReceiver


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
