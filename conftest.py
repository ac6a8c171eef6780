"""Fixtures that hand the stack and a fresh database to each test.

One Postgres per test session (the provider picks the DSN, Docker or the embedded server), one template
database migrated once, and a clone of it per test that wants a database (``database`` fixture), dropped
afterwards. Real commits on real connections: races and constraints need them (STYLE.md 12).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from hypothesis import HealthCheck, settings

from harness.databases import DatabaseFactory
from harness.defects import Seeding
from harness.postgres import PostgresHandle, provide_postgres

pytest_plugins = ["harness.pytest_tmp", "harness.pytest_scenarios", "harness.defects.pytest_plugin"]

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@dataclass(frozen=True)
class Database:
    """A fresh migrated database for one test: its name and URLs."""

    name: str
    url: str  # SQLAlchemy asyncpg URL
    dsn: str  # plain libpq URL (asyncpg.connect, psql)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresHandle]:
    """The session's Postgres server, started (or found) once and cleaned up at the end."""
    with provide_postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def db_factory(postgres: PostgresHandle, seeding: Seeding) -> Iterator[DatabaseFactory]:
    """The template database, migrated to head once per session (per xdist worker), with any seeded defects."""
    factory = DatabaseFactory(postgres, seeding=seeding)
    factory.build_template()
    yield factory
    factory.drop_template()


@pytest.fixture
def database(db_factory: DatabaseFactory) -> Iterator[Database]:
    """A database of this test's own, cloned from the template and dropped afterwards."""
    name = db_factory.clone()
    try:
        yield Database(name=name, url=db_factory.url(name), dsn=db_factory.url(name, driver=""))
    finally:
        db_factory.drop(name)


@pytest.fixture
async def conn(database: Database) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the test's database, for attacking the schema directly."""
    connection = await asyncpg.connect(database.dsn)
    try:
        yield connection
    finally:
        await connection.close()
