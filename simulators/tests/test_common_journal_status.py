"""The journal records the status each client really got: crashes as 500, resets as 0, faults as injected."""

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from simulators.common import ConnectionReset, FaultPlan, FaultRule, HttpError, SimRuntime


def crashing_app(plan: FaultPlan | None = None) -> FastAPI:
    """A toy simulator whose POST /boom raises, as a handler with an unforeseen input would."""
    sim = SimRuntime.build(schedule=(), is_success=lambda s: s == 200, state=None, faults=plan)
    app = sim.new_app()

    @app.post("/boom")
    async def boom() -> dict[str, str]:
        raise ArithmeticError("an input nobody foresaw")

    @app.get("/fine")
    async def fine() -> dict[str, str]:
        return {"ok": "yes"}

    sim.install(app, reset_state=lambda: None)
    return app


def request_statuses(app: FastAPI, expected: int) -> list[tuple[str, int]]:
    """(path, status) of the journaled requests, once ``expected`` of them are in: an entry is written
    just after the answer's last byte leaves, so it may land a moment after the client has it."""
    deadline = time.monotonic() + 2
    while len(entries := app.state.sim.journal.entries("request")) < expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return [(e["path"], e["status"]) for e in entries]


def test_a_crash_is_journaled_with_the_500_the_client_received(live_server: Callable[[Any], str]) -> None:
    app = crashing_app()
    base = live_server(app)
    # The server drops a connection after a crash, so each call gets its own.
    assert httpx.post(f"{base}/boom", timeout=5).status_code == 500
    assert httpx.get(f"{base}/fine", timeout=5).status_code == 200
    assert request_statuses(app, 2) == [("/boom", 500), ("/fine", 200)]


def test_an_injected_reset_is_journaled_as_no_answer(live_server: Callable[[Any], str]) -> None:
    app = crashing_app(FaultPlan((FaultRule(ConnectionReset(), path="/fine", count=1),)))
    with httpx.Client(base_url=live_server(app), timeout=5) as client, pytest.raises(httpx.TransportError):
        client.get("/fine")
    assert request_statuses(app, 1) == [("/fine", 0)]


def test_an_injected_error_is_journaled_with_its_status(live_server: Callable[[Any], str]) -> None:
    app = crashing_app(FaultPlan((FaultRule(HttpError(503), path="/fine", count=1),)))
    with httpx.Client(base_url=live_server(app), timeout=5) as client:
        assert client.get("/fine").status_code == 503
    request_statuses(app, 1)
    entries = app.state.sim.journal.entries("request")
    assert [(e["status"], e.get("fault")) for e in entries] == [(503, "http_error")]
