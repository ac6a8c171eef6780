"""What hostile input must never do, checked from outside: a 5xx, a charge or a write for a refused request.

``Witness`` takes a snapshot (rows in every core table, money-moving calls at each simulator) before a
request and checks the answer against it afterwards. Synchronous, on a loop of its own, so Hypothesis and
schemathesis tests (which are synchronous) can use it between examples.

Usage::

    with Witness(live) as witness:
        before = witness.snapshot()
        response = http.post(...)
        witness.check(response.status_code, response.content, before)
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import asyncpg

from suites.conftest import CORE_TABLES, Live
from suites.support.faults import charges, hold_webhooks

SUPPORT_REFERENCE = re.compile(r"SUP-[0-9A-F]{12}")
# Where the core keeps evidence of a signed webhook it refused (an anomaly, a conflicting replay): writing
# there is the point of refusing it, so a verified webhook's refusal may; money tables never change.
EVIDENCE_TABLES = frozenset({"webhook_events", "webhook_event_conflicts", "payment_anomalies"})
GATEWAYS = ("payu", "wompi", "efecty")


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    charges: dict[str, int]


def support_reference(body: bytes) -> str | None:
    """The support reference a 5xx body carries (in ``error`` or at the top, as /health has it), or None."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    reference = (error if isinstance(error, dict) else data).get("support_reference")
    return reference if isinstance(reference, str) and SUPPORT_REFERENCE.fullmatch(reference) else None


class Witness:
    """Snapshots of the core's tables and the simulators' charges, and the invariants over them."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection | None = None

    def __enter__(self) -> Witness:
        self.conn = self.loop.run_until_complete(asyncpg.connect(self.live.db_dsn))
        # A payment an earlier example started gets its webhook seconds later, from the simulator: held back
        # (the per-test reset lifts it), it cannot land between one example's snapshot and its check. Seen
        # once: a refused request "wrote" a webhook_events row that an earlier example's payment brought.
        for gateway in GATEWAYS:
            self.loop.run_until_complete(hold_webhooks(self.live, gateway))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.conn is not None:
            self.loop.run_until_complete(self.conn.close())
        self.loop.close()

    async def _snapshot(self) -> Snapshot:
        assert self.conn is not None
        counts = await self.conn.fetchrow(
            "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in CORE_TABLES))
        taken = {g: len(await charges(self.live, g)) for g in GATEWAYS}
        return Snapshot(dict(counts), taken)

    def snapshot(self) -> Snapshot:
        return self.loop.run_until_complete(self._snapshot())

    def check(self, status: int, body: bytes, before: Snapshot, what: str, *, webhook: bool = False) -> None:
        """No 5xx; a refusal (any non-2xx) charged nothing and wrote nothing.

        ``webhook``: a refusal after the signature was verified (not a 401) may record evidence.
        """
        assert status < 500, f"{what}: {status} {body[:300]!r}"
        if status >= 300:
            after = self.snapshot()
            assert after.charges == before.charges, f"{what}: refused with {status} but charged: {after.charges}"
            exempt = EVIDENCE_TABLES if webhook and status != 401 else frozenset()
            changed = {t: (before.rows[t], n) for t, n in after.rows.items() if n != before.rows[t] and t not in exempt}
            assert changed == {}, f"{what}: refused with {status} but wrote (before, after): {changed}"


def assert_5xx_quotes_a_reference(status: int, body: bytes, what: str) -> None:
    """A 5xx that does happen must at least carry its support reference (the README's promise)."""
    if status >= 500:
        assert support_reference(body) is not None, f"{what}: {status} without a support reference: {body[:300]!r}"
