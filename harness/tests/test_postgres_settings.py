"""Server settings given to the embedded Postgres reach its command line, and survive a crash's restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from harness import postgres as provider


def _show(dsn: str, *names: str) -> list[str]:
    async def ask() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return [str(await conn.fetchval(f"SHOW {name}")) for name in names]
        finally:
            await conn.close()

    return asyncio.run(ask())


def test_settings_reach_the_pg_ctl_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def run(cmd: list[str], user: str | None, timeout: float) -> None:
        seen.append(cmd)

    monkeypatch.setattr(provider, "_run", run)
    provider._start_server(tmp_path / "bin", tmp_path / "data", tmp_path, None, port=5999, durable=False,
                           settings={"max_wal_size": "4GB", "checkpoint_timeout": "30min"})
    provider._start_server(tmp_path / "bin", tmp_path / "data", tmp_path, None, port=5999, durable=False)
    with_settings, without = (cmd[cmd.index("-o") + 1] for cmd in seen)
    assert with_settings.endswith(" -c max_wal_size=4GB -c checkpoint_timeout=30min")
    assert "max_wal_size" not in without


def test_an_embedded_server_runs_with_them_before_and_after_a_crash() -> None:
    pg = provider.start_embedded(settings={"max_wal_size": "3GB", "checkpoint_timeout": "20min"})
    try:
        assert _show(pg.dsn, "max_wal_size", "checkpoint_timeout") == ["3GB", "20min"]
        pg.crash_and_restart()
        assert _show(pg.dsn, "max_wal_size", "checkpoint_timeout") == ["3GB", "20min"]
    finally:
        pg.stop()
