"""Run simulator apps with uvicorn on 127.0.0.1 (blocking, or one thread per app for tests)."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from supervise.identity import inherited_socket, with_identity

LOCALHOST = "127.0.0.1"


def bind_socket(host: str = LOCALHOST, port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it back with ``getsockname()``)."""
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it Nagle plus delayed ACKs add 40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: Any, *, fast: bool, **overrides: Any) -> uvicorn.Config:
    options: dict[str, Any] = {
        "loop": "uvloop" if fast else "asyncio",
        "http": "httptools",
        "ws": "none",
        "access_log": False,
        "log_level": "warning",
        "lifespan": "on",
        "timeout_graceful_shutdown": 2,
        # Bound to 127.0.0.1 with no proxy in front: the proxy-headers wrapper is pure per-request cost.
        "proxy_headers": False,
        "server_header": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def serve(
    app: Any,
    *,
    host: str = LOCALHOST,
    port: int,
    sock: socket.socket | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Blocking uvicorn run tuned for throughput (uvloop, httptools, no access log).

    Usage: ``serve(create_app(), port=8081)``. Pass ``port=0`` (or an already bound ``sock``) and an
    ``on_ready`` callback to learn the port actually used. Started by a supervisor (``supervise.Service``),
    it serves on the socket the supervisor bound and answers its identity token; ``port`` is then unused.
    """
    if host != LOCALHOST:
        raise ValueError("simulators bind to 127.0.0.1 only")
    sock = sock or inherited_socket() or bind_socket(host, port)
    if on_ready is not None:
        on_ready(sock.getsockname()[1])
    server = uvicorn.Server(_config(with_identity(app), fast=True))
    server.run(sockets=[sock])


class _QuickStopServer(uvicorn.Server):
    # uvicorn polls should_exit every 100 ms; tests start and stop servers by the dozen.
    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


class ThreadedServer:
    """One app served by uvicorn in a background thread with its own event loop (tests, embedding).

    Usage::

        with ThreadedServer(app) as server:
            httpx.get(server.url + "/__admin/clock")
    """

    def __init__(self, app: Any, *, port: int = 0, startup_timeout: float = 10.0) -> None:
        self._sock = bind_socket(LOCALHOST, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{LOCALHOST}:{self.port}"
        self._server = _QuickStopServer(_config(app, fast=False, timeout_graceful_shutdown=1))
        self._startup_timeout = startup_timeout
        self._thread = threading.Thread(target=self._run, name=f"sim-server-{self.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # surfaced to the starting thread
            self._error = exc

    def start(self) -> "ThreadedServer":
        self._thread.start()
        limit = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"simulator server failed to start: {self._error!r}")
            if time.monotonic() > limit:
                raise RuntimeError("simulator server did not start in time")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> "ThreadedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
