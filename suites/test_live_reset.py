"""The per-test reset itself: it waits for work in flight instead of racing it, and a reset that fails ends the run.

The first test drives ``support.reset`` against a fresh database with a transaction left open, as a
request of the previous test would leave one; the second runs pytest on a live test whose stack cannot be
reached and reads what the run says.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest

from core.webhooks import store
from suites.constraints.helpers import insert_event, insert_order
from suites.support import reset as support_reset
from suites.support.reset import APPLICATION_NAME, CORE_TABLES, empty_core_tables, truncate_all_at_once

if TYPE_CHECKING:
    from conftest import Database

REPO = Path(__file__).resolve().parent.parent
LIVE_TEST = "suites/api/test_api_abuse.py::test_public_config_carries_no_secret"


async def test_the_reset_waits_for_an_open_transaction_instead_of_deadlocking_with_it(database: Database) -> None:
    request = await asyncpg.connect(database.dsn)
    try:
        # This side detects a deadlock first, as a request of the core may: it is the one Postgres would cancel.
        await request.execute("SET deadlock_timeout = '50ms'")
        async with request.transaction():
            await insert_order(request)  # holds orders, the last table the TRUNCATE locks
            reset = asyncio.create_task(empty_core_tables(database.dsn))
            await asyncio.sleep(0.5)
            assert not reset.done()
            # A TRUNCATE already under way would hold webhook_events here: the request would deadlock.
            await insert_event(request, event_key="in-flight")
        await asyncio.wait_for(reset, timeout=10)
    finally:
        await request.close()
    conn = await asyncpg.connect(database.dsn)
    try:
        counts = [await conn.fetchval(f"SELECT count(*) FROM {table}") for table in CORE_TABLES]
    finally:
        await conn.close()
    assert counts == [0] * len(CORE_TABLES)


# A reset held up by another session: waiting on a lock (a plain TRUNCATE, or any one-order LOCK TABLE), or
# having found a table in use and let go of everything (truncate_all_at_once).
_RESET_WAITS = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE NOT l.granted AND a.application_name = $1")
# Two orders in which the core's statements take their tables; a statement's own order shows here as a
# transaction's, paused between its steps. Priming (and GUARDED_WRITE, FRESH_WRITE): the order, the attempt,
# then the event tables. WRITE (an event that matches no attempt), the Efecty reconciliation: a child first.
_ORDERS_FIRST = ((store.READ["id"], ("wompi", 0)), (store.GUARDED_WRITE, store._UNMET_GUARD))
_EVENTS_FIRST = ((store.FIRST_EVENT, ("wompi", "")), (store.READ["id"], ("wompi", 0)))


@pytest.mark.parametrize("steps", [_ORDERS_FIRST, _EVENTS_FIRST], ids=["order-first-as-prime", "event-first-as-write"])
async def test_the_emptying_never_deadlocks_with_a_core_statement_begun_after_the_quiet_check(
    database: Database, caplog: pytest.LogCaptureFixture, steps: tuple[tuple[str, tuple[object, ...]], ...]
) -> None:
    """The webhook pool primes a new connection by itself, so the core may start work just after the quiet
    check: the emptying must then wait for it, not deadlock with it (as the children-first TRUNCATE did with
    priming, and a parents-first LOCK TABLE would with WRITE's order: both tried, both red here)."""
    caplog.set_level(logging.DEBUG, logger=support_reset.__name__)
    core = await asyncpg.connect(database.dsn)
    emptier = await asyncpg.connect(database.dsn, server_settings={"application_name": APPLICATION_NAME})
    emptying: asyncio.Task[None] | None = None
    try:
        await insert_order(core)  # something to empty
        # This side detects a deadlock first, as the core's statement would: it is the one Postgres cancels.
        await core.execute("SET deadlock_timeout = '50ms'")
        async with core.transaction():
            (first, first_args), (then, then_args) = steps
            await core.fetch(first, *first_args)  # holds the first step's tables
            emptying = asyncio.create_task(truncate_all_at_once(emptier, budget_seconds=10))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            def told() -> bool:
                return any(r.name == support_reset.__name__ for r in caplog.records)

            while not (told() or await core.fetchval(_RESET_WAITS, APPLICATION_NAME)):
                assert loop.time() < deadline and not emptying.done(), "the emptying was never held up"
                await asyncio.sleep(0.01)
            await core.fetch(then, *then_args)  # the rest of the statement: DeadlockDetectedError when it deadlocks
        await asyncio.wait_for(emptying, timeout=10)
        counts = [await core.fetchval(f"SELECT count(*) FROM {table}") for table in CORE_TABLES]
    finally:
        if emptying is not None and not emptying.done():
            emptying.cancel()
        await asyncio.gather(*([emptying] if emptying else []), return_exceptions=True)
        await asyncio.gather(core.close(), emptier.close())
    assert counts == [0] * len(CORE_TABLES)


@pytest.mark.parametrize(("args", "code", "banner"), [((), 3, "Exit"), (("-n", "2"), 2, "Interrupted")])
def test_a_reset_that_fails_stops_the_session_and_is_no_result_of_the_test(
    tmp_path: Path, args: tuple[str, ...], code: int, banner: str
) -> None:
    nowhere = "http://127.0.0.1:9"  # the discard port: nothing answers there
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", LIVE_TEST, f"--target={nowhere}",
           f"--target-payu={nowhere}", f"--target-wompi={nowhere}", f"--target-efecty={nowhere}",
           "--target-db=postgresql://postgres@127.0.0.1:9/none", "--target-token-secret=s",
           f"--junitxml={tmp_path / 'junit.xml'}", *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, done.stdout + done.stderr
    assert f"{banner}: payharness: the per-test reset before {LIVE_TEST} failed" in done.stdout
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="0"' in junit and 'errors="0"' in junit and 'failures="0"' in junit, junit
    assert "<testcase" not in junit
