"""Seeded defects travel as a value (``Seeding``): the stack, the schema step and pytest take it as an argument,
and only the core's uvicorn factory, a separate process, reads the environment variable it is handed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.defects import ENV, RECORD_ENV, Seeding
from harness.defects.app import seeding_from
from harness.defects.schema import apply_schema_defects
from harness.postgres import PostgresHandle
from harness.stack import Stack
from supervise import Service

UNREACHABLE = "postgresql://postgres@127.0.0.1:9/none"  # nothing listens on port 9: a connection attempt fails


def _started_core(monkeypatch: pytest.MonkeyPatch, seeding: Seeding) -> Service:
    """``Stack.start_core`` up to the process it would start (the process itself is not started)."""
    monkeypatch.setattr(Service, "start", lambda self, **_: self)
    stack = Stack(postgres=PostgresHandle("dsn", UNREACHABLE), database="payharness_x", seeding=seeding,
                  urls={name: f"http://127.0.0.1:{port}" for name, port in (("payu", 1), ("wompi", 2), ("efecty", 3))})
    try:
        return stack.start_core(workers=1, token_secret="s" * 32)
    finally:
        stack.core_socket.close()


def test_a_defect_name_left_in_the_callers_environment_does_not_reach_the_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, "no_row_lock")
    monkeypatch.setenv(RECORD_ENV, "/somewhere/else")
    core = _started_core(monkeypatch, Seeding())
    assert "core.app:app_from_env" in core.argv
    assert core.env is not None and (core.env[ENV], core.env[RECORD_ENV]) == ("", "")


def test_the_core_gets_its_defects_and_their_settings_from_the_stacks_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    seeding = Seeding.named(["signature_skipped_without_secret", "no_row_lock"], record=tmp_path)
    core = _started_core(monkeypatch, seeding)
    assert "harness.defects.app:app_from_env" in core.argv
    env: dict[str, Any] = core.env or {}
    assert env[ENV] == "signature_skipped_without_secret,no_row_lock"
    assert env["PAYHARNESS_WOMPI__EVENTS_SECRET"] == "unset-in-development"
    # What the factory (in the core's own process) reads back is the same value.
    assert seeding_from(env) == seeding


def test_schema_only_defects_leave_the_core_its_own_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    core = _started_core(monkeypatch, Seeding.named(["float_amounts"]))
    assert "core.app:app_from_env" in core.argv


def test_schema_defects_come_from_the_value_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "float_amounts")
    assert asyncio.run(apply_schema_defects(UNREACHABLE, Seeding())) == []  # no connection attempted
    with pytest.raises(OSError):  # a schema defect in the value does connect (and nothing listens there)
        asyncio.run(apply_schema_defects(UNREACHABLE, Seeding.named(["float_amounts"])))


def test_an_unknown_defect_name_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no_row_lock"):
        Seeding.named(["no_such_defect"])
    assert Seeding.named([" no_row_lock", "", "no_row_lock"]).names == ("no_row_lock",)


def test_pytest_refuses_an_unknown_seeded_defect_before_starting_anything(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    assert True\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "harness.defects.pytest_plugin",
         "--seed-defects", "nope", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--seed-defects: no defect named 'nope'" in result.stderr


def test_the_schema_command_of_a_profiles_setup_takes_its_defects_and_record_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `python -m harness.defects.schema DSN` in a profile's setup, beside the factory: the same two variables.
    from harness.defects import schema

    seen: list[tuple[str, Seeding]] = []

    async def apply(dsn: str, seeding: Seeding) -> list[str]:
        seen.append((dsn, seeding))
        return ["ALTER …"]

    monkeypatch.setattr(schema, "apply_schema_defects", apply)
    monkeypatch.setenv(ENV, "float_amounts,no_amount_check")
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    assert schema.main([UNREACHABLE]) == 0
    assert seen == [(UNREACHABLE, Seeding.named(["float_amounts", "no_amount_check"], tmp_path))]
    assert schema.main([]) == 2  # no database named: a usage error, nothing applied
    assert len(seen) == 1
