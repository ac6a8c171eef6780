"""Brings the stack up: Postgres, a migrated database, the gateway simulators, as real processes on 127.0.0.1.

Usage::

    with Stack.start() as stack:          # what `payharness up` and the suites' session fixture use
        print(stack.urls)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.databases import quote_ident, run_sync
from harness.postgres import PostgresHandle, provide_postgres

log = logging.getLogger("payharness.stack")
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceFailed(RuntimeError):
    """A service process exited or never became ready; the message carries its last output."""


@dataclass
class ServiceProcess:
    """A child process serving HTTP on 127.0.0.1, stopped with SIGTERM (then SIGKILL) on exit."""

    name: str
    argv: list[str]
    ready_urls: list[str]
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    def start(self, *, timeout: float = 30.0) -> ServiceProcess:
        import tempfile

        self.log_path = Path(tempfile.mkstemp(prefix=f"payharness-{self.name}-", suffix=".log")[1])
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        pending = list(self.ready_urls)
        while pending:
            if self.proc.poll() is not None:
                raise ServiceFailed(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceFailed(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")
            try:
                httpx.get(pending[0], timeout=1.0)
                pending.pop(0)
            except httpx.TransportError:
                time.sleep(0.05)
        return self

    def tail(self, lines: int = 30) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Stack:
    """The running pieces and how to reach them."""

    postgres: PostgresHandle
    database: str
    services: list[ServiceProcess] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, database: str = "payharness", with_simulators: bool = True) -> Iterator[Stack]:
        with provide_postgres() as pg:
            stack = cls(postgres=pg, database=database)
            try:
                stack._create_database()
                stack.urls["database"] = pg.database_dsn(database)
                if with_simulators:
                    stack._start_simulators()
                yield stack
            finally:
                for service in reversed(stack.services):
                    service.stop()

    def _create_database(self) -> None:
        import asyncpg

        from core.db.migrate import upgrade

        async def create() -> None:
            conn = await asyncpg.connect(self.postgres.dsn)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await conn.execute(f"CREATE DATABASE {quote_ident(self.database)}")
            finally:
                await conn.close()

        run_sync(create)
        upgrade(self.postgres.database_dsn(self.database, driver="asyncpg"))

    def _start_simulators(self) -> None:
        if importlib.util.find_spec("simulators.serve") is None:
            log.warning("simulators: not available in this checkout yet")
            return
        ports = {name: free_port() for name in ("payu", "wompi", "efecty")}
        argv = [sys.executable, "-m", "simulators.serve"]
        for name, port in ports.items():
            argv += [f"--{name}-port", str(port)]
        ready = [f"http://127.0.0.1:{port}/__admin/clock" for port in ports.values()]
        self.services.append(ServiceProcess("simulators", argv, ready).start())
        for name, port in ports.items():
            self.urls[name] = f"http://127.0.0.1:{port}"


def run_stack(*, database: str, with_simulators: bool) -> int:
    """`payharness up`: start everything, print where it is, wait for Ctrl-C."""
    with Stack.start(database=database, with_simulators=with_simulators) as stack:
        print(f"postgres ({stack.postgres.kind}) and database {database!r} ready")
        for name, url in stack.urls.items():
            print(f"  {name:<10} {url}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while all(s.proc is None or s.proc.poll() is None for s in stack.services):
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping…")
            return 0
        failed = [s for s in stack.services if s.proc and s.proc.poll() is not None]
        for service in failed:
            print(f"{service.name} stopped unexpectedly:\n{service.tail()}", file=sys.stderr)
        return 1
