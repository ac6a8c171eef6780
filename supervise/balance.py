"""Several uvicorn workers behind one socket, each handed every N-th connection by the parent (round robin).

Why not uvicorn's own multi-process mode, where every worker accepts from the shared socket: the kernel
wakes whichever worker it likes, and a worker that wakes first accepts a whole burst. Keep-alive clients
then stay on the worker they landed on for good. Measured on this repo's load runs (Locust opening its
connections at the start, two workers): 98 and 62 of 160 connections, 122 and 38 with libuv's
``UV_TCP_SINGLE_ACCEPT``; 182/278 and 224/236 of 460 in a plain connect loop. The busier worker then carries
~60 % of the requests, so under a paced load its queue fills at ~0.8 of the rate the two could serve
together (an unpaced ceiling does not show it: each closed-loop client just waits longer). Here the parent
accepts and passes each connection's descriptor to the next ready worker over a Unix socket
(``SCM_RIGHTS``), as Node's cluster module does by default on Linux for the same reason; the worker wraps it
with ``loop.connect_accepted_socket`` and serves it as uvicorn would have. Only connections travel through
the parent, never requests.

Usage (``supervise.asgi`` does this for ``--workers`` > 1)::

    Balancer(uvicorn.Config(app, workers=2, ...), listening_socket).run()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import selectors
import signal
import socket
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

import uvicorn
from uvicorn._subprocess import get_subprocess

log = logging.getLogger("supervise.balance")
READY = b"r"  # worker -> parent: started, hand me connections
CONNECTION = b"c"  # parent -> worker: one descriptor rides along
SEND_TIMEOUT = 1.0  # a worker that cannot take a descriptor for this long is passed over for this connection


class HandedServer(uvicorn.Server):
    """A uvicorn worker that serves the connections its parent hands over on ``channel``; it accepts none."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._opening: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, and no listener of its own
        if not self.started:
            return
        loop = asyncio.get_running_loop()
        config, state = self.config, self.server_state

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=state,  # type: ignore[call-arg]
                                              app_state=self.lifespan.state)

        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._take, loop, protocol)
        self.channel.send(READY)

    def _take(self, loop: asyncio.AbstractEventLoop, protocol: Any) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.channel, 16, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data:  # the parent is gone: nobody will hand us more, finish what we serve
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                task = loop.create_task(loop.connect_accepted_socket(protocol, socket.socket(fileno=fd)))
                self._opening.add(task)
                task.add_done_callback(self._opened)

    def _opened(self, task: asyncio.Task[Any]) -> None:
        self._opening.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the client left before we wrapped it
            log.debug("a handed connection could not be opened: %r", task.exception())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(OSError, ValueError):
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        self.channel.close()  # descriptors still in flight close with it: those clients see a reset
        await super().shutdown(sockets=sockets)


def _serve_handed(config: uvicorn.Config, channel: socket.socket, sockets: list[socket.socket]) -> None:
    """A worker process's target (uvicorn's ``subprocess_started`` calls it with ``sockets=[]``)."""
    HandedServer(config, channel).run()


@dataclass
class _Worker:
    process: SpawnProcess
    channel: socket.socket  # the parent's end
    ready: bool = False


class Balancer:
    """The parent: accepts on ``sock`` and hands each connection to the next ready worker, round robin.

    Workers that die are started again (as uvicorn's supervisor does); SIGINT and SIGTERM stop them all.
    """

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        self.config, self.sock = config, sock
        self.workers: list[_Worker] = []
        self.next = 0
        self.pending: list[socket.socket] = []  # accepted before any worker was ready
        self.should_exit = False
        self.selector = selectors.DefaultSelector()

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = get_subprocess(self.config, functools.partial(_serve_handed, self.config, theirs), sockets=[])
        process.start()
        theirs.close()
        ours.settimeout(SEND_TIMEOUT)
        worker = _Worker(process, ours)
        self.selector.register(ours, selectors.EVENT_READ, worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.channel)
        worker.channel.close()
        worker.ready = False

    def _hand(self, conn: socket.socket) -> None:
        """Pass ``conn`` to the next ready worker that takes it; it waits while none is ready yet (start-up)."""
        if not any(worker.ready for worker in self.workers):
            self.pending.append(conn)
            return
        try:
            for _ in range(len(self.workers)):
                worker = self.workers[self.next % len(self.workers)]
                self.next += 1
                if not worker.ready:
                    continue
                try:
                    socket.send_fds(worker.channel, [CONNECTION], [conn.fileno()])
                    return
                except OSError:  # full for SEND_TIMEOUT, or the worker died: the next one
                    continue
            log.warning("no worker took a new connection: closed")
        finally:
            conn.close()  # the worker holds its own copy

    def _on_channel(self, worker: _Worker) -> None:
        try:
            data = worker.channel.recv(16)
        except OSError:
            data = b""
        if data == READY:
            worker.ready = True
            waiting, self.pending = self.pending, []
            for conn in waiting:
                self._hand(conn)
        elif not data:
            self._retire(worker)  # dead: keep_alive starts another

    def _keep_alive(self) -> None:
        for n, worker in enumerate(self.workers):
            if worker.process.is_alive():
                continue
            worker.process.join()
            self._retire(worker)
            if worker.process.exitcode == 3 and not worker.ready:  # uvicorn's STARTUP_FAILURE: would fail again
                log.error("worker %s failed to start; stopping", worker.process.pid)
                self.should_exit = True
                return
            log.info("worker %s died; starting another", worker.process.pid)
            self.workers[n] = self._spawn()

    def _stop(self, *_: Any) -> None:
        self.should_exit = True

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        self.sock.setblocking(False)
        self.selector.register(self.sock, selectors.EVENT_READ, None)
        self.workers = [self._spawn() for _ in range(self.config.workers)]
        try:
            while not self.should_exit:
                for key, _events in self.selector.select(timeout=0.5):
                    if key.data is None:
                        self._accept_all()
                    else:
                        self._on_channel(key.data)
                self._keep_alive()
        finally:
            for worker in self.workers:
                if worker.process.is_alive():
                    worker.process.terminate()
            for worker in self.workers:
                worker.process.join(timeout=15)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
                self._retire(worker)
            for conn in self.pending:
                conn.close()
            self.selector.close()

    def _accept_all(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of descriptors: try again on the next wake-up
                log.warning("accept failed: %r", exc)
                return
            self._hand(conn)

