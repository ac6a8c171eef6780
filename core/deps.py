"""FastAPI dependencies: the app's services and a database connection per request.

Usage::

    @router.get("/x")
    async def x(services: Services = Depends(get_services)) -> ...
"""

from __future__ import annotations

from fastapi import Request

from core.services import Services


def services_of(request: Request) -> Services:
    """The app's services, for a route that takes them without a dependency (the webhook hot path)."""
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and that hop (queue,
    # thread wake-up, the GIL) was a tenth of a webhook's CPU under load.
    return services_of(request)
