"""Applies the schema side of seeded defects to a freshly migrated database, and records it.

Also a command, for a profile's ``service.setup`` after the migrations (the core's profile with seeded
defects, ``harness.target.compare``): the defects and the record folder come from the same environment
the defects' uvicorn factory reads (``PAYHARNESS_DEFECTS``, ``PAYHARNESS_DEFECTS_RECORD``).

Usage: ``PAYHARNESS_DEFECTS=float_amounts python -m harness.defects.schema postgresql://…/db``
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    from harness.defects.app import seeding_from

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m harness.defects.schema DATABASE_URL (defects from PAYHARNESS_DEFECTS)",
              file=sys.stderr)
        return 2
    statements = asyncio.run(apply_schema_defects(args[0], seeding_from(os.environ)))
    print(f"{len(statements)} schema defect statement(s) applied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
