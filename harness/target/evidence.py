"""Database evidence: what only the service's own database shows, read or probed through the profile's [evidence].

Two claims, both fail-closed (a probe that errors, or proves less than the claim, is a failure naming why,
never a pass):

- **an Efecty code is refused a second time** (seed S5). The catalog alone would not do: an index "on the
  code" may be partial (its predicate must hold for every Efecty row), an expression, or a key that also
  holds the order id (two orders could then share a code), and deciding that is Postgres's job, not a
  re-implementation's. So Postgres decides, on the service's own rows: two real Efecty payments are made
  through the API, and in one transaction that is always rolled back the profile's ``repeat`` statement gives
  the second the first one's code. It passes only when Postgres refuses that with ``unique_violation`` from
  a valid unique index of the profile's table whose key holds the profile's column; the catalog is read to
  attribute the refusal (a primary key or another index refusing it says nothing about codes) and, on a
  failure, to list what unique indexes the column has. Deferrable constraints are checked at once
  (``SET CONSTRAINTS ALL IMMEDIATE``), the probe is bounded by ``statement_timeout`` and ``lock_timeout``,
  and the rows are counted again after the rollback: nothing may be left behind.
- **an applied event names its transaction** (seed S6): the profile's ``event_transaction`` query, one row
  per stored event about a gateway transaction, naming the transaction row each is linked to.

Usage::

    async with target.database("evidence.efecty_code") as conn:
        probe = await repeat_efecty_code(conn, target.profile.evidence.efecty_code, taken="MST-1-A", own="MST-2-B")
    probe.refused, probe.evidence
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Literal

import asyncpg

from harness.target.profile import EfectyCode
from harness.target.target import ObserveFailed, Target, fetch, sql_params, typed_args

PROBE_TIMEOUT = "5s"  # a probe that waits longer (a lock held by the service) is inconclusive, not a pass
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Column:
    table: str  # as the catalog spells it, schema-qualified: public.order_transactions
    name: str
    oid: int
    quoted: str  # the column's name as SQL text


@dataclass(frozen=True)
class Probe:
    """``refused``: Postgres refused the repeat by a unique index over the column; otherwise why not."""

    verdict: Literal["refused", "accepted", "inconclusive"]
    evidence: str

    @property
    def refused(self) -> bool:
        return self.verdict == "refused"


async def locate(conn: asyncpg.Connection, spec: EfectyCode) -> Column:
    """The profile's ``table.column`` in the catalog; ObserveFailed naming the field when it is not there."""
    *schema, table, name = spec.column.split(".")
    row = await conn.fetchrow(
        "SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS table_name FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind IN ('r', 'p')"
        " AND (n.nspname = $2 OR ($2 IS NULL AND pg_table_is_visible(c.oid)))", table, schema[0] if schema else None)
    if row is None:
        raise ObserveFailed(f"evidence.efecty_code.column: no table {'.'.join([*schema, table])} in the database")
    found = await conn.fetchval("SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attname = $2"
                                " AND attnum > 0 AND NOT attisdropped", row["oid"], name)
    if found is None:
        raise ObserveFailed(f"evidence.efecty_code.column: table {row['table_name']} has no column {name}")
    return Column(row["table_name"], name, row["oid"], await conn.fetchval("SELECT format('%I', $1::text)", name))


async def holding(conn: asyncpg.Connection, column: Column, code: str) -> int:
    """How many rows of the column hold ``code``."""
    # Both names come from the catalog, quoted by Postgres's own format('%I'): no text of the profile's is spliced.
    query = f"SELECT count(*) FROM {column.table} WHERE {column.quoted}::text = $1"  # noqa: S608
    return int(await conn.fetchval(query, code))


async def unique_indexes(conn: asyncpg.Connection, column: Column) -> dict[str, str]:
    """Every valid unique index of the table whose key holds the column: its name → ``CREATE UNIQUE INDEX …``."""
    rows = await conn.fetch(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid"
        " AND EXISTS (SELECT FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE k.n <= i.indnkeyatts AND a.attname = $2) ORDER BY 1", column.oid, column.name)
    return {r[0]: r[1] for r in rows}


async def _refused_by(conn: asyncpg.Connection, column: Column, exc: asyncpg.UniqueViolationError) -> Probe:
    # A unique violation names the index that refused (a UNIQUE constraint's index has the constraint's name).
    name = exc.constraint_name
    covering = await unique_indexes(conn, column)
    if name not in covering:
        return Probe("inconclusive", f"refused by {name}, which is no valid unique index over {column.table}."
                                     f"{column.name} (those over it: {list(covering.values()) or 'none'}): the "
                                     f"refusal is not about the code")
    return Probe("refused", f"refused by {covering[name]} (probe rolled back)")


async def _probe(conn: asyncpg.Connection, column: Column, query: str, args: list[str],
                 taken: str) -> Probe | asyncpg.UniqueViolationError:
    # Inside the caller's transaction: whatever happens here is rolled back.
    await conn.execute(f"SET LOCAL statement_timeout = '{PROBE_TIMEOUT}'")
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a deferred unique check would wait for a COMMIT
    try:
        statement = await conn.prepare(query)
        await statement.fetch(*typed_args(statement, args))
    except asyncpg.UniqueViolationError as exc:
        return exc
    except (asyncpg.PostgresError, ValueError, InvalidOperation) as exc:
        return Probe("inconclusive", f"evidence.efecty_code.repeat erred: {type(exc).__name__}: "
                                     f"{_first_line(exc)} (neither refused as a repeat nor taken)")
    status = statement.get_statusmsg() or ""
    after = await holding(conn, column, taken)
    if after < 2:
        return Probe("inconclusive", f"evidence.efecty_code.repeat ran ({status!r}) but {taken!r} is held "
                                     f"{after} time(s): it did not give the second payment that code")
    indexes = list((await unique_indexes(conn, column)).values())
    return Probe("accepted", f"{taken!r} held by {after} rows of {column.table}.{column.name} inside the "
                             f"rolled-back probe ({status!r}); unique indexes over the column: {indexes or 'none'}")


async def repeat_efecty_code(conn: asyncpg.Connection, spec: EfectyCode, *, taken: str, own: str) -> Probe:
    """Give the payment whose code is ``own`` the code ``taken`` (another payment's), in a transaction that is
    always rolled back; the verdict says whether the database refused it, and the evidence what it did."""
    column = await locate(conn, spec)
    query, names = sql_params(spec.repeat)
    values = {"taken": taken, "own": own}
    before = {code: await holding(conn, column, code) for code in (taken, own)}
    if set(before.values()) != {1}:
        return Probe("inconclusive", f"before the probe {column.table}.{column.name} holds {before} (each code "
                                     f"of a payment just made should be there once): not the codes' column")
    tx = conn.transaction()
    await tx.start()
    try:
        outcome = await _probe(conn, column, query, [values[n] for n in names], taken)
    finally:
        await tx.rollback()
    left = {code: await holding(conn, column, code) for code in (taken, own)}
    if left != before:  # never expected: the probe's change outlived its rollback
        raise ObserveFailed(f"evidence.efecty_code: after the rolled-back probe {column.table}.{column.name} holds "
                            f"{left}, before it {before}")
    if isinstance(outcome, asyncpg.UniqueViolationError):
        return await _refused_by(conn, column, outcome)
    return outcome


async def event_links(target: Target, gateway_id: str) -> list[str | None]:
    """For each stored event about the gateway transaction ``gateway_id``, the gateway transaction id of the
    transaction row it is linked to (None: linked to none), through ``evidence.event_transaction``."""
    field = "evidence.event_transaction"
    spec = target.profile.evidence.event_transaction
    if spec is None:
        raise ObserveFailed(f"{field}: missing")
    query, names = sql_params(spec)
    async with target.database(field) as conn:
        try:
            records = await fetch(conn, query, [gateway_id for _ in names])
        except asyncpg.PostgresError as exc:
            raise ObserveFailed(f"{field}: {_first_line(exc)}") from None
        except (ValueError, InvalidOperation):
            raise ObserveFailed(f"{field}: :gateway_id {gateway_id!r} is not of its column's type") from None
    if records and not len(records[0]):
        raise ObserveFailed(f"{field}: answers rows with no column")
    return [None if r[0] is None else str(r[0]) for r in records]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
