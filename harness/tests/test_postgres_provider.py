"""The provider's choices and its clean-up, against real servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from harness import postgres as provider
from harness.postgres import PostgresHandle, PostgresUnavailable, choose_provider, provide_postgres


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (provider.ENV_DSN, provider.ENV_PROVIDER):
        monkeypatch.delenv(name, raising=False)
    # Point the Docker client at a socket that cannot exist: "no engine answers", as in CI.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/payharness-docker.sock")


def test_embedded_is_chosen_when_nothing_is_configured(no_config: None) -> None:
    assert provider._docker_answers() is False
    assert choose_provider() == "embedded"


def test_dsn_is_chosen_when_the_database_url_is_set(no_config: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(provider.ENV_DSN, "postgresql://u:p@127.0.0.1:1/x")
    assert choose_provider() == "dsn"


def test_an_unknown_forced_provider_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(provider.ENV_PROVIDER, "sqlite")
    with pytest.raises(PostgresUnavailable, match="dsn, docker or embedded"):
        choose_provider()


async def test_the_users_server_is_used_as_is_and_left_running(
    no_config: None, monkeypatch: pytest.MonkeyPatch, postgres: PostgresHandle
) -> None:
    monkeypatch.setenv(provider.ENV_DSN, postgres.dsn.replace("postgresql://", "postgresql+asyncpg://"))
    with provide_postgres(announce=False) as pg:
        assert pg.kind == "dsn"
        conn = await asyncpg.connect(pg.dsn)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    # Leaving the block must not stop a server the harness did not start.
    conn = await asyncpg.connect(postgres.dsn)
    assert await conn.fetchval("SELECT 2") == 2
    await conn.close()


def test_a_failed_embedded_start_names_the_remedy(no_config: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider, "embedded_bin_dir", lambda: Path("/nonexistent/pginstall/bin"))
    with pytest.raises(PostgresUnavailable) as err, provide_postgres(announce=False):
        pass
    assert provider.ENV_DSN in str(err.value)
    assert "initdb" in str(err.value)


async def test_embedded_server_listens_on_loopback_and_is_removed_on_stop(no_config: None) -> None:
    pg = provider.start_embedded()
    try:
        assert "@127.0.0.1:" in pg.dsn
        conn = await asyncpg.connect(pg.dsn)
        data_dir = Path(await conn.fetchval("SHOW data_directory"))
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        await conn.close()
    finally:
        pg.stop()
    assert not data_dir.exists()
    assert not _port_open(pg.dsn)


async def test_an_embedded_server_killed_outright_leaves_nothing_behind_once_stopped(no_config: None) -> None:
    """Its shared memory lives in the data directory (not /dev/shm/PostgreSQL.*), so a SIGKILL leaks none."""
    pg = provider.start_embedded()
    try:
        conn = await asyncpg.connect(pg.dsn)
        data_dir = Path(await conn.fetchval("SHOW data_directory"))
        assert await conn.fetchval("SHOW dynamic_shared_memory_type") == "mmap"
        postmaster = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        await conn.close()
        assert any((data_dir / "pg_dynshmem").iterdir())  # the segments are files here
        os.kill(postmaster, signal.SIGKILL)
    finally:
        pg.stop()
    assert not data_dir.parent.exists()
    assert not _port_open(pg.dsn)


def test_a_server_that_outlives_its_stop_is_killed_before_its_data_goes(tmp_path: Path) -> None:
    """Only a process whose command line names the data directory is ours to kill (a stale pid is not)."""
    data = tmp_path / "data"
    data.mkdir()
    # Each prints a line once it runs: Popen can return before the kernel has set the new program's command
    # line (it read empty right after a vfork'd exec, 4 times in 5 here), and an empty one is nobody's to kill.
    up = "import time; print('up', flush=True); time.sleep(60)"
    sleeper = subprocess.Popen([sys.executable, "-c", up, "-D", str(data)], stdout=subprocess.PIPE)
    stranger = subprocess.Popen([sys.executable, "-c", up], stdout=subprocess.PIPE)
    try:
        for proc in (sleeper, stranger):
            assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        (data / "postmaster.pid").write_text(f"{stranger.pid}\n")
        provider._kill_postmaster(data)
        with pytest.raises(subprocess.TimeoutExpired):  # not ours: left alone (a kill takes a moment to show)
            stranger.wait(timeout=1)
        (data / "postmaster.pid").write_text(f"{sleeper.pid}\n{data}\n")
        provider._kill_postmaster(data)
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        for proc in (sleeper, stranger):
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.mark.parametrize("when", ["initdb", "server started"])
def test_a_ctrl_c_while_the_embedded_server_starts_leaves_no_server_and_no_data(
    no_config: None, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """KeyboardInterrupt is no Exception: the start's clean-up must catch it too (a Ctrl-C in an audit left
    a /dev/shm/payharness-pg-* data directory behind)."""
    made: list[Path] = []
    real_mkdtemp, real_run, real_start = provider.tempfile.mkdtemp, provider._run, provider._start_server

    def mkdtemp(**kwargs: Any) -> str:
        made.append(Path(real_mkdtemp(**kwargs)))
        return str(made[-1])

    def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
        if when == "initdb" and "initdb" in str(argv[0]):
            raise KeyboardInterrupt
        return real_run(argv, *args, **kwargs)

    def start(*args: Any, **kwargs: Any) -> int:
        real_start(*args, **kwargs)
        raise KeyboardInterrupt  # the server runs; the interrupt lands before the handle is returned

    monkeypatch.setattr(provider.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(provider, "_run", run)
    monkeypatch.setattr(provider, "_start_server", start)
    with pytest.raises(KeyboardInterrupt):
        provider.start_embedded()
    (root,) = made
    assert not root.exists()
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _runs_in(p, root)]


def _runs_in(proc: Path, root: Path) -> bool:
    try:
        return str(root).encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def _port_open(dsn: str) -> bool:
    parts = urlsplit(dsn)
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((parts.hostname or "127.0.0.1", parts.port or 5432)) == 0


SCRIPT = """
import sys, time
from harness.postgres import provide_postgres
with provide_postgres(announce=False) as pg:
    print(pg.dsn, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_ctrl_c_and_sigterm_stop_the_embedded_server(no_config: None, sig: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (provider.ENV_DSN, provider.ENV_PROVIDER)}
    env["DOCKER_HOST"] = "unix:///nonexistent/payharness-docker.sock"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    dsn = proc.stdout.readline().strip()
    conn = await asyncpg.connect(dsn)
    data_dir = Path(await conn.fetchval("SHOW data_directory"))
    await conn.close()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    proc.stdout.close()
    deadline = time.monotonic() + 10
    while data_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not data_dir.exists()
    assert not _port_open(dsn)


def test_an_embedded_server_whose_picked_port_was_taken_meanwhile_starts_on_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        picks = iter([busy, provider._free_port()])
        # The race, made certain: the first free port picked is bound by someone else before Postgres binds it.
        monkeypatch.setattr(provider, "_free_port", lambda: next(picks))
        handle = provider.start_embedded()
        try:
            port = urlsplit(handle.dsn).port
            assert port is not None and port != busy
        finally:
            handle.stop()
