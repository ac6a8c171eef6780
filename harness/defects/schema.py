"""Applies the schema side of seeded defects to a freshly migrated database, and records it."""

from __future__ import annotations

import asyncpg

from harness.defects import Seeding


async def apply_schema_defects(dsn: str, seeding: Seeding) -> list[str]:
    """Run each seeded schema defect's SQL on the database at ``dsn`` in one transaction; returns the statements.

    Recorded (``Seeding.record``) only once the transaction has committed.
    """
    schema = [d for d in seeding.defects if d.schema_sql]
    if not schema:
        return []
    statements = [sql for d in schema for sql in d.schema_sql]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()
    seeding.write_record("schema", {d.name: {"schema"} for d in schema})
    return statements
