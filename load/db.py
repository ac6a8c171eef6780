"""The load's two touches of the database: seed a run's orders before the load, snapshot them after.

Seeding writes what the checkout would have left (an order and its pending attempts), straight into the
tables, for every story index the run may use; the stories themselves come from ``load.payloads``, so
the seeder and the Locust workers agree without talking. The snapshot reads back only this run's rows
(their references carry the run id) into the plain rows ``load.audit`` works on.

Usage::

    run_sync(lambda: seed_run(dsn, "r1a2b3", Mix(), {"wompi": 9000, "payu": 3000, "sim": 200}))
    snapshot = run_sync(lambda: take_snapshot(dsn, ["r1a2b3"], extra_keys=set()))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

import asyncpg

from load.audit import EventRow, OrderRow, Snapshot, TxRow
from load.payloads import WOMPI_MERCHANT_NUMBER, Attempt, Mix, plan_sim_story, plan_story

T = TypeVar("T")
CHUNK = 5_000


def plain_dsn(url: str) -> str:
    """asyncpg wants a libpq URL; accept the SQLAlchemy spelling too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code (also inside a Locust process: asyncio runs fine in a greenlet)."""
    return asyncio.run(fn())  # type: ignore[arg-type]


def _rows_for(run_id: str, mix: Mix, counts: dict[str, int]) -> list[tuple[str, Decimal, list[Attempt]]]:
    rows: list[tuple[str, Decimal, list[Attempt]]] = []
    for gateway in ("wompi", "payu"):
        for index in range(counts.get(gateway, 0)):
            story = plan_story(run_id, gateway, index, mix)
            rows.append((story.order_reference, story.total, list(story.attempts)))
    for index in range(counts.get("sim", 0)):
        sim = plan_sim_story(run_id, index)
        rows.append((sim.order_reference, sim.attempt.amount, [sim.attempt]))
    return rows


async def seed_run(dsn: str, run_id: str, mix: Mix, counts: dict[str, int]) -> int:
    """Insert every order the run may drive; returns how many orders. Idempotent per run id."""
    rows = _rows_for(run_id, mix, counts)
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            async with conn.transaction():
                ids = await conn.fetch(
                    "INSERT INTO orders (reference, buyer_id, total_amount) "
                    "SELECT r, $2, t FROM unnest($1::text[], $3::numeric[]) AS u(r, t) "
                    "ON CONFLICT (reference) DO NOTHING RETURNING id, reference",
                    [r for r, _, _ in chunk],
                    f"load-{run_id}",
                    [t for _, t, _ in chunk],
                )
                order_id = {rec["reference"]: rec["id"] for rec in ids}
                attempts = [(order_id[ref], a) for ref, _, atts in chunk if ref in order_id for a in atts]
                await conn.execute(
                    "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference,"
                    " payment_method, amount, currency, status) "
                    "SELECT o, g::gateway, gid, r, 'CARD', a, 'COP', s::transaction_status "
                    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[])"
                    " AS u(o, g, gid, r, a, s)",
                    [o for o, _ in attempts],
                    [a.gateway for _, a in attempts],
                    [a.gateway_id for _, a in attempts],
                    [a.reference for _, a in attempts],
                    [a.amount for _, a in attempts],
                    [a.seeded_status for _, a in attempts],
                )
        # Fresh statistics now, as a database that has lived would have: otherwise autovacuum analyzes
        # the tables tens of thousands of rows just grew by in the middle of the run's first seconds.
        await conn.execute("ANALYZE orders, order_transactions")
    finally:
        await conn.close()
    return len(rows)


def _patterns(run_ids: Iterable[str]) -> list[str]:
    patterns = []
    for run in run_ids:
        patterns += [f"LOAD-{run}-%", f"{WOMPI_MERCHANT_NUMBER}-{run}-%"]
    return patterns


async def take_snapshot(dsn: str, run_ids: Sequence[str], *, extra_keys: Iterable[str] = ()) -> Snapshot:
    """This run's orders, transactions, event rows, conflicts and the core's anomaly counts."""
    conn = await asyncpg.connect(plain_dsn(dsn))
    # One REPEATABLE READ snapshot for every table: a request still landing between two reads would
    # otherwise show an event row without the state change it made (or the reverse).
    snapshot = conn.transaction(isolation="repeatable_read", readonly=True)
    await snapshot.start()
    try:
        # Seeded orders belong to buyer load-<run>; orders the checkout users create, to load-<run>-<user>.
        buyers = [p for r in run_ids for p in (f"load-{r}", f"load-{r}-%")]
        orders = await conn.fetch(
            "SELECT id, reference, total_amount, approved_amount, status::text AS status, flagged_for_refund,"
            " buyer_id FROM orders WHERE buyer_id LIKE ANY($1::text[])",
            buyers,
        )
        order_ids = [o["id"] for o in orders]
        txs = await conn.fetch(
            "SELECT id, order_id, gateway::text AS gateway, gateway_transaction_id, reference, amount,"
            " status::text AS status FROM order_transactions WHERE order_id = ANY($1::bigint[])",
            order_ids,
        )
        events = await conn.fetch(
            "SELECT id, gateway::text AS gateway, event_key, transaction_id, order_id, outcome::text AS outcome,"
            " signature FROM webhook_events WHERE order_id = ANY($1::bigint[])"
            " OR transaction_id = ANY($2::bigint[]) OR event_key LIKE ANY($3::text[]) OR event_key = ANY($4::text[])",
            order_ids,
            [t["id"] for t in txs],
            _patterns(run_ids),
            sorted(set(extra_keys)),
        )
        event_ids = [e["id"] for e in events]
        conflicts = await conn.fetchval(
            "SELECT count(*) FROM webhook_event_conflicts WHERE webhook_event_id = ANY($1::bigint[])", event_ids
        )
        kinds = await conn.fetch(
            "SELECT kind::text AS kind, order_id FROM payment_anomalies"
            " WHERE order_id = ANY($1::bigint[]) OR webhook_event_id = ANY($2::bigint[])",
            order_ids,
            event_ids,
        )
    finally:
        await snapshot.rollback()
        await conn.close()
    seeded = {f"load-{r}" for r in run_ids}
    return Snapshot(
        orders=[
            OrderRow(
                o["id"],
                o["reference"],
                o["total_amount"],
                o["approved_amount"],
                o["status"],
                o["flagged_for_refund"],
                "seeded" if o["buyer_id"] in seeded else "api",
            )
            for o in orders
        ],
        transactions=[
            TxRow(
                t["id"],
                t["order_id"],
                t["gateway"],
                t["gateway_transaction_id"],
                t["reference"],
                t["amount"],
                t["status"],
            )
            for t in txs
        ],
        events=[
            EventRow(
                e["id"], e["gateway"], e["event_key"], e["transaction_id"], e["order_id"], e["outcome"], e["signature"]
            )
            for e in events
        ],
        conflicts=int(conflicts or 0),
        core_anomalies=[(k["kind"], k["order_id"]) for k in kinds],
    )
