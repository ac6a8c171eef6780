"""Every fault type injected on Wompi's routes over real HTTP, through start-up config and /__admin/faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from simulators.common.faults import FaultPlan, FaultRule, HttpError
from simulators.wompi import WompiConfig, create_app
from simulators.wompi.testing import WompiDriver

TX_PATH = "/v1/transactions"


@pytest.fixture
def wompi_live(live_server: Callable[[Any], str]) -> Callable[..., Any]:
    """``async with wompi_live(rule, ...) as wompi``: a live simulator whose fault plan holds the rules."""

    @asynccontextmanager
    async def start(*rules: dict[str, Any], seed: int = 0, **overrides: Any) -> AsyncIterator[WompiDriver]:
        config = WompiConfig(**overrides)
        async with httpx.AsyncClient(base_url=live_server(create_app(config)), timeout=5) as http:
            if rules:
                put = await http.put("/__admin/faults", json={"rules": list(rules), "seed": seed})
                assert put.status_code == 200, put.text
            yield WompiDriver(http, config)

    return start


def rule(fault: dict[str, Any], path: str = TX_PATH, method: str = "POST", **extra: Any) -> dict[str, Any]:
    return {"fault": fault, "path": path, "method": method, **extra}


async def charges(wompi: WompiDriver) -> list[dict[str, Any]]:
    entries = (await wompi.http.get("/__admin/journal", params={"kind": "request"})).json()["entries"]
    return [e for e in entries if (e.get("summary") or {}).get("transaction_id")]


async def by_reference(wompi: WompiDriver, reference: str) -> list[dict[str, Any]]:
    response = await wompi.http.get(TX_PATH, params={"reference": reference}, headers=wompi.private_auth)
    return list(response.json()["data"])


async def test_latency_delays_the_answer(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "latency", "ms": 300}, "/v1/pse/*", "GET")) as wompi:
        started = time.perf_counter()
        response = await wompi.http.get("/v1/pse/financial_institutions", headers=wompi.public_auth)
        assert response.status_code == 200
        assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_http_errors_are_answered_without_reaching_the_gateway(
    wompi_live: Callable[..., Any], status: int
) -> None:
    async with wompi_live(rule({"type": "http_error", "status": status}, count=1)) as wompi:
        response = await wompi.pay_nequi("err-1", 100000)
        assert response.status_code == status
        assert await by_reference(wompi, "err-1") == []
        retried = await wompi.pay_nequi("err-1", 100000)  # count=1: the retry goes through
        assert retried.status_code == 201
        assert len(await charges(wompi)) == 1


async def test_rate_limit_sends_retry_after(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "rate_limited", "retry_after": 7})) as wompi:
        response = await wompi.pay_nequi("rl-1", 100000)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"


async def test_hang_outlasts_the_client_timeout(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "hang", "seconds": 3}, "/v1/transactions/*", "GET")) as wompi:
        with pytest.raises(httpx.ReadTimeout):
            await wompi.http.get("/v1/transactions/1-1-00000", timeout=0.3)


async def test_connection_reset_gives_the_client_a_transport_error(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "connection_reset"})) as wompi:
        with pytest.raises(httpx.TransportError):
            await wompi.pay_nequi("reset-1", 100000)
        assert await by_reference(wompi, "reset-1") == []


async def test_malformed_body_hides_a_charge_that_did_happen(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "malformed"}, count=1)) as wompi:
        response = await wompi.pay_nequi("lost-answer", 100000)
        assert response.status_code == 201
        with pytest.raises(json.JSONDecodeError):
            response.json()
        assert len(await by_reference(wompi, "lost-answer")) == 1  # a safe client looks it up


async def test_truncated_body_is_cut_in_half(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "truncated"}, "/v1/merchants/*", "GET")) as wompi:
        response = await wompi.http.get(f"/v1/merchants/{wompi.config.public_key}")
        assert response.status_code == 200
        assert response.content.startswith(b'{"data":')
        with pytest.raises(json.JSONDecodeError):
            response.json()


async def test_fail_then_succeed(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "fail_then_succeed", "times": 2, "status": 503})) as wompi:
        body = await wompi.transaction_body("ftl-1", 100000, {"type": "NEQUI", "phone_number": "3991111111"})
        statuses = [(await wompi.create(body)).status_code for _ in range(3)]
        assert statuses == [503, 503, 201]
        assert len(await charges(wompi)) == 1


async def test_admin_routes_are_exempt_and_faulted_requests_are_journaled(wompi_live: Callable[..., Any]) -> None:
    async with wompi_live(rule({"type": "http_error", "status": 500}, "*", "*")) as wompi:
        assert (await wompi.http.get("/__admin/clock")).status_code == 200
        assert (await wompi.http.get("/v1/pse/financial_institutions")).status_code == 500
        entries = (await wompi.http.get("/__admin/journal", params={"kind": "request"})).json()["entries"]
        assert entries[-1]["fault"] == "http_error" and entries[-1]["status"] == 500
        assert (await wompi.http.delete("/__admin/faults")).status_code == 200
        assert (await wompi.http.get("/v1/pse/financial_institutions", headers=wompi.public_auth)).status_code == 200


async def test_seeded_probability_repeats_exactly(wompi_live: Callable[..., Any]) -> None:
    runs = []
    for _ in range(2):
        flaky = rule({"type": "http_error", "status": 502}, "/v1/pse/*", "GET", probability=0.5)
        async with wompi_live(flaky, seed=42) as wompi:
            runs.append(
                [
                    (await wompi.http.get("/v1/pse/financial_institutions", headers=wompi.public_auth)).status_code
                    for _ in range(20)
                ]
            )
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 502}


async def test_faults_given_at_start_up(wompi_live: Callable[..., Any]) -> None:
    plan = FaultPlan((FaultRule(HttpError(503), path="/v1/merchants/*"),))
    async with wompi_live(faults=plan) as wompi:
        assert (await wompi.http.get(f"/v1/merchants/{wompi.config.public_key}")).status_code == 503
