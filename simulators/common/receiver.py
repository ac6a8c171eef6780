"""A recording webhook receiver app with a programmable answer, for contract tests and demos."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class WebhookReceiver:
    """Records every request; answers ``statuses`` in turn, then ``status`` forever.

    Usage: ``receiver = WebhookReceiver(statuses=[500, 500]); app = receiver.app()`` then serve it;
    ``receiver.received`` lists what arrived.
    """

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            body = await request.body()
            self.received.append(Received(request.method, request.url.path, dict(request.headers), body))
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            status = self.statuses.pop(0) if self.statuses else self.status
            return Response(f'{{"received": {len(self.received)}}}', status, media_type="application/json")

        methods = ["GET", "POST", "PUT"]
        return Starlette(routes=[Route("/{path:path}", handle, methods=methods)])

    def bodies(self) -> list[Any]:
        return [r.body for r in self.received]
