"""Contract tests for fault injection: every fault type over real HTTP, plus counts, seeds and JSON."""

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request

from simulators.common import (
    ConnectionReset,
    FailThenSucceed,
    FaultPlan,
    FaultRule,
    Hang,
    HttpError,
    Latency,
    Malformed,
    RateLimited,
    SimRuntime,
    Truncated,
    fault_from_dict,
)
from simulators.common.middleware import InjectedConnectionReset


def make_app(plan: FaultPlan | None = None) -> FastAPI:
    """A toy simulator: GET /ping, POST /charge (counts charges), POST /rpc (PayU-style command)."""
    sim = SimRuntime.build(schedule=(), is_success=lambda s: s == 200, state={"charges": 0}, faults=plan)
    app = FastAPI(lifespan=sim.lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, object]:
        return {"ok": True, "padding": "x" * 64}

    @app.post("/charge")
    async def charge(request: Request) -> dict[str, object]:
        sim.state["charges"] += 1
        request.state.journal_summary = {"amount": "65000"}
        return {"charged": True, "n": sim.state["charges"]}

    @app.post("/rpc")
    async def rpc(request: Request) -> dict[str, object]:
        body = json.loads(await request.body(), parse_float=Decimal)
        return {"code": "SUCCESS", "command": body["command"]}

    sim.install(app, reset_state=lambda: sim.state.update(charges=0))
    return app


@pytest.fixture
def serve_with(live_server) -> Iterator[Callable[..., tuple[FastAPI, httpx.Client]]]:
    """``app, client = serve_with(FaultRule(...), seed=1)``: a live toy simulator with that plan."""
    clients: list[httpx.Client] = []

    def start(*rules: FaultRule, seed: int = 0) -> tuple[FastAPI, httpx.Client]:
        app = make_app(FaultPlan(rules, seed=seed))
        clients.append(httpx.Client(base_url=live_server(app), timeout=5))
        return app, clients[-1]

    yield start
    for client in clients:
        client.close()


def test_latency_is_measurable_and_then_the_request_is_served(serve_with) -> None:
    app, client = serve_with(FaultRule(Latency(250), path="/ping"))
    started = time.perf_counter()
    response = client.get("/ping")
    assert time.perf_counter() - started >= 0.25
    assert response.json()["ok"] is True
    client.post("/charge")
    # The rule delayed /ping and nothing else: its count, not a stopwatch (a busy machine is slow anyway).
    assert app.state.sim.injector.snapshot()["applied"] == [1]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_errors_are_answered_without_handling_the_request(serve_with, status: int) -> None:
    app, client = serve_with(FaultRule(HttpError(status), path="/charge", count=1))
    response = client.post("/charge")
    assert response.status_code == status
    assert response.json()["error"]["code"] == "INJECTED_FAULT"
    assert app.state.sim.state["charges"] == 0
    assert client.post("/charge").status_code == 200
    assert app.state.sim.state["charges"] == 1


def test_rate_limited_answers_429_with_retry_after(serve_with) -> None:
    _, client = serve_with(FaultRule(RateLimited(retry_after=17), method="GET"))
    response = client.get("/ping")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "17"
    assert client.post("/charge").status_code == 200


def test_hang_outlasts_the_client_timeout(serve_with) -> None:
    app, client = serve_with(FaultRule(Hang(seconds=5), path="/charge", count=1))
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/charge", timeout=0.3)
    assert 0.3 <= time.perf_counter() - started < 5  # the client's timeout ended it, not the 5 s hang
    assert app.state.sim.state["charges"] == 0
    assert client.post("/charge").status_code == 200


def test_hang_shorter_than_the_timeout_ends_in_504(serve_with) -> None:
    _, client = serve_with(FaultRule(Hang(seconds=0.2)))
    assert client.get("/ping", timeout=3).status_code == 504


def test_connection_reset_is_a_transport_error_for_httpx(serve_with) -> None:
    app, client = serve_with(FaultRule(ConnectionReset(), path="/charge", count=1))
    with pytest.raises(httpx.TransportError):
        client.post("/charge")
    assert app.state.sim.state["charges"] == 0
    assert client.post("/charge").status_code == 200


def test_malformed_body_is_not_json_but_the_request_was_handled(serve_with) -> None:
    app, client = serve_with(FaultRule(Malformed(), path="/charge", count=1))
    response = client.post("/charge")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert app.state.sim.state["charges"] == 1


def test_truncated_body_is_half_the_real_one(serve_with) -> None:
    _, client = serve_with(FaultRule(Truncated(), path="/ping", count=1))
    cut = client.get("/ping")
    whole = client.get("/ping")
    assert cut.status_code == 200
    assert whole.content.startswith(cut.content) and len(cut.content) == len(whole.content) // 2
    assert int(cut.headers["content-length"]) == len(cut.content)
    with pytest.raises(json.JSONDecodeError):
        cut.json()


def test_fail_n_times_then_succeed(serve_with) -> None:
    app, client = serve_with(FaultRule(FailThenSucceed(times=3, status=502), path="/charge"))
    assert [client.post("/charge").status_code for _ in range(5)] == [502, 502, 502, 200, 200]
    assert app.state.sim.state["charges"] == 2


def test_count_limits_a_rule_to_the_next_n_matching_requests(serve_with) -> None:
    app, client = serve_with(FaultRule(HttpError(500), path="/charge", method="POST", count=2))
    assert client.get("/ping").status_code == 200
    assert [client.post("/charge").status_code for _ in range(4)] == [500, 500, 200, 200]
    assert app.state.sim.injector.snapshot()["applied"] == [2]


def test_match_command_selects_rpc_calls_by_body(serve_with) -> None:
    _, client = serve_with(FaultRule(HttpError(503), path="/rpc", match_command="SUBMIT_TRANSACTION"))
    assert client.post("/rpc", json={"command": "PING"}).json() == {"code": "SUCCESS", "command": "PING"}
    assert client.post("/rpc", json={"command": "SUBMIT_TRANSACTION"}).status_code == 503
    # The body read for matching is replayed to the handler intact.
    assert client.post("/rpc", content=b'{"command": "ORDER_DETAIL", "x": 1.10}').json()["command"] == "ORDER_DETAIL"


def test_seeded_probability_is_reproducible(serve_with) -> None:
    def run(seed: int) -> list[int]:
        _, client = serve_with(FaultRule(HttpError(503), probability=0.3), seed=seed)
        return [client.get("/ping").status_code for _ in range(40)]

    first, again, other = run(42), run(42), run(43)
    assert first == again
    assert first != other
    assert 0 < first.count(503) < 40


def test_journal_records_requests_with_injected_status_and_summary(serve_with) -> None:
    app, client = serve_with(FaultRule(HttpError(502), path="/charge", count=1))
    client.post("/charge")
    client.post("/charge")
    client.get("/__admin/clock")
    entries = app.state.sim.journal.entries("request")
    assert [(e["path"], e["status"]) for e in entries] == [("/charge", 502), ("/charge", 200)]
    assert entries[0]["fault"] == "http_error" and "summary" not in entries[0]
    assert entries[1]["summary"] == {"amount": "65000"}


async def test_in_process_reset_raises_instead_of_hanging_up() -> None:
    app = make_app(FaultPlan((FaultRule(ConnectionReset()),)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        with pytest.raises(InjectedConnectionReset):
            await client.get("/ping")


def test_fault_plans_round_trip_through_json_and_reject_nonsense() -> None:
    plan = FaultPlan(
        (
            FaultRule(Latency(10)),
            FaultRule(HttpError(502), path="/v1/*", method="POST", count=3, probability=0.5),
            FaultRule(RateLimited(5)),
            FaultRule(Hang(1.5)),
            FaultRule(ConnectionReset(), match_command="SUBMIT_TRANSACTION"),
            FaultRule(Malformed()),
            FaultRule(Truncated()),
            FaultRule(FailThenSucceed(2)),
        ),
        seed=9,
    )
    assert FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert fault_from_dict({"type": "HttpError", "status": 500}) == HttpError(500)
    for bad, message in [
        ({"type": "http_error", "status": 200}, "4xx/5xx"),
        ({"type": "latency", "ms": -1}, "latency"),
        ({"type": "nope"}, "unknown fault type"),
        ({"type": "hang"}, "hang"),
        ({"status": 500}, "'type'"),
    ]:
        with pytest.raises(ValueError, match=message):
            fault_from_dict(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probability"):
        FaultRule.from_dict({"fault": {"type": "malformed"}, "probability": 2})
