"""The sampler's pure parts and the benchmark's CPU lists: window means, counter deltas, taskset lists."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from harness.postgres import PostgresHandle
from load.bench import cpu_list, cpu_set
from load.db import plain_dsn, run_sync
from load.samples import Sampler, _deltas, window_means


def test_window_means_average_the_samples_whose_second_lies_inside(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    lines = [{"t": 100.0 + i, "span": 1.0, "machine": {"busy": 2.0, "others": float(i), "load1": 3.0,
                                                       "psi_some_ms": None}} for i in range(6)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    means = window_means(path, 101.0, 103.0)  # a line covers the second before t: those of t = 102 and 103
    assert means == {"busy": 2.0, "others": 2.5, "load1": 3.0}
    assert window_means(tmp_path / "absent.jsonl", 0, 1) == {}


def test_counter_deltas_start_at_zero_and_follow_the_counter() -> None:
    assert _deltas({"a": 5.0, "b": 2.0}, {"a": 3.0}) == {"a": 2.0, "b": 0.0}


def test_cpu_lists_read_as_taskset_reads_them() -> None:
    assert cpu_list("0") == {0}
    assert cpu_list("0,2-3") == {0, 2, 3}


def test_a_cpu_the_machine_lacks_is_refused_at_parse_time() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cpu_set("4096")
    with pytest.raises(argparse.ArgumentTypeError):
        cpu_set("one")
    assert cpu_set("0") == "0"


def test_a_sampler_without_a_database_writes_cpu_and_machine_lines_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    with Sampler(None, path) as sampler:
        deadline = time.monotonic() + 10
        while sampler.lines < 2:
            assert time.monotonic() < deadline, f"no two lines within 10 s ({sampler.error})"
            time.sleep(0.1)
    lines = [json.loads(raw) for raw in path.read_text().splitlines()]
    assert len(lines) >= 2 and sampler.error is None
    assert {"t", "span", "cpu", "machine"} <= set(lines[-1]) and "pg" not in lines[-1]
    assert lines[-1]["cpu"]["ours"] >= 0 and lines[-1]["machine"]["busy"] >= 0
    assert lines[1]["t"] > lines[0]["t"]


async def _kill_sampler_session(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return len(await conn.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE application_name = 'payharness-samples'"))
    finally:
        await conn.close()


def _wait_for(path: Path, sampler: Sampler, found: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(raw) for raw in path.read_text().splitlines()] if path.exists() else []
        if found(lines):
            return lines
        assert time.monotonic() < deadline, f"not within 20 s: {lines[-2:]} ({sampler.error})"
        time.sleep(0.2)


def test_a_sampler_whose_session_is_killed_records_the_error_and_reconnects(postgres: PostgresHandle,
                                                                            tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    dsn = plain_dsn(postgres.dsn)
    with Sampler(dsn, path, postgres_is_ours=postgres.kind == "embedded") as sampler:
        _wait_for(path, sampler, lambda lines: any("clients" in line.get("pg", {}) for line in lines))
        assert run_sync(lambda: _kill_sampler_session(dsn)) == 1
        lines = _wait_for(path, sampler, lambda lines: any("error" in line.get("pg", {}) for line in lines)
                          and "clients" in lines[-1].get("pg", {}))
    errors = [n for n, line in enumerate(lines) if "error" in line.get("pg", {})]
    assert errors and any("clients" in line.get("pg", {}) for line in lines[errors[-1] + 1:])
    assert sampler.error is None


def test_the_vacuum_and_analyze_progress_queries_run_on_the_server_the_harness_starts(postgres: PostgresHandle) -> None:
    """A stall's "autovacuum (…)" names the tables from these two views; a query the server refuses would leave
    every such stall "(?)" again, silently (the sampler keeps going without it)."""
    from load.samples import ANALYZE_SQL, VACUUM_SQL

    async def columns() -> list[list[str]]:
        conn = await asyncpg.connect(plain_dsn(postgres.dsn))
        try:
            return [[a.name for a in (await conn.prepare(sql)).get_attributes()] for sql in (VACUUM_SQL, ANALYZE_SQL)]
        finally:
            await conn.close()

    assert run_sync(columns) == [["rel", "phase"], ["rel", "phase"]]
