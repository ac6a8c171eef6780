"""Applies the schema side of seeded defects to a freshly migrated database."""

from __future__ import annotations

import asyncpg

from harness.defects import Defect, active_defects


async def apply_schema_defects(dsn: str, defects: list[Defect] | None = None) -> list[str]:
    """Run each active schema defect's SQL on the database at ``dsn``; returns the statements run."""
    statements = [sql for d in (active_defects() if defects is None else defects) for sql in d.schema_sql]
    if not statements:
        return []
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()
    return statements
