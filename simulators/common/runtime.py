"""SimRuntime: the per-app bundle (clock, scheduler, journal, faults, webhooks) behind app.state.sim."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from simulators.common.admin import build_admin_router
from simulators.common.chaos import WebhookChaosPlan
from simulators.common.clock import SimClock
from simulators.common.delivery import WebhookDispatcher
from simulators.common.faults import FaultInjector, FaultPlan
from simulators.common.journal import Journal
from simulators.common.middleware import fault_middleware, journal_middleware
from simulators.common.scheduler import Scheduler


@dataclass
class SimRuntime:
    """Everything a simulator shares with the engine; ``state`` is the gateway's own.

    Usage::

        sim = SimRuntime.build(gateway="efecty", schedule=(60, 300), is_success=lambda s: s < 300,
                               faults=config.faults, chaos=config.chaos, state=EfectyState())
        app = sim.new_app(title="Efecty simulator")   # or FastAPI(lifespan=sim.lifespan)
        sim.install(app, reset_state=sim.state.clear, extra=admin_routes)
    """

    clock: SimClock
    scheduler: Scheduler
    journal: Journal
    injector: FaultInjector
    dispatcher: WebhookDispatcher
    state: Any

    @classmethod
    def build(
        cls,
        *,
        schedule: Sequence[float],
        is_success: Callable[[int], bool],
        state: Any,
        faults: FaultPlan | None = None,
        chaos: WebhookChaosPlan | None = None,
        clock: SimClock | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        webhook_timeout_seconds: float = 10.0,
        journal_size: int = 20_000,
    ) -> "SimRuntime":
        clock = clock or SimClock()
        scheduler = Scheduler(clock)
        journal = Journal(clock=clock, maxlen=journal_size)
        dispatcher = WebhookDispatcher(
            clock=clock,
            scheduler=scheduler,
            journal=journal,
            schedule=schedule,
            is_success=is_success,
            client_factory=client_factory,
            timeout_seconds=webhook_timeout_seconds,
        )
        dispatcher.chaos = chaos or WebhookChaosPlan()
        return cls(clock, scheduler, journal, FaultInjector(faults), dispatcher, state)

    def new_app(self, **fastapi_options: Any) -> FastAPI:
        """A FastAPI app with this runtime's lifespan and FastAPI's built-in telemetry switched off.

        FastAPI's telemetry checks OpenTelemetry providers on every request; a simulator needs none
        of it and must stay cheap under load. Usage: ``app = sim.new_app(title="Efecty simulator")``.
        """
        options: dict[str, Any] = {
            "lifespan": self.lifespan,
            "telemetry": {"tracing": False, "metrics": False, "logs": False},
        }
        options.update(fastapi_options)
        return FastAPI(**options)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.scheduler.start()
        try:
            yield
        finally:
            await self.scheduler.stop()

    def install(self, app: FastAPI, *, reset_state: Callable[[], None], extra: APIRouter | None = None) -> None:
        """Mount /__admin, add fault and journal middleware, and expose ``app.state.sim``."""
        app.state.sim = self
        app.include_router(
            build_admin_router(
                clock=self.clock,
                scheduler=self.scheduler,
                journal=self.journal,
                injector=self.injector,
                dispatcher=self.dispatcher,
                reset_state=reset_state,
                extra=extra,
            )
        )
        # Added last = outermost: the journal sees the statuses that faults inject.
        app.add_middleware(fault_middleware, injector=self.injector)
        app.add_middleware(journal_middleware, journal=self.journal)
