"""``PostgresHandle.crash_and_restart``: a real SIGKILL of the embedded postmaster and a restart on its data."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from harness import postgres as provider
from harness.postgres import PostgresHandle, PostgresUnavailable


@pytest.mark.parametrize("everything", [False, True], ids=["postmaster", "every-process"])
async def test_a_crashed_durable_server_comes_back_on_its_port_with_every_committed_row(everything: bool) -> None:
    pg = provider.start_embedded(durable=True)
    try:
        conn = await asyncpg.connect(pg.dsn)
        data = Path(await conn.fetchval("SHOW data_directory"))
        await conn.execute("CREATE TABLE committed (n int PRIMARY KEY)")
        for n in range(50):  # each its own commit, acknowledged before the next
            await conn.execute("INSERT INTO committed VALUES ($1)", n)
        before = await conn.fetchval("SELECT pg_postmaster_start_time()")

        crash = pg.crash_and_restart(everything=everything)

        with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)):
            await conn.fetchval("SELECT 1")  # the old session died with its server
        assert not provider._running(crash.postmaster_pid)  # gone, or a zombie its adopter has not reaped yet
        assert crash.killed_at < crash.gone_at <= crash.back_at
        assert crash.crash_recovery, "the control file should say the server was killed, not shut down"
        assert crash.everything is everything and crash.orphans_killed == 0
        conn = await asyncpg.connect(pg.dsn)  # same DSN: same port
        try:
            assert await conn.fetchval("SELECT pg_postmaster_start_time()") > before
            assert int((data / "postmaster.pid").read_text().split()[0]) != crash.postmaster_pid
            assert await conn.fetchval("SELECT count(*) FROM committed") == 50
        finally:
            await conn.close()
    finally:
        pg.stop()
    assert not data.exists()
    assert provider._server_processes(data) == []


def test_only_an_embedded_server_can_be_crashed() -> None:
    handle = PostgresHandle("dsn", "postgresql://someone@127.0.0.1:1/postgres")
    assert not handle.can_crash
    with pytest.raises(PostgresUnavailable, match="embedded"):
        handle.crash_and_restart()

