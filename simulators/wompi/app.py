"""Wompi simulator application factory: wires the gateway to the shared clock, faults, webhooks and admin.

Usage: ``app = create_app(WompiConfig(events_url="http://127.0.0.1:9000/events"))``;
in tests ``app.state.sim`` is the SimRuntime and ``app.state.sim.state`` the WompiGateway.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from simulators.common.runtime import SimRuntime
from simulators.wompi.config import WompiConfig
from simulators.wompi.errors import WompiError, routing_error_handler, wompi_error_handler
from simulators.wompi.routes import api_routes, build_wompi_admin_router
from simulators.wompi.service import WompiGateway


def only_200(status: int) -> bool:
    """Wompi counts an event as received only on HTTP 200; a 201 or 204 is a failure and is retried."""
    return status == 200


def create_app(config: WompiConfig | None = None) -> FastAPI:
    """Build one simulated Wompi sandbox with its own state, clock and admin API.

    Usage: ``serve(create_app(), port=8002)`` or ``ThreadedServer(create_app(WompiConfig(seed=3)))``
    """
    config = config or WompiConfig()
    sim = SimRuntime.build(
        schedule=config.retry_schedule,
        is_success=only_200,
        state=None,
        faults=config.faults,
        chaos=config.chaos,
        webhook_timeout_seconds=config.webhook_timeout_seconds,
    )
    gateway = WompiGateway(
        config, clock=sim.clock, scheduler=sim.scheduler, dispatcher=sim.dispatcher, journal=sim.journal
    )
    sim.state = gateway
    app = FastAPI(
        title="Wompi simulator",
        lifespan=sim.lifespan,
        docs_url="/__admin/docs",
        redoc_url=None,
        openapi_url="/__admin/openapi.json",
    )
    # Wompi answers a path it does not know with its 404 envelope, not with a redirect to another path.
    app.router.redirect_slashes = False
    app.router.routes.extend(api_routes(gateway))
    app.add_exception_handler(WompiError, wompi_error_handler)
    app.add_exception_handler(StarletteHTTPException, routing_error_handler)
    sim.install(app, reset_state=gateway.reset, extra=build_wompi_admin_router())
    return app
