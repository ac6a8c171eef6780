"""FastAPI dependencies: the app's services and a database connection per request.

Usage::

    @router.get("/x")
    async def x(services: Services = Depends(get_services)) -> ...
"""

from __future__ import annotations

from fastapi import Request

from core.services import Services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and that hop (queue,
    # thread wake-up, the GIL) was a tenth of a webhook's CPU under load.
    services: Services = request.app.state.services
    return services
