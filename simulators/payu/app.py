"""PayU simulator application factory: wires the gateway to the shared clock, faults, webhooks and admin.

Usage: ``app = create_app(PayUConfig(default_confirmation_url="http://127.0.0.1:9000/payu"))``;
in tests ``app.state.sim`` is the SimRuntime and ``app.state.sim.state`` the PayUGateway.
"""

from __future__ import annotations

from fastapi import FastAPI

from simulators.common.runtime import SimRuntime
from simulators.payu.config import PayUConfig
from simulators.payu.errors import PayUError, payu_error_handler
from simulators.payu.routes import admin_router, api_routes, receipts_router
from simulators.payu.service import PayUGateway


def only_200(status: int) -> bool:
    """UNCONFIRMED which statuses PayU accepts; its docs say the merchant must answer 200, so only 200 counts."""
    return status == 200


def create_app(config: PayUConfig | None = None) -> FastAPI:
    """Build one simulated PayU (payments + queries APIs) with its own state, clock and admin API.

    Usage: ``serve(create_app(), port=8001)`` or ``ThreadedServer(create_app(PayUConfig(seed=3)))``
    """
    config = config or PayUConfig()
    sim = SimRuntime.build(
        schedule=config.retry_schedule,
        is_success=only_200,
        state=None,
        faults=config.faults,
        chaos=config.chaos,
        webhook_timeout_seconds=config.webhook_timeout_seconds,
    )
    gateway = PayUGateway(
        config, clock=sim.clock, scheduler=sim.scheduler, dispatcher=sim.dispatcher, journal=sim.journal
    )
    sim.state = gateway
    app = FastAPI(
        title="PayU Latam simulator",
        lifespan=sim.lifespan,
        docs_url="/__admin/docs",
        redoc_url=None,
        openapi_url="/__admin/openapi.json",
    )
    # The RPC endpoints go first so the router tries them before anything else.
    app.router.routes[:0] = api_routes()
    app.include_router(receipts_router())
    app.add_exception_handler(PayUError, payu_error_handler)
    sim.install(app, reset_state=gateway.reset, extra=admin_router())
    return app
