"""Template and per-test databases: migrate once, clone per test with CREATE DATABASE … TEMPLATE, drop after.

Rolling back a transaction per test cannot show races: a race needs real commits on several
connections (STYLE.md 12). So each test gets a whole database of its own, cloned from a template the
migrations were applied to once. Names carry the pytest-xdist worker id and a random suffix, so
parallel workers never collide on one server.

Usage::

    factory = DatabaseFactory(pg)            # pg: a harness.postgres.PostgresHandle
    factory.build_template()                 # alembic upgrade head, once
    name = factory.clone()                   # a fresh, migrated database
    ...
    factory.drop(name)
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from harness.defects import Seeding
from harness.postgres import PostgresHandle

T = TypeVar("T")
PREFIX = "payharness_"
_SAFE = re.compile(r"^[a-z0-9_]{1,63}$")


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an admin coroutine from sync code (fixtures, CLI); each call gets its own short-lived loop."""
    return asyncio.run(fn())  # type: ignore[arg-type]


def quote_ident(name: str) -> str:
    # Database names cannot be bound as parameters; allow only what we generate ourselves.
    if not _SAFE.match(name):
        raise ValueError(f"unsafe database name: {name!r}")
    return f'"{name}"'


class DatabaseFactory:
    """Owns the template database on one server and hands out clones of it."""

    def __init__(self, pg: PostgresHandle, *, template: str | None = None, seeding: Seeding | None = None) -> None:
        self.pg = pg
        self.seeding = seeding or Seeding()  # schema defects to put into the template (none by default)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.worker = re.sub(r"[^a-z0-9]", "", worker.lower()) or "main"
        # One template per process: xdist workers may migrate at the same time without stepping on each other.
        self.template = template or f"{PREFIX}tpl_{self.worker}_{secrets.token_hex(3)}"

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(self.pg.dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def build_template(self) -> str:
        """Create the template database and migrate it to head; returns its name."""
        from core.db.migrate import upgrade

        run_sync(lambda: self._admin(f"DROP DATABASE IF EXISTS {quote_ident(self.template)}",
                                 f"CREATE DATABASE {quote_ident(self.template)}"))
        upgrade(self.pg.database_dsn(self.template, driver="asyncpg"))
        from harness.defects.schema import apply_schema_defects

        # Seeded schema defects go into the template, so every clone has them.
        run_sync(lambda: apply_schema_defects(self.pg.database_dsn(self.template), self.seeding))
        # Mark it a template so nobody connects to it by mistake while clones are made.
        run_sync(lambda: self._admin(f"ALTER DATABASE {quote_ident(self.template)} WITH IS_TEMPLATE true"))
        return self.template

    def new_name(self) -> str:
        return f"{PREFIX}t_{self.worker}_{secrets.token_hex(4)}"

    async def clone_async(self, name: str | None = None) -> str:
        name = name or self.new_name()
        # FILE_COPY copies the template's files directly: for a small schema it is faster than the
        # default WAL_LOG strategy, which writes every block of the new database through the WAL.
        await self._admin(
            f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(self.template)} STRATEGY = FILE_COPY"
        )
        return name

    def clone(self, name: str | None = None) -> str:
        """A fresh database migrated to head, cloned from the template; returns its name."""
        return run_sync(lambda: self.clone_async(name))

    async def drop_async(self, name: str) -> None:
        # WITH (FORCE) ends connections a test left open (a pool not yet disposed, a killed worker).
        await self._admin(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    def drop(self, name: str) -> None:
        run_sync(lambda: self.drop_async(name))

    def drop_template(self) -> None:
        run_sync(lambda: self._admin(
            f"ALTER DATABASE {quote_ident(self.template)} WITH IS_TEMPLATE false",
            f"DROP DATABASE IF EXISTS {quote_ident(self.template)} WITH (FORCE)",
        ))

    def url(self, name: str, *, driver: str = "asyncpg") -> str:
        return self.pg.database_dsn(name, driver=driver)
