"""Contract tests for the shared /__admin API, in-process over httpx's ASGI transport."""

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from simulators.common import SimRuntime
from simulators.tests._fakes import message


def make_app() -> FastAPI:
    sim = SimRuntime.build(schedule=(60,), is_success=lambda s: s == 200, state={"n": 0})
    app = FastAPI()

    @app.post("/bump")
    async def bump() -> dict[str, int]:
        sim.state["n"] += 1
        return {"n": sim.state["n"]}

    extra = APIRouter()

    @extra.post("/things/{name}/poke")
    async def poke(name: str) -> dict[str, str]:
        return {"poked": name}

    sim.install(app, reset_state=lambda: sim.state.update(n=0), extra=extra)
    return app


@pytest.fixture
async def admin() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        yield app, client
    # No lifespan runs under ASGITransport; stop closes the dispatcher's HTTP client.
    await app.state.sim.scheduler.stop()


async def test_clock_advance_runs_due_jobs_before_returning(admin) -> None:
    app, client = admin
    ran: list[bool] = []

    async def job() -> None:
        ran.append(True)

    app.state.sim.scheduler.call_later(600, job, name="later")
    before = (await client.get("/__admin/clock")).json()
    assert before["offset_seconds"] == 0
    assert [p["name"] for p in (await client.get("/__admin/scheduler")).json()["pending"]] == ["later"]
    response = (await client.post("/__admin/clock/advance", json={"seconds": 600})).json()
    assert response["jobs_run"] == 1 and ran == [True]
    assert response["offset_seconds"] == 600
    elapsed = datetime.fromisoformat(response["now"]) - datetime.fromisoformat(before["now"])
    assert 600 <= elapsed.total_seconds() < 660  # 600 s advanced, plus however slow this machine is
    assert (await client.post("/__admin/clock/advance", json={"seconds": -5})).status_code == 422


async def test_faults_can_be_set_read_and_cleared(admin) -> None:
    _, client = admin
    plan = {"rules": [{"fault": {"type": "http_error", "status": 503}, "path": "/bump", "count": 1}], "seed": 4}
    put = await client.put("/__admin/faults", json=plan)
    assert put.status_code == 200 and put.json()["plan"]["rules"][0]["fault"]["status"] == 503
    assert (await client.post("/bump")).status_code == 503
    assert (await client.get("/__admin/faults")).json()["applied"] == [1]
    assert (await client.post("/bump")).status_code == 200
    await client.put("/__admin/faults", json={"rules": [{"fault": {"type": "http_error", "status": 500}}]})
    assert (await client.get("/__admin/clock")).status_code == 200, "admin routes are never faulted"
    assert (await client.delete("/__admin/faults")).json()["plan"]["rules"] == []
    assert (await client.post("/bump")).status_code == 200


async def test_invalid_plans_are_refused_with_422(admin) -> None:
    _, client = admin
    bad_fault = await client.put("/__admin/faults", json={"rules": [{"fault": {"type": "meteor"}}]})
    assert bad_fault.status_code == 422
    assert "unknown fault type" in bad_fault.json()["detail"]["message"]
    bad_chaos = await client.put("/__admin/chaos", json={"rules": [{"chaos": {"type": "duplicate"}}]})
    assert bad_chaos.status_code == 422


async def test_chaos_can_be_set_read_and_cleared(admin) -> None:
    app, client = admin
    plan = {"rules": [{"chaos": {"type": "duplicate", "times": 2}, "event_filter": "transaction.*"}]}
    assert (await client.put("/__admin/chaos", json=plan)).status_code == 200
    got = (await client.get("/__admin/chaos")).json()
    assert got["plan"]["rules"][0]["chaos"] == {"type": "duplicate", "times": 2}
    assert app.state.sim.dispatcher.chaos.rules[0].event_filter == "transaction.*"
    assert (await client.delete("/__admin/chaos")).json()["plan"]["rules"] == []


async def test_journal_and_deliveries_are_exposed(admin, webhook_receiver) -> None:
    app, client = admin
    receiver, url = webhook_receiver(status=500)
    await client.post("/bump")
    app.state.sim.dispatcher.send(message(url))
    await client.post("/__admin/clock/advance", json={"seconds": 0})
    requests = (await client.get("/__admin/journal", params={"kind": "request"})).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in requests] == [("POST", "/bump", 200)]
    webhooks = (await client.get("/__admin/journal", params={"kind": "webhook"})).json()["entries"]
    assert [(w["event_kind"], w["status"], w["outcome"]) for w in webhooks] == [
        ("transaction.updated", 500, "retry_scheduled")
    ]
    admin_entries = (await client.get("/__admin/journal", params={"kind": "admin"})).json()["entries"]
    assert admin_entries[0]["action"] == "clock.advance"
    deliveries = (await client.get("/__admin/deliveries")).json()
    assert len(deliveries) == 1 and deliveries[0]["status"] == 500
    summary = (await client.get("/__admin/deliveries/summary")).json()
    assert summary[0]["status"] == "pending" and summary[0]["attempts"] == 1
    assert (await client.get("/__admin/journal", params={"kind": "nonsense"})).status_code == 422
    assert len(receiver.received) == 1


async def test_reset_clears_state_journal_faults_chaos_deliveries_and_clock(admin, webhook_receiver) -> None:
    app, client = admin
    _, url = webhook_receiver(status=500)
    sim = app.state.sim
    await client.post("/bump")
    await client.put("/__admin/faults", json={"rules": [{"fault": {"type": "latency", "ms": 1}}]})
    await client.put("/__admin/chaos", json={"rules": [{"chaos": {"type": "wrong_secret"}}]})
    sim.dispatcher.send(message(url))
    await client.post("/__admin/clock/advance", json={"seconds": 10})
    assert (await client.post("/__admin/reset")).json()["reset"] is True
    assert sim.state == {"n": 0}
    assert sim.journal.entries() == []
    assert sim.injector.plan.rules == () and sim.dispatcher.chaos.rules == ()
    assert sim.dispatcher.log() == [] and sim.scheduler.pending() == []
    assert sim.clock.offset_seconds == 0


async def test_gateway_routes_mount_under_admin(admin) -> None:
    _, client = admin
    assert (await client.post("/__admin/things/x/poke")).json() == {"poked": "x"}
    assert (await client.post("/things/x/poke")).status_code == 404


async def test_reset_waits_for_a_delivery_on_the_wire_to_get_its_answer(admin, live_server) -> None:
    app, client = admin
    started, answered = threading.Event(), threading.Event()
    slow = FastAPI()

    @slow.post("/hook")
    async def hook() -> dict[str, bool]:
        started.set()
        await asyncio.sleep(0.5)
        answered.set()
        return {"ok": True}

    sim = app.state.sim
    sim.dispatcher.send(message(live_server(slow) + "/hook"))
    await sim.scheduler.start()
    assert await asyncio.to_thread(started.wait, 5)
    response = (await client.post("/__admin/reset")).json()
    # The receiver finished its work before the reset returned, and nothing was cut off.
    assert answered.is_set()
    assert response["cancelled_deliveries"] == 0
    assert sim.dispatcher.log() == [] and sim.scheduler.pending() == []
