"""Fixtures for the live suites: one stack per run (simulators + core with 2 uvicorn workers), reset per test.

The core serves one database for the whole run (restarting it per test would cost seconds);
``live`` quiesces and resets the simulators and empties the core's tables once no transaction is open on
them (``support.reset``) before each test, so every test starts from the same empty state. Tests that
attack the schema itself use the root ``database`` fixture instead: a fresh clone per test.

``pytest --target URL --target-payu URL --target-wompi URL --target-efecty URL --target-db DSN
--target-token-secret SECRET`` runs the same suites against a stack that is already running (started
with ``suites.support.target.SUITE_CORE_ENV``): no stack is started, and tests that must restart the core
or cut its database off (they ask for ``stack``) are skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

if TYPE_CHECKING:
    from suites.support.core_target import CoreOnly

from harness.databases import DatabaseFactory
from harness.postgres import PostgresHandle
from harness.stack import Stack, simulator_credentials
from harness.target.run import TargetRun
from harness.target.target import Target
from suites.support.http import client
from suites.support.reset import CORE_TABLES as CORE_TABLES  # what other suites import from here
from suites.support.reset import reset_stack
from suites.support.target import SUITE_CORE_ENV, SUITE_SIM_ARGS

SUITES = Path(__file__).parent
PORTABLE = SUITES / "portable"  # scenarios for any profiled service: collected only with --target-profile
TARGET_OPTIONS = {"--target-payu": "payu", "--target-wompi": "wompi", "--target-efecty": "efecty"}
TOKEN_SECRET = "PAYHARNESS_AUTH__TOKEN_SECRET"


@dataclass(frozen=True)
class Live:
    """The running stack as a test sees it."""

    urls: dict[str, str]
    creds: dict[str, dict[str, str]]
    core_env: dict[str, str]
    db_dsn: str

    @cached_property
    def core_run(self) -> TargetRun:
        """The core as its profile (harness/target/core.toml) describes it: made once, on first use."""
        from suites.support.core_target import core_run  # it imports Live from here

        return core_run(self)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("payharness-target", "run the live suites against a stack that is already running")
    group.addoption(
        "--target",
        default=None,
        metavar="URL",
        help="the running core, e.g. http://127.0.0.1:8000 (no stack is started)",
    )
    for option, name in TARGET_OPTIONS.items():
        group.addoption(option, default=None, metavar="URL", help=f"the {name} simulator the target core uses")
    group.addoption(
        "--target-db",
        default=None,
        metavar="DSN",
        help="libpq URL of the target core's database; its core tables are emptied before each test",
    )
    group.addoption(
        "--target-profile",
        default=None,
        metavar="FILE",
        help="run the portable scenarios (suites/portable) against the service this target profile describes",
    )
    group.addoption(
        "--target-token-secret",
        default=None,
        metavar="SECRET",
        help="the target core's PAYHARNESS_AUTH__TOKEN_SECRET, to mint buyer and admin tokens",
    )


def target_mode(config: pytest.Config) -> bool:
    return bool(config.getoption("--target", default=None))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The portable scenarios only with a profile; with a profile, nothing but them (they have their own catalog)."""
    profiled = bool(config.getoption("--target-profile", default=None))
    if collection_path == PORTABLE and not profiled:
        return True
    if profiled and collection_path.parent == SUITES and collection_path not in (PORTABLE, SUITES / "conftest.py"):
        return True
    return None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """With a profile, the built-in families left out are named with why, not dropped silently."""
    if not config.getoption("--target-profile", default=None):
        return
    from harness.target.applicability import not_runnable_families

    terminalreporter.section("built-in suites not runnable against a foreign target")
    for name, reason in not_runnable_families().items():
        terminalreporter.write_line(f"suites/{name}: {reason}")


@pytest.hookimpl(tryfirst=True)  # before the scenario recorder reads its catalog
def pytest_configure(config: pytest.Config) -> None:
    default_catalog = Path(config.option.scenarios_catalog).resolve() == (SUITES / "scenarios.toml").resolve()
    if config.getoption("--target-profile", default=None) and default_catalog:
        config.option.scenarios_catalog = str(PORTABLE / "scenarios.toml")
    if not target_mode(config):
        return
    needed = [*TARGET_OPTIONS, "--target-db", "--target-token-secret"]
    missing = [option for option in needed if not config.getoption(option)]
    if missing:
        raise pytest.UsageError(f"--target also needs {', '.join(missing)} (`payharness up` prints them all)")


def _target(config: pytest.Config) -> Live:
    urls = {"core": str(config.getoption("--target")).rstrip("/")}
    urls.update({name: str(config.getoption(option)).rstrip("/") for option, name in TARGET_OPTIONS.items()})
    env = {**SUITE_CORE_ENV, TOKEN_SECRET: str(config.getoption("--target-token-secret"))}
    return Live(urls=urls, creds=simulator_credentials(), core_env=env, db_dsn=str(config.getoption("--target-db")))


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The session's stack: Postgres, the three simulators, the core (2 uvicorn workers). Not in target mode.

    Usage: ask for it only to restart the core or reach its Postgres server; everything else uses ``live``.
    """
    if target_mode(request.config):
        pytest.skip("needs a stack it controls (restart the core, cut its database off): not in --target mode")
    postgres: PostgresHandle = request.getfixturevalue("postgres")
    db_factory: DatabaseFactory = request.getfixturevalue("db_factory")
    name = db_factory.clone(f"payharness_core_{db_factory.worker}_{secrets.token_hex(3)}")
    try:
        with Stack.start(
            database=name,
            postgres=postgres,
            core_workers=2,
            core_extra_env=dict(SUITE_CORE_ENV),
            seeding=db_factory.seeding,
            sim_args={name: list(args) for name, args in SUITE_SIM_ARGS.items()},
        ) as running:
            yield running
    finally:
        db_factory.drop(name)


@pytest.fixture(scope="session")
def endpoints(request: pytest.FixtureRequest) -> Live:
    """Where the stack is: the session stack's addresses, or the ``--target`` ones."""
    if target_mode(request.config):
        return _target(request.config)
    running: Stack = request.getfixturevalue("stack")
    return Live(
        urls=dict(running.urls),
        creds=simulator_credentials(),
        core_env=dict(running.core_env),
        db_dsn=running.postgres.database_dsn(running.database),
    )


@pytest.fixture
async def live(request: pytest.FixtureRequest, endpoints: Live) -> AsyncIterator[Live]:
    """A clean stack for this test: simulators quiesced and reset, the core's tables emptied once it is quiet.

    A reset that cannot finish stops the session (exit code 3) with the reason: the stack is in an unknown
    state, so neither this test nor any after it would say anything about the core.

    Usage: ``async def test_x(live: Live, core: httpx.AsyncClient, core_db: asyncpg.Connection)``.
    """
    try:
        await reset_stack(endpoints.urls, endpoints.db_dsn)
    except Exception as exc:  # any reason at all: the session cannot go on
        reason = (f"payharness: the per-test reset before {request.node.nodeid} failed, so the stack's state is "
                  f"unknown and the session stops here (not a result of any test): {exc!r}")
        # shouldstop carries the reason to the xdist controller, which shows it as the run's interruption.
        request.session.shouldstop = reason
        pytest.exit(reason, returncode=pytest.ExitCode.INTERNAL_ERROR)
    yield endpoints


@pytest.fixture
async def target(live: Live) -> AsyncIterator[Target]:
    """The clean core (``live`` reset it) reached only through its profile: the portable scenarios' one path.

    Usage: ``order = await target.create_order(Decimal("50000.00")); await target.amount_paid(order.order_id)``.
    """
    async with Target(live.core_run) as reached:
        yield reached


@pytest.fixture
def core_only(live: Live) -> CoreOnly:
    """What only our core allows (tokens for anyone, SQL on its schema): see ``suites.support.core_target``."""
    from suites.support.core_target import CoreOnly

    return CoreOnly(live)


@pytest.fixture
async def core(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with client(base_url=live.urls["core"], timeout=30) as http:
        yield http


@pytest.fixture
async def core_db(core_only: CoreOnly) -> AsyncIterator[asyncpg.Connection]:
    """SQL on the core's own schema: a core-only power (``CoreOnly.schema``), not part of any profile."""
    async with core_only.schema() as conn:
        yield conn


async def seed_transaction(
    conn: asyncpg.Connection,
    *,
    gateway: str,
    amount: Decimal = Decimal("50000.00"),
    gateway_transaction_id: str | None = None,
    status: str = "pending",
    buyer_id: str = "buyer-1",
) -> dict[str, object]:
    """An order and one pending attempt, as the core's checkout would have left them."""
    order_ref = f"ORD-{secrets.token_hex(5)}"
    order_id = await conn.fetchval(
        "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, $2, $3) RETURNING id",
        order_ref,
        buyer_id,
        amount,
    )
    reference = f"{order_ref}-{secrets.token_hex(4)}"
    txn_id = await conn.fetchval(
        "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
        " amount, currency, status) VALUES ($1, $2, $3, $4, 'CARD', $5, 'COP', $6) RETURNING id",
        order_id,
        gateway,
        gateway_transaction_id,
        reference,
        amount,
        status,
    )
    return {
        "order_id": order_id,
        "transaction_id": txn_id,
        "reference": reference,
        "amount": amount,
        "gateway_transaction_id": gateway_transaction_id,
    }
