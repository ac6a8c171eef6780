"""The /__admin API shared by every simulator: clock, faults, chaos, journal, deliveries, reset."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from simulators.common.chaos import WebhookChaosPlan
from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookDispatcher
from simulators.common.faults import FaultInjector, FaultPlan
from simulators.common.journal import Journal
from simulators.common.scheduler import Scheduler

# Longer than a delivery's own timeout (10 s): a delivery still running after this is stuck, and is cancelled.
RESET_DRAIN_SECONDS = 15.0


class Advance(BaseModel):
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


def build_admin_router(
    *,
    clock: SimClock,
    scheduler: Scheduler,
    journal: Journal,
    injector: FaultInjector,
    dispatcher: WebhookDispatcher,
    reset_state: Callable[[], None],
    extra: APIRouter | None = None,
) -> APIRouter:
    """Router mounted at ``/__admin``; ``extra`` holds gateway routes, with paths relative to it.

    Usage: ``app.include_router(build_admin_router(clock=..., ..., reset_state=state.clear,
    extra=efecty_admin))``.
    """
    router = APIRouter(prefix="/__admin", tags=["admin"])

    @router.get("/clock")
    async def get_clock() -> dict[str, Any]:
        return {"now": clock.now().isoformat(), "offset_seconds": clock.offset_seconds}

    @router.post("/clock/advance")
    async def advance(body: Advance) -> dict[str, Any]:
        clock.advance(body.seconds)
        ran = await scheduler.run_due()
        journal.record("admin", action="clock.advance", seconds=body.seconds, jobs_run=ran)
        return {"jobs_run": ran, "now": clock.now().isoformat(), "offset_seconds": clock.offset_seconds}

    @router.get("/scheduler")
    async def pending() -> dict[str, Any]:
        return {"pending": scheduler.pending(), "failures": scheduler.failures}

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return injector.snapshot()

    @router.put("/faults")
    async def put_faults(plan: dict[str, Any] = Body(...)) -> dict[str, Any]:
        injector.set_plan(_parse(FaultPlan.from_dict, plan))
        journal.record("admin", action="faults.set", plan=plan)
        return injector.snapshot()

    @router.delete("/faults")
    async def delete_faults() -> dict[str, Any]:
        injector.clear()
        journal.record("admin", action="faults.clear")
        return injector.snapshot()

    @router.get("/chaos")
    async def get_chaos() -> dict[str, Any]:
        return dispatcher.chaos_snapshot()

    @router.put("/chaos")
    async def put_chaos(plan: dict[str, Any] = Body(...)) -> dict[str, Any]:
        dispatcher.chaos = _parse(WebhookChaosPlan.from_dict, plan)
        journal.record("admin", action="chaos.set", plan=plan)
        return dispatcher.chaos_snapshot()

    @router.delete("/chaos")
    async def delete_chaos() -> dict[str, Any]:
        dispatcher.chaos = WebhookChaosPlan()
        journal.record("admin", action="chaos.clear")
        return dispatcher.chaos_snapshot()

    @router.get("/journal")
    async def get_journal(
        kind: str | None = Query(None, pattern="^(request|webhook|admin|state)$"), since: int = 0
    ) -> dict[str, Any]:
        return {"entries": journal.entries(kind, since=since)}

    @router.get("/deliveries")
    async def get_deliveries() -> list[dict[str, Any]]:
        return dispatcher.log()

    @router.get("/deliveries/summary")
    async def get_delivery_summary() -> list[dict[str, Any]]:
        return dispatcher.deliveries()

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        # Deliveries already on the wire get their answer first: a receiver must not be left working on a
        # request the simulator has forgotten (it would land in whatever state the receiver is reset to).
        cancelled = await scheduler.drain(budget_seconds=RESET_DRAIN_SECONDS)
        dispatcher.reset()
        dispatcher.chaos = WebhookChaosPlan()
        injector.clear()
        reset_state()
        clock.reset()
        journal.clear()
        return {"reset": True, "now": clock.now().isoformat(), "cancelled_deliveries": cancelled}

    if extra is not None:
        router.include_router(extra)
    return router


def _parse(parser: Callable[[Any], Any], data: Any) -> Any:
    try:
        return parser(data)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail={"code": "INVALID_PLAN", "message": str(exc)}) from exc
