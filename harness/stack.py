"""Brings the stack up: Postgres, a migrated database, the gateway simulators, as real processes on 127.0.0.1.

Usage::

    with Stack.start() as stack:          # what `payharness up` and the suites' session fixture use
        print(stack.urls)
"""

from __future__ import annotations

import contextlib
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

from core.httpserver import HTTP_PROTOCOL, proxy_argv
from harness.databases import quote_ident, run_sync
from harness.defects import Seeding
from harness.paths import repo_root
from harness.postgres import PostgresHandle, provide_postgres

log = logging.getLogger("payharness.stack")
REPO = repo_root()


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
        with self.log_path.open("wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        pending = list(self.ready_urls)
        while pending:
            if self.proc.poll() is not None:
                last = self.tail()
                self.stop()
                raise ServiceFailed(f"{self.name} exited with {self.proc.returncode}:\n{last}")
            if time.monotonic() > deadline:
                last = self.tail()
                self.stop()
                raise ServiceFailed(f"{self.name} not ready after {timeout:.0f} s:\n{last}")
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
        # The log lives only as long as its process: every start made one in the temp directory, and nothing
        # removed them (hundreds after a day of test runs). A failure quotes its tail before stopping.
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)


def simulator_credentials() -> dict[str, dict[str, str]]:
    """The simulators' default credentials (what the core must be configured with to talk to them)."""
    from simulators.efecty.config import EfectyConfig
    from simulators.payu.config import PayUConfig
    from simulators.wompi.config import WompiConfig

    payu, wompi, efecty = PayUConfig(), WompiConfig(), EfectyConfig()
    return {
        "payu": {"merchant_id": payu.merchant_id, "account_id": "512321", "api_login": payu.api_login,
                 "api_key": payu.api_key},
        "wompi": {"public_key": wompi.public_key, "private_key": wompi.private_key,
                  "integrity_secret": wompi.integrity_secret, "events_secret": wompi.events_secret},
        "efecty": {"api_key": efecty.merchant_api_key, "convenio": efecty.convenio, "point_key": efecty.point_key},
    }


def core_environment(*, database_url: str, core_url: str, sims: dict[str, str], token_secret: str,
                     extra: dict[str, str] | None = None) -> dict[str, str]:
    """PAYHARNESS_* variables that point a core at the simulators and a database."""
    creds = simulator_credentials()
    env = {
        "PAYHARNESS_DB__URL": database_url,
        "PAYHARNESS_PAYU__BASE_URL": sims["payu"],
        "PAYHARNESS_PAYU__NOTIFY_URL": f"{core_url}/webhooks/payu",
        "PAYHARNESS_WOMPI__BASE_URL": f"{sims['wompi']}/v1",
        "PAYHARNESS_EFECTY__BASE_URL": sims["efecty"],
        "PAYHARNESS_AUTH__TOKEN_SECRET": token_secret,
    }
    for group in ("payu", "wompi"):
        for key, value in creds[group].items():
            env[f"PAYHARNESS_{group.upper()}__{key.upper()}"] = value
    env["PAYHARNESS_EFECTY__API_KEY"] = creds["efecty"]["api_key"]
    env["PAYHARNESS_EFECTY__CONVENIO"] = creds["efecty"]["convenio"]
    env.update(extra or {})
    return env


@dataclass
class Stack:
    """The running pieces and how to reach them."""

    postgres: PostgresHandle
    database: str
    services: list[ServiceProcess] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    core_env: dict[str, str] = field(default_factory=dict)
    core_service: ServiceProcess | None = None
    seeding: Seeding = field(default_factory=Seeding)  # defects every core of this stack is started with

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, database: str = "payharness", with_simulators: bool = True, with_core: bool = True,
              core_workers: int = 2, postgres: PostgresHandle | None = None,
              core_extra_env: dict[str, str] | None = None, seeding: Seeding | None = None) -> Iterator[Stack]:
        """Start what is asked for; ``postgres`` reuses a running server instead of providing one.

        ``seeding``: defects for the database this creates and for every core it starts (none by default).
        """
        with contextlib.ExitStack() as exit_stack:
            pg = postgres or exit_stack.enter_context(provide_postgres())
            stack = cls(postgres=pg, database=database, seeding=seeding or Seeding())
            try:
                stack._create_database()
                stack.urls["database"] = pg.database_dsn(database)
                if with_simulators:
                    stack._start_simulators()
                if with_core and with_simulators:
                    stack.start_core(workers=core_workers, extra_env=core_extra_env)
                yield stack
            finally:
                stack.stop_core()
                for service in reversed(stack.services):
                    service.stop()

    def start_core(self, *, workers: int = 2, port: int | None = None, extra_env: dict[str, str] | None = None,
                   token_secret: str | None = None) -> ServiceProcess:
        """Serve the core with uvicorn (``workers`` processes) against the simulators and the database."""
        import os
        import secrets

        token_secret = token_secret or self.core_env.get("PAYHARNESS_AUTH__TOKEN_SECRET") or secrets.token_urlsafe(32)
        port = port or int(self.urls.get("core", "http://127.0.0.1:0").rsplit(":", 1)[1]) or free_port()
        core_url = f"http://127.0.0.1:{port}"
        self.core_env = core_environment(
            database_url=self.postgres.database_dsn(self.database, driver="asyncpg"), core_url=core_url,
            sims={k: self.urls[k] for k in ("payu", "wompi", "efecty")}, token_secret=token_secret,
            extra=extra_env,
        )
        # Seeded defects reach the core's factory (a separate process) as its environment, from the value here
        # only (none: the variables are emptied); a defect may need other settings too (e.g. a secret unset).
        self.core_env.update(self.seeding.env())
        factory = "harness.defects.app:app_from_env" if self.seeding.for_core else "core.app:app_from_env"
        # PAYHARNESS_COVERAGE_DIR: measure the core (every worker) with coverage.py, data files there.
        coverage_dir = os.environ.get("PAYHARNESS_COVERAGE_DIR")
        runner = ["-m", "coverage", "run", f"--rcfile={REPO / 'pyproject.toml'}", "-m"] if coverage_dir else ["-m"]
        if coverage_dir:
            Path(coverage_dir).mkdir(parents=True, exist_ok=True)
            self.core_env["COVERAGE_FILE"] = str(Path(coverage_dir) / ".coverage")
        # Keep-alive longer than any bounded run: a client that reuses a connection just as the server
        # times it out (uvicorn's default is 5 s) sees it closed — a race that is the client's, not the core's.
        argv = [sys.executable, *runner, "uvicorn", factory, "--factory", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
                "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), "--http", HTTP_PROTOCOL,
                *proxy_argv({**os.environ, **self.core_env})]
        self.core_service = ServiceProcess("core", argv, [f"{core_url}/openapi.json"],
                                           env={**os.environ, **self.core_env}).start()
        self.urls["core"] = core_url
        return self.core_service

    def stop_core(self) -> None:
        if self.core_service is not None:
            self.core_service.stop()
            self.core_service = None

    def running(self) -> list[ServiceProcess]:
        return [*self.services, *([self.core_service] if self.core_service else [])]

    def _create_database(self) -> None:
        import asyncpg

        from core.db.migrate import upgrade

        async def create() -> bool:
            conn = await asyncpg.connect(self.postgres.dsn)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await conn.execute(f"CREATE DATABASE {quote_ident(self.database)}")
                return not exists
            finally:
                await conn.close()

        created = run_sync(create)
        upgrade(self.postgres.database_dsn(self.database, driver="asyncpg"))
        if created:  # a clone of the template already carries the template's schema defects
            from harness.defects.schema import apply_schema_defects

            run_sync(lambda: apply_schema_defects(self.postgres.database_dsn(self.database), self.seeding))

    def _start_simulators(self) -> None:
        """Each simulator in its own process (its own core under load), on a port chosen here."""
        ports = {name: free_port() for name in ("payu", "wompi", "efecty")}
        # The core's address is chosen now so the Wompi simulator knows where to send events.
        self.urls["core"] = f"http://127.0.0.1:{free_port()}"
        extra = {"wompi": ["--events-url", f"{self.urls['core']}/webhooks/wompi"]}
        for name, port in ports.items():
            argv = [sys.executable, "-m", f"simulators.{name}", "--port", str(port), *extra.get(name, [])]
            ready = [f"http://127.0.0.1:{port}/__admin/clock"]
            self.services.append(ServiceProcess(f"simulator-{name}", argv, ready).start())
            self.urls[name] = f"http://127.0.0.1:{port}"


KEEP_ALIVE_SECONDS = 120


def run_stack(*, database: str, with_simulators: bool, core_workers: int = 2, seeding: Seeding | None = None) -> int:
    """`payharness up`: start everything, print where it is, wait for Ctrl-C."""
    with Stack.start(database=database, with_simulators=with_simulators, core_workers=core_workers,
                     seeding=seeding) as stack:
        print(f"postgres ({stack.postgres.kind}) and database {database!r} ready")
        for name, url in stack.urls.items():
            print(f"  {name:<10} {url}")
        if stack.core_env:
            secret = stack.core_env["PAYHARNESS_AUTH__TOKEN_SECRET"]
            print(f"  token secret (for `payharness token`): {secret}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while all(s.proc is None or s.proc.poll() is None for s in stack.running()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping…")
            return 0
        failed = [s for s in stack.running() if s.proc and s.proc.poll() is not None]
        for service in failed:
            print(f"{service.name} stopped unexpectedly:\n{service.tail()}", file=sys.stderr)
        return 1
