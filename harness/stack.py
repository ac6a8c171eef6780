"""Brings the stack up: Postgres, a migrated database, the gateway simulators, as real processes on 127.0.0.1.

Usage::

    with Stack.start() as stack:          # what `payharness up` and the suites' session fixture use
        print(stack.urls)
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.httpserver import HTTP_PROTOCOL, proxy_argv
from harness.databases import PREFIX as DB_PREFIX
from harness.databases import quote_ident, run_sync
from harness.defects import Seeding
from harness.paths import repo_root
from harness.postgres import PostgresHandle, provide_postgres
from simulators.common.settings import environment_without_settings
from supervise import Service, ServiceFailed, listening_socket

log = logging.getLogger("payharness.stack")
REPO = repo_root()
ARTEFACTS_ENV = "PAYHARNESS_ARTEFACTS"  # the run's artefacts folder; services log under <it>/logs/
__all__ = ["ServiceFailed", "Stack", "core_environment", "free_port", "logs_folder", "run_stack"]


def free_port() -> int:
    """A port free now, for programs that cannot take a socket (Locust's master); services get theirs bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def logs_folder(kind: str = "stack") -> Path:
    """A new folder for one stack's service logs, under the run's artefacts (``PAYHARNESS_ARTEFACTS``)."""
    root = Path(os.environ.get(ARTEFACTS_ENV) or REPO / "artefacts")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = "-".join(p for p in (kind, time.strftime("%Y%m%dT%H%M%S"), worker, secrets.token_hex(3)) if p)
    return root / "logs" / name


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
    log_dir: Path = field(default_factory=logs_folder)
    services: list[Service] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    core_env: dict[str, str] = field(default_factory=dict)
    core_service: Service | None = None
    seeding: Seeding = field(default_factory=Seeding)  # defects every core of this stack is started with
    # Bound once for the stack's life: a restarted core serves on the same address, and no other
    # process can take it between a stop and a start.
    core_socket: socket.socket = field(default_factory=listening_socket, repr=False)

    def __post_init__(self) -> None:
        host, port = self.core_socket.getsockname()[:2]
        self.urls["core"] = f"http://{host}:{port}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, database: str | None = None, with_simulators: bool = True, with_core: bool = True,
              core_workers: int = 2, postgres: PostgresHandle | None = None,
              core_extra_env: dict[str, str] | None = None, seeding: Seeding | None = None,
              log_dir: Path | None = None, sim_args: dict[str, list[str]] | None = None,
              postgres_settings: dict[str, str] | None = None) -> Iterator[Stack]:
        """Start what is asked for; ``postgres`` reuses a running server instead of providing one.

        ``seeding``: defects for the database this creates and for every core it starts (none by default).
        ``database``: a name to create if missing and keep; by default a fresh ``payharness_<random>`` that
        is dropped on exit, so nothing a run did to its schema (a seeded schema defect) outlives it, also
        on a server the user gave (``PAYHARNESS_DATABASE_URL``). Service logs go to ``log_dir`` (default: a
        new folder under the artefacts' ``logs/``). ``sim_args``: more options for a simulator's command line,
        by name (``{"wompi": ["--finalize-delay", "30"]}``). ``postgres_settings``: server settings for an
        embedded Postgres this starts (``harness.postgres.provide_postgres``).
        """
        with contextlib.ExitStack() as exit_stack:
            pg = postgres or exit_stack.enter_context(provide_postgres(settings=postgres_settings))
            name = database or f"{DB_PREFIX}{secrets.token_hex(4)}"
            stack = cls(postgres=pg, database=name, log_dir=log_dir or logs_folder(), seeding=seeding or Seeding())
            drop = False
            try:
                drop = stack._create_database() and database is None  # never a database it did not create
                stack.urls["database"] = pg.database_dsn(name)
                if with_simulators:
                    stack._start_simulators(sim_args or {})
                if with_core and with_simulators:
                    stack.start_core(workers=core_workers, extra_env=core_extra_env)
                yield stack
            finally:
                stack.stop_core()
                for service in reversed(stack.services):
                    service.stop()
                stack.core_socket.close()
                if drop:
                    stack._drop_database()

    def start_core(self, *, workers: int = 2, port: int | None = None, extra_env: dict[str, str] | None = None,
                   token_secret: str | None = None) -> Service:
        """Serve the core with uvicorn (``workers`` processes) against the simulators and the database.

        It always serves on the stack's core socket (``port``, if given, must be that socket's port).
        """
        core_url = self.urls["core"]
        if port is not None and not core_url.endswith(f":{port}"):
            raise ValueError(f"the core serves on {core_url}, not on port {port}")
        token_secret = token_secret or self.core_env.get("PAYHARNESS_AUTH__TOKEN_SECRET") or secrets.token_urlsafe(32)
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
        argv = [sys.executable, *runner, "supervise.asgi", factory, "--factory", "--workers", str(workers),
                "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS),
                "--http", HTTP_PROTOCOL, *proxy_argv({**os.environ, **self.core_env})]
        service = Service("core", argv, log_dir=self.log_dir, env={**os.environ, **self.core_env}, cwd=REPO,
                          sock=self.core_socket)
        self.core_service = service.start()
        return service

    def stop_core(self) -> None:
        if self.core_service is not None:
            self.core_service.stop()
            self.core_service = None

    def running(self) -> list[Service]:
        return [*self.services, *([self.core_service] if self.core_service else [])]

    def _drop_database(self) -> None:
        import asyncpg

        async def drop() -> None:
            conn = await asyncpg.connect(self.postgres.dsn)
            try:  # WITH (FORCE): a connection a killed client left open does not keep the database
                await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(self.database)} WITH (FORCE)")
            finally:
                await conn.close()

        run_sync(drop)

    def _create_database(self) -> bool:
        """Create the database if missing (True when created here) and migrate it to head."""
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
        return created

    def _start_simulators(self, sim_args: dict[str, list[str]]) -> None:
        """Each simulator in its own process (its own core under load), on a socket bound here."""
        extra = {"wompi": ["--events-url", f"{self.urls['core']}/webhooks/wompi"]}
        for name, args in sim_args.items():
            extra[name] = [*extra.get(name, []), *args]
        # The stack's simulators run with their defaults, which the core is configured for: a user's own
        # PAYHARNESS_SIM_* settings (meant for `payharness simulators`) would leave the two disagreeing.
        sim_env = environment_without_settings()
        for name in ("payu", "wompi", "efecty"):
            argv = [sys.executable, "-m", f"simulators.{name}", *extra.get(name, [])]
            service = Service(f"simulator-{name}", argv, log_dir=self.log_dir, cwd=REPO, env=sim_env)
            self.services.append(service)  # before start: a Ctrl-C while it starts still stops it
            service.start()
            self.urls[name] = service.url


KEEP_ALIVE_SECONDS = 120


def run_stack(*, database: str | None, with_simulators: bool, core_workers: int = 2,
              seeding: Seeding | None = None, sim_args: dict[str, list[str]] | None = None) -> int:
    """`payharness up`: start everything, print where it is, wait for Ctrl-C (``database`` None: a fresh one)."""
    with Stack.start(database=database, with_simulators=with_simulators, core_workers=core_workers,
                     seeding=seeding, sim_args=sim_args) as stack:
        kept = "kept" if database else "dropped on exit"
        print(f"postgres ({stack.postgres.kind}) and database {stack.database!r} ({kept}) ready; "
              f"logs in {stack.log_dir}")
        for name, url in stack.urls.items():
            print(f"  {name:<10} {url}")
        if stack.core_env:
            secret = stack.core_env["PAYHARNESS_AUTH__TOKEN_SECRET"]
            print(f"  token secret (for `payharness token`): {secret}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while all(s.running() for s in stack.running()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping…")
            return 0
        failed = [s for s in stack.running() if not s.running()]
        for service in failed:
            print(f"{service.name} stopped unexpectedly:\n{service.tail()}", file=sys.stderr)
        return 1
