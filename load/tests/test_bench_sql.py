"""The benchmark's yardsticks run the core's own transaction: bare asyncpg and pgbench, on a real database."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from core.app import GC_THRESHOLDS
from core.db import session
from core.httpserver import HTTP_PROTOCOL
from core.settings import DatabaseSettings
from harness.postgres import PostgresHandle
from load import bare, bench
from load.bench_pgbench import script
from load.cpu import role_of
from load.payloads import WOMPI_MERCHANT_NUMBER, Attempt, wompi_event

SECRET = "test_events_secret"


async def _seed(conn: asyncpg.Connection, n: int, prefix: str) -> None:
    for i in range(n):
        order_id = await conn.fetchval(
            "INSERT INTO orders (reference, buyer_id, total_amount) VALUES ($1, 'b', 50000) RETURNING id", f"O-{i}"
        )
        await conn.execute(
            "INSERT INTO order_transactions (order_id, gateway, gateway_transaction_id, reference, payment_method,"
            " amount, currency) VALUES ($1, 'wompi', $2, $3, 'CARD', 50000, 'COP')",
            order_id,
            f"{prefix}{i:06d}",
            f"R-{i}",
        )


async def _state(conn: asyncpg.Connection) -> list[tuple[str, str, Decimal, int]]:
    rows = await conn.fetch(
        "SELECT t.status::text, o.status::text, o.approved_amount,"
        " (SELECT count(*) FROM webhook_events e WHERE e.transaction_id = t.id AND e.order_id = o.id)"
        " FROM order_transactions t JOIN orders o ON o.id = t.order_id ORDER BY t.id"
    )
    return [tuple(r) for r in rows]


def test_the_pgbench_script_binds_every_parameter_of_the_cores_statements() -> None:
    text = script()
    assert not re.search(r"\$\d", text)
    assert "FOR UPDATE" in text and "ON CONFLICT ON CONSTRAINT uq_webhook_events_identity" in text


async def test_the_bare_endpoint_applies_a_new_event_once_like_the_core(
    conn: asyncpg.Connection, database: Any
) -> None:
    prefix = f"{WOMPI_MERCHANT_NUMBER}-bench-"
    await _seed(conn, 1, prefix)
    attempt = Attempt("wompi", "a", "O-0", "R-0", f"{prefix}000000", Decimal("50000.00"))
    body = wompi_event(attempt, "APPROVED", secret=SECRET).body
    pool = await asyncpg.create_pool(database.dsn, min_size=1, max_size=2)
    try:
        assert await bare.apply_event(pool, body) == 200
        assert await bare.apply_event(pool, body) == 200  # the same event again: nothing more is written
    finally:
        await pool.close()
    assert await _state(conn) == [("approved", "paid", Decimal("50000.00"), 1)]


async def test_pgbench_runs_the_cores_transaction(
    conn: asyncpg.Connection, database: Any, postgres: PostgresHandle, tmp_path: Path
) -> None:
    if postgres.bin_dir is None or not (postgres.bin_dir / "pgbench").exists():
        pytest.skip(f"no pgbench next to a {postgres.kind} Postgres")
    prefix = f"{WOMPI_MERCHANT_NUMBER}-pgb-"
    await _seed(conn, 1, prefix)
    path = tmp_path / "pgbench.sql"
    path.write_text(script())
    result = subprocess.run(
        [str(postgres.bin_dir / "pgbench"), "-n", "-M", "prepared", "-t", "3", "-f", str(path),
         "-D", f"prefix={prefix}", "-D", "n=1", "-D", 'payload={"event":"transaction.updated"}',
         database.dsn],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "number of failed transactions: 0" in result.stdout
    assert await _state(conn) == [("approved", "paid", Decimal("50000.00"), 3)]


async def test_the_bare_endpoints_pool_is_sized_set_and_released_as_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The yardstick pays per connection and per release what the core pays: a reset round trip on every
    release (asyncpg's default) or a session without the core's statement timeout would make the ratio compare
    unlike work."""
    created: dict[str, dict[str, Any]] = {}

    class Pool:
        async def close(self) -> None:
            return None

    def recorder(name: str) -> Any:
        async def create_pool(dsn: str, **options: Any) -> Pool:
            created[name] = options
            return Pool()
        return create_pool

    dsn = "postgresql://u@127.0.0.1:1/db"
    monkeypatch.setattr(bare.asyncpg, "create_pool", recorder("bare"))
    app = bare.create_app(dsn=dsn, mode="sql")
    async with app.router.lifespan_context(app):
        pass
    monkeypatch.setattr(session.asyncpg, "create_pool", recorder("core"))
    await session.make_pool(DatabaseSettings(url=dsn))

    core, yardstick = created["core"], created["bare"]
    assert yardstick["reset"] is core["reset"] is session.keep_session
    assert yardstick["max_size"] == core["max_size"]
    names = {"application_name"}
    assert {k: v for k, v in yardstick["server_settings"].items() if k not in names} == {
        k: v for k, v in core["server_settings"].items() if k not in names}
    assert yardstick["server_settings"]["application_name"] != core["server_settings"]["application_name"]


async def _post(app: Any, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bare") as client:
        return await client.post("/webhooks/wompi", content=body, headers=headers)


async def test_the_verified_endpoint_checks_and_records_as_the_core_does(
    conn: asyncpg.Connection, database: Any
) -> None:
    """The verified yardstick is the core's own work minus its HTTP layer: a forged, stale or malformed event is
    refused and writes nothing, a genuine one is applied once and answered as the core answers it."""
    prefix = f"{WOMPI_MERCHANT_NUMBER}-verified-"
    await _seed(conn, 1, prefix)
    attempt = Attempt("wompi", "a", "O-0", "R-0", f"{prefix}000000", Decimal("50000.00"))
    app = bare.create_app(dsn=database.dsn, mode="verified", events_secret=SECRET)

    forged = wompi_event(attempt, "APPROVED", secret="not_the_events_secret")
    stale = wompi_event(attempt, "APPROVED", secret=SECRET, timestamp=int(time.time()) - 7 * 24 * 3600)
    repeated_key = wompi_event(attempt, "APPROVED", secret=SECRET)
    refusals = [
        (forged.body, forged.headers, 401),
        (stale.body, stale.headers, 401),
        (repeated_key.body[:-1] + b', "event": "transaction.updated"}', repeated_key.headers, 422),
    ]
    for body, headers, status in refusals:
        answer = await _post(app, body, headers)
        assert answer.status_code == status, answer.text
    assert await _state(conn) == [("pending", "pending", Decimal("0.00"), 0)]
    assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 0

    genuine = wompi_event(attempt, "APPROVED", secret=SECRET)
    first = await _post(app, genuine.body, genuine.headers)
    again = await _post(app, genuine.body, genuine.headers)
    assert (first.status_code, first.json()["status"]) == (200, "applied")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert await _state(conn) == [("approved", "paid", Decimal("50000.00"), 1)]
    stored = await conn.fetchrow("SELECT event_key, payload_sha256, payload->>'event' FROM webhook_events")
    assert stored[0] == f"{prefix}000000:APPROVED" and stored[1] != "0" * 64 and stored[2] == "transaction.updated"


async def test_the_verified_endpoint_refuses_to_start_without_the_events_secret() -> None:
    with pytest.raises(ValueError, match="events secret"):
        bare.create_app(dsn="postgresql://u@127.0.0.1:1/db", mode="verified")
    with pytest.raises(ValueError, match="unknown mode"):
        bare.create_app(dsn="postgresql://u@127.0.0.1:1/db", mode="verify")
    null = bare.create_app(dsn="", mode="null")  # the null endpoint needs no database, nor a DSN
    assert (await _post(null, b"{}", {})).status_code == 200


async def test_a_yardsticks_paced_phase_starts_from_empty_tables(conn: asyncpg.Connection, database: Any) -> None:
    """Every table the phases write is emptied (identities restarted), the schema's version kept; a database the
    benchmark did not create is refused, not emptied."""
    prefix = f"{WOMPI_MERCHANT_NUMBER}-empty-"
    await _seed(conn, 2, prefix)
    attempt = Attempt("wompi", "a", "O-0", "R-0", f"{prefix}000000", Decimal("50000.00"))
    pool = await asyncpg.create_pool(database.dsn, min_size=1, max_size=2)
    try:
        assert await bare.apply_event(pool, wompi_event(attempt, "APPROVED", secret=SECRET).body) == 200
    finally:
        await pool.close()
    version = await conn.fetchval("SELECT version_num FROM alembic_version")
    emptied = await bench.empty_written_tables(database.dsn)
    assert {"orders", "order_transactions", "webhook_events"} <= set(emptied) and "alembic_version" not in emptied
    for table in ("orders", "order_transactions", "webhook_events"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await conn.fetchval("SELECT version_num FROM alembic_version") == version
    await _seed(conn, 1, prefix)  # identities restarted: the first order is 1 again
    assert await conn.fetchval("SELECT min(id) FROM orders") == 1

    other = f"bench_other_{secrets.token_hex(3)}"
    await conn.execute(f"CREATE DATABASE {other}")
    try:
        with pytest.raises(RuntimeError, match="did not create"):
            await bench.empty_written_tables(database.dsn.rsplit("/", 1)[0] + "/" + other)
    finally:
        await conn.execute(f"DROP DATABASE {other}")


def test_the_yardsticks_are_served_and_collected_as_the_core_is(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The yardsticks differ from the core in their app only: the same HTTP protocol (the core's head limits) and
    the core's collector settings (frozen start-up objects, rarer young collections)."""
    started: dict[str, list[str]] = {}

    class Recorded:
        def __init__(self, name: str, argv: list[str], **_: Any) -> None:
            started[name] = argv

        def start(self) -> Recorded:
            return self

    monkeypatch.setattr(bench, "Service", Recorded)
    bench.bare_server("sql", dsn="postgresql://u@127.0.0.1:1/db", workers=2, log_dir=tmp_path)
    argv = started["bare-sql"]
    assert argv[argv.index("--http") + 1] == HTTP_PROTOCOL
    bench.bare_server("verified", dsn="postgresql://u@127.0.0.1:1/db", workers=2, log_dir=tmp_path)
    verified = started["bare-verified"]
    assert "load.bare:verified_from_env" in verified and verified[verified.index("--http") + 1] == HTTP_PROTOCOL
    assert role_of(1, {1: (0, 0.0, " ".join(verified))}) == "verified"  # the CPU meter tells it from sql's

    probe = ("import gc; from load.bare import app_from_env; app_from_env(); "
             "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PAYHARNESS_BARE_MODE": "null"},
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == [str(GC_THRESHOLDS[0]), "True"]
