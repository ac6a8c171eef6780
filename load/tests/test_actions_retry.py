"""A checkout's same-key retry is itself retried while the core answers 5xx or nothing (a database crash under
it), so the idempotency check compares answers, not an outage's 503 with a 200."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from load import actions


class Scripted:
    """A Locust-like client whose POSTs answer from a script: (status, body) per call; status 0 = no answer."""

    def __init__(self, *answers: tuple[int, dict[str, Any] | None]) -> None:
        self.answers = list(answers)
        self.calls = 0

    @contextmanager
    def post(self, path: str, **_: Any) -> Iterator[Any]:
        status, body = self.answers[self.calls]
        self.calls += 1

        class Response:
            status_code = status
            text = json.dumps(body) if body is not None else ""

            def json(self) -> Any:
                return body

            def failure(self, _: str) -> None:
                pass

        yield Response()


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(actions.gevent, "sleep", slept.append)
    return slept


PAID = {"transaction": {"status": "pending", "reference": "R-1"}}


def test_an_outage_is_waited_out_and_the_answer_compared(no_waiting: list[float]) -> None:
    client = Scripted((503, {"error": {}}), (0, None), (200, PAID))
    assert actions.retry_same_key(client, "t", {}, "key-1", max_tries=6) == (200, PAID)
    assert client.calls == 3 and no_waiting == [0.25, 0.5]


def test_a_different_answer_ends_the_retries_at_once() -> None:
    client = Scripted((409, {"error": {"code": "idempotency_key_reused"}}), (200, PAID))
    assert actions.retry_same_key(client, "t", {}, "key-1", max_tries=6)[0] == 409
    assert client.calls == 1


def test_the_retries_are_bounded() -> None:
    client = Scripted(*[(503, None)] * 10)
    assert actions.retry_same_key(client, "t", {}, "key-1", max_tries=4)[0] == 503
    assert client.calls == 4
