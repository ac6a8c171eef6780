"""FastAPI dependencies: the app's services and a database connection per request.

Usage::

    @router.get("/x")
    async def x(services: Services = Depends(get_services)) -> ...
"""

from __future__ import annotations

from fastapi import Request

from core.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
