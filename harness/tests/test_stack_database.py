"""On a server given by DSN the stack works in a fresh ``payharness_<random>`` database and drops it afterwards.

The harness's own embedded Postgres plays the user's server (``PAYHARNESS_DATABASE_URL``).
"""

from __future__ import annotations

import asyncpg
import pytest

from harness.databases import run_sync
from harness.postgres import ENV_DSN, ENV_PROVIDER, PostgresHandle
from harness.stack import Stack


def _databases(dsn: str) -> set[str]:
    async def names() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return run_sync(names)


def test_a_stack_on_a_dsn_server_uses_a_fresh_database_and_drops_it(
    postgres: PostgresHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DSN, postgres.dsn)
    monkeypatch.delenv(ENV_PROVIDER, raising=False)
    before = _databases(postgres.dsn)
    with Stack.start(with_simulators=False, with_core=False) as first, \
            Stack.start(with_simulators=False, with_core=False) as second:
        assert first.postgres.kind == "dsn"
        assert first.database.startswith("payharness_") and first.database != second.database
        assert {first.database, second.database} <= _databases(postgres.dsn)
        assert first.database not in before
    assert _databases(postgres.dsn) == before


def test_a_database_named_by_the_user_is_kept(postgres: PostgresHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DSN, postgres.dsn)
    monkeypatch.delenv(ENV_PROVIDER, raising=False)
    name = "payharness_kept_by_user"
    try:
        with Stack.start(database=name, with_simulators=False, with_core=False):
            pass
        assert name in _databases(postgres.dsn)
    finally:
        async def drop() -> None:
            conn = await asyncpg.connect(postgres.dsn)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            finally:
                await conn.close()

        run_sync(drop)
