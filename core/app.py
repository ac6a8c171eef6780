"""The core's app factory: ``create_app(settings)`` — no app or settings at import time (STYLE.md 2).

Usage::

    app = create_app(Settings())            # uvicorn "core.app:app_from_env" --factory for workers
"""

from __future__ import annotations

import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from core import gcstats
from core.api.schemas import exact_integer_bounds
from core.errors import install_error_handlers
from core.middleware import BodyLimitMiddleware, UnexpectedErrorMiddleware, UrlGuardMiddleware
from core.services import Services
from core.settings import Settings

GC_THRESHOLDS = (10_000, 10, 10)
SERVED = "_served"  # the name suffix of a webhook's plain route (``_plain``)


class CoreApp(FastAPI):
    """FastAPI, with a webhook POST served through the core's own middleware and exception handlers straight to
    its endpoint.

    Everything else, and a webhook path asked with another method, takes FastAPI's whole stack. What a webhook
    skips is framework only: Starlette's server-error layer (never reached: ``UnexpectedErrorMiddleware``, among
    the core's middleware, answers every exception first), FastAPI's telemetry and app-wide body-limit layers
    (no limit set: the core's ``BodyLimitMiddleware`` is the limit), the exit stack for uploaded files and the
    router's matching. The core's middleware run as added, in the same order, and the exception handlers are
    the app's own, so the answers and what is written are the same. Measured paced at 1,200 webhooks/s, alternating
    (load/README.md, "Issue 16, a fair yardstick"): 0.490-0.501 -> 0.471-0.472 ms of the core's CPU per webhook.
    """

    _webhooks: dict[str, ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        """FastAPI's stack, and the webhooks' built beside it from the same middleware and handlers: Starlette
        builds its stack once, on the first request whichever it is, and refuses ``add_middleware`` afterwards."""
        self._webhooks = self._guarded_webhooks()
        return super().build_middleware_stack()

    def webhook(self, path: str) -> ASGIApp | None:
        """The guarded endpoint of the webhook at ``path``, or None; built with FastAPI's stack, on first use."""
        if self._webhooks is None:
            if self.middleware_stack is None:
                self.middleware_stack = self.build_middleware_stack()  # the app has started: as Starlette marks it
            else:
                self._webhooks = self._guarded_webhooks()  # a stack set by hand (tests)
        assert self._webhooks is not None
        return self._webhooks.get(path)

    def _guarded_webhooks(self) -> dict[str, ASGIApp]:
        handlers = {key: handler for key, handler in self.exception_handlers.items()
                    if key not in (500, Exception)}  # the server-error layer's, as Starlette splits them
        built: dict[str, ASGIApp] = {}
        for route in self.router.routes:
            if isinstance(route, Route) and route.name.endswith(SERVED) and route.methods == {"POST"}:
                app: ASGIApp = ExceptionMiddleware(route.app, handlers=handlers, debug=self.debug)
                for middleware in reversed(self.user_middleware):
                    app = middleware.cls(app, *middleware.args, **middleware.kwargs)
                built[route.path] = app
        return built

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Under a root_path (uvicorn --root-path, a Mount) the router matches the path without it: that is
        # FastAPI's to do, not an exact match on scope["path"] (a Mount at /webhooks would serve /webhooks/wompi).
        if scope["type"] == "http" and scope["method"] == "POST" and not (self.root_path or scope.get("root_path")):
            served = self.webhook(scope["path"])
            if served is not None:
                scope["app"] = self
                scope.setdefault("router", self.router)
                await served(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The reference payment core. ``http`` replaces the gateways' HTTP client (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, http=http)
        await services.open()
        app.state.services = services
        try:
            yield
        finally:
            await services.aclose()

    app = CoreApp(
        title="payharness reference payment core",
        version="0.1.0",
        description="Checkout API, gateway clients and webhook processing for PayU, Wompi and Efecty.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    _include_routers(app)
    generate_openapi = app.openapi
    app.openapi = lambda: exact_integer_bounds(generate_openapi())  # type: ignore[method-assign]
    # Order: the body limit runs first (outermost) so nothing reads an oversize body.
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type",
                                                                         "Idempotency-Key"])
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(UrlGuardMiddleware)  # before the body is read: a bad URL is refused at once
    app.add_middleware(UnexpectedErrorMiddleware)  # added last: outermost of ours
    return app


def _include_routers(app: FastAPI) -> None:
    import importlib
    import pkgutil

    import core.api
    import core.webhooks

    # Each module under core.webhooks and core.api that defines `router` contributes its routes. Webhooks
    # first: routing tries routes in order, and the webhooks are most of the traffic (behind the whole API,
    # matching was about a fifth of a webhook's framework time). Then plain routes go in front of them.
    webhooks: list[APIRoute] = []
    for package in (core.webhooks, core.api):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            router = getattr(module, "router", None)
            if router is not None:
                app.include_router(router)
                if package is core.webhooks:
                    webhooks.extend(r for r in router.routes if isinstance(r, APIRoute))
    app.router.routes[:0] = [_plain(route) for route in webhooks]


def _plain(route: APIRoute) -> Route:
    """A plain Starlette route in front of a webhook's FastAPI route, which stays for the OpenAPI schema.

    FastAPI's per-request machinery (solving dependencies, its wrappers around the endpoint) was a fifth of
    the CPU the core spent on an accepted webhook (in-process, 4,000 events: 850 -> 690 µs each). The
    webhook endpoints take only the request, so Starlette can call them directly; errors still reach the
    app's exception handlers, so the answers are the same.
    """
    params = list(inspect.signature(route.endpoint).parameters)
    if params != ["request"]:
        raise TypeError(f"{route.path}: a webhook endpoint takes only the request, not {params}")
    if route.dependant.dependencies:  # e.g. its router's: a plain route would never run them
        raise TypeError(f"{route.path}: a webhook route has no dependencies, not {route.dependencies}")
    return Route(route.path, route.endpoint, methods=sorted(route.methods or ()), name=f"{route.name}{SERVED}",
                 include_in_schema=False)


def app_from_env() -> FastAPI:
    """uvicorn factory for ``payharness core``: settings from PAYHARNESS_* (fails closed when secrets are unset)."""
    settings = Settings()  # type: ignore[call-arg]
    logging.basicConfig(level=settings.log_level)
    app = create_app(settings)
    tune_collector()
    gcstats.install_from_env()  # per-second collection counts for a load run's samples; off unless asked
    return app


def tune_collector() -> None:
    """The worker's cyclic garbage collector as the core runs it, once its app is built (the benchmark's
    yardsticks run theirs the same way, load/bare.py, so they differ from the core only in code).

    Everything built so far (modules, framework, routes, models) lives as long as the worker: it is moved out
    of the collector's sight. Under load a full collection in a worker took 90-250 ms — a pause every request in
    flight waits out — and about 8 ms once start-up objects were frozen (measured at 350 webhooks/s). Objects
    made afterwards are collected as usual. Young collections are 14x rarer (Python's default is 700, 10, 10):
    each request leaves a few tracked objects behind (asyncpg records, futures, exceptions' cycles) and the
    default ran ~8 young and ~0.07 full collections per worker-second at 500/s; the full ones paused a worker
    25-120 ms each under load. With 10,000: 4-8 young collections per 60 s run (both workers), none older, GC
    CPU 11-37 ms per run instead of 590-730, peak RSS unchanged (load/README.md, "Stalls").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
