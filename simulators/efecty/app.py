"""Efecty simulator app factory: wires the book, the shared engine and the routes together.

In tests ``app.state.sim`` is the SimRuntime and ``app.state.sim.state`` the EfectyBook.
"""

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from simulators.common.runtime import SimRuntime
from simulators.efecty.config import EfectyConfig
from simulators.efecty.errors import EfectyError
from simulators.efecty.routes import (
    EfectyService,
    build_admin_extra,
    build_routes,
    error_handler,
    routing_error_handler,
)
from simulators.efecty.state import EfectyBook


def create_app(config: EfectyConfig | None = None) -> FastAPI:
    """A fresh Efecty simulator.

    Usage: ``app = create_app(EfectyConfig(notify_url=url))``; serve it, or drive it with
    ``httpx.ASGITransport(app=app)``.
    """
    config = config or EfectyConfig()
    sim = SimRuntime.build(
        schedule=config.retry_schedule,
        is_success=lambda status: 200 <= status < 300,
        state=EfectyBook(seed=config.seed),
        faults=config.faults,
        chaos=config.chaos,
        webhook_timeout_seconds=config.webhook_timeout_seconds,
    )
    app = sim.new_app(title="Efecty simulator", docs_url=None, redoc_url=None)
    service = EfectyService(sim, config)
    app.state.config = config
    # An unknown path is a 404 in the simulator's envelope, never a redirect to another path.
    app.router.redirect_slashes = False
    app.router.routes.extend(build_routes(service))
    app.add_exception_handler(EfectyError, error_handler())
    app.add_exception_handler(StarletteHTTPException, routing_error_handler())
    sim.install(app, reset_state=service.reset, extra=build_admin_extra(service))
    return app
