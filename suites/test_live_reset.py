"""The per-test reset itself: it waits for work in flight instead of racing it, and a reset that fails ends the run.

The first test drives ``support.reset`` against a fresh database with a transaction left open, as a
request of the previous test would leave one; the second runs pytest on a live test whose stack cannot be
reached and reads what the run says.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest

from suites.constraints.helpers import insert_event, insert_order
from suites.support.reset import CORE_TABLES, empty_core_tables

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
