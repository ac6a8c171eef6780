"""Brings a profiled service up for a run: Postgres and a fresh empty database, the simulators, the service.

The service gets no descriptor and no identity token (it is not ours): payharness picks a free port, fills
``{port}`` and waits for ``ready_path`` to answer 2xx. The Wompi simulator keeps card payments PENDING for
the whole run and delivers no events: webhook scenarios sign their own events, so what reaches the
service, and when, is decided by the scenario alone.

Usage::

    with TargetRun.start(load_profile(path)) as run:
        run.base_url, run.values["wompi_events_secret"], run.headers("buyer")
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.databases import PREFIX as DB_PREFIX
from harness.databases import quote_ident, run_sync
from harness.paths import repo_root
from harness.postgres import PostgresHandle, provide_postgres
from harness.stack import free_port, logs_folder, simulator_credentials
from harness.target import jsonpath
from harness.target.profile import Login, Profile, fill
from simulators.common.settings import environment_without_settings
from supervise import Child, Service
from supervise import run as run_to_end

REPO = repo_root()
# Long enough that no card payment settles by itself during a run (the simulator's clock is real time).
SIM_ENV = {"PAYHARNESS_SIM_WOMPI_FINALIZE_DELAY_SECONDS": "86400"}


class TargetFailed(RuntimeError):
    """The service could not be brought up or reached; the message is one line naming the profile field."""


class TargetExitedEarly(TargetFailed):
    """The service's command ended before it answered its ready path (e.g. its port was taken meanwhile)."""


@dataclass
class TargetRun:
    """Where the service runs, its database, the simulators, and every placeholder value of the run."""

    profile: Profile
    base_url: str
    database_url: str | None
    values: dict[str, str]
    auth_values: dict[str, str] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: logs_folder("target"))
    service: Child | None = None

    def headers(self, user: str) -> dict[str, str]:
        """The headers ``user`` sends (empty for a user the profile does not name)."""
        values = {**self.values, **self.auth_values}
        return {k: v.format_map(values) for k, v in self.profile.auth.users.get(user, {}).items()}

    @classmethod
    @contextlib.contextmanager
    def start(cls, profile: Profile, *, log_dir: Path | None = None,
              postgres: PostgresHandle | None = None) -> Iterator[TargetRun]:
        """Start what the profile asks for (command: Postgres, a database, simulators, the service).

        ``postgres``: a running server to create the run's database on (default: one provided for the run).
        """
        log_dir = log_dir or logs_folder("target")
        if profile.service.base_url is not None:
            values = {"python": sys.executable, "base_url": profile.service.base_url.rstrip("/")}
            run = cls(profile, values["base_url"], profile.database.url, values, log_dir=log_dir)
            run.auth_values = run._auth_values(dict(os.environ))
            yield run
            return
        with contextlib.ExitStack() as stack:
            pg = postgres or stack.enter_context(provide_postgres(announce=False))
            name = f"{DB_PREFIX}target_{secrets.token_hex(4)}"
            _admin(pg.dsn, f"CREATE DATABASE {quote_ident(name)}")
            stack.callback(_admin, pg.dsn, f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            sims = _simulators(stack, log_dir)
            token_secret = secrets.token_urlsafe(48)
            # A foreign service binds the port it is given: picked here, it can be taken before the service binds
            # it (another run on the machine). A service that exits before it is ready gets one more start on a
            # freshly picked port; a second early exit is the profile's error.
            for attempt in (1, 2):
                port = free_port()
                values = {**_values(sims), "python": sys.executable, "port": str(port),
                          "base_url": f"http://127.0.0.1:{port}", "database_url": pg.database_dsn(name),
                          "token_secret": token_secret}
                run = cls(profile, values["base_url"], profile.database.url or values["database_url"], values,
                          log_dir=log_dir)
                env = {**os.environ, **fill(profile.service.env, values)}
                if attempt == 1:
                    for i, argv in enumerate(profile.service.setup):
                        run._setup(f"service.setup[{i}]", fill(argv, values), env)
                assert profile.service.command is not None  # the profile's validator: command or base_url
                child = Child("target" if attempt == 1 else "target-2", fill(profile.service.command, values),
                              log_dir=log_dir, env=env, cwd=REPO)
                run.service = child
                stack.callback(child.stop)
                try:
                    child.start()
                except OSError as exc:  # no such program, or not one that may be run
                    raise TargetFailed(f"service.command: {exc.strerror}: {child.argv[0]}") from None
                try:
                    run._wait_ready(child)
                    break
                except TargetExitedEarly:
                    child.stop()
                    if attempt == 2:
                        raise
            run.auth_values = run._auth_values(env)
            yield run

    @classmethod
    def attach(cls, profile: Profile, *, base_url: str, database_url: str, sims: dict[str, str],
               env: dict[str, str], log_dir: Path | None = None) -> TargetRun:
        """A service that is already running on simulators payharness started (the suites' own stack).

        Nothing is started or stopped: the values a started run would have are filled from ``sims`` (their
        URLs) and the simulators' credentials, and the profile's ``[auth]`` is run with ``env`` (the service's
        environment, where its token secret is).

        Usage: ``TargetRun.attach(load_profile(CORE_PROFILE), base_url=..., database_url=..., sims=..., env=...)``
        """
        values = {**_values(sims), "python": sys.executable, "base_url": base_url.rstrip("/"),
                  "database_url": database_url}
        run = cls(profile, values["base_url"], profile.database.url or database_url, values,
                  log_dir=log_dir or logs_folder("target"))
        run.auth_values = run._auth_values({**os.environ, **env})
        return run

    def _command(self, field_name: str, argv: list[str], env: dict[str, str], timeout: float) -> str:
        """Run a profile's command to its end (supervised: Ctrl-C reaches it); its output, or TargetFailed."""
        log = self.log_dir / f"{field_name.replace('[', '-').replace(']', '')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
                code = run_to_end(argv, cwd=REPO, env=env, stdout=out, stderr=err, timeout=timeout)
        except OSError as exc:
            raise TargetFailed(f"{field_name}: {exc.strerror}: {argv[0]}") from None
        output = log.read_text(errors="replace").strip()
        if code != 0:
            errors = log.with_suffix(".err").read_text(errors="replace").strip().splitlines()
            last = (errors or output.splitlines() or ["no output"])[-1]
            raise TargetFailed(f"{field_name}: exited with {code}: {last} (log {log})")
        return output

    def _setup(self, field_name: str, argv: list[str], env: dict[str, str]) -> None:
        self._command(field_name, argv, env, timeout=300)

    def _wait_ready(self, child: Child) -> None:
        spec = self.profile.service
        url = self.base_url + spec.ready_path
        deadline = time.monotonic() + spec.ready_timeout
        last = "connection refused"
        while time.monotonic() < deadline:
            code = child.wait(timeout=0)
            if code is not None:
                tail = child.tail(1).strip() or "no output"
                raise TargetExitedEarly(f"service.command: exited with {code} before {spec.ready_path} answered "
                                   f"(last line: {tail}; log {child.log_path})")
            try:
                answer = httpx.get(url, timeout=2.0)
                if answer.is_success:
                    return
                last = f"answered {answer.status_code}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise TargetFailed(f"service.ready_path: GET {spec.ready_path} not 2xx after {spec.ready_timeout:.0f} s "
                           f"({last}; log {child.log_path})")

    def _auth_values(self, env: dict[str, str]) -> dict[str, str]:
        found = {}
        for name, argv in self.profile.auth.run.items():
            printed = self._command(f"auth.run.{name}", fill(argv, self.values), env, timeout=60)
            if not printed:
                raise TargetFailed(f"auth.run.{name}: printed nothing")
            found[name] = printed.splitlines()[-1].strip()
        for name, login in self.profile.auth.login.items():
            found[name] = self._login(name, login)
        return found

    def _login(self, name: str, login: Login) -> str:
        field = f"auth.login.{name}"
        try:
            answer = httpx.request(login.method, self.base_url + login.path, json=login.json_body, data=login.form,
                                   timeout=10.0)
        except httpx.TransportError as exc:
            raise TargetFailed(f"{field}: {login.method} {login.path}: {type(exc).__name__}") from None
        if not answer.is_success:
            raise TargetFailed(f"{field}: {login.method} {login.path} answered {answer.status_code}")
        try:
            return str(jsonpath.read(jsonpath.parse(login.value), answer.json()))
        except (ValueError, jsonpath.PathError) as exc:
            raise TargetFailed(f"{field}.value: {exc}") from None


def _admin(dsn: str, statement: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    run_sync(go)


def _simulators(stack: contextlib.ExitStack, log_dir: Path) -> dict[str, str]:
    # A user's own PAYHARNESS_SIM_* settings are for `payharness simulators`, not for a target run.
    env = environment_without_settings() | SIM_ENV
    urls = {}
    for name in ("payu", "wompi", "efecty"):
        service = Service(f"simulator-{name}", [sys.executable, "-m", f"simulators.{name}"], log_dir=log_dir,
                          cwd=REPO, env=env)
        stack.callback(service.stop)
        urls[name] = service.start().url
    return urls


def _values(sims: dict[str, str]) -> dict[str, str]:
    creds = simulator_credentials()
    values = {f"{name}_url": url for name, url in sims.items()}
    values.update({f"payu_{k}": v for k, v in creds["payu"].items()})
    values.update({f"wompi_{k}": v for k, v in creds["wompi"].items()})
    values["efecty_merchant_api_key"] = creds["efecty"]["api_key"]
    values["efecty_convenio"] = creds["efecty"]["convenio"]
    return values
