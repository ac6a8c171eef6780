"""A bench phase keeps its own name in bench.json (a loop clearing the folder once reused it: every step and hold
was named "stalls.json", and the report said "Webhook step stalls.json"); and a paced phase is run with the
benchmark's pacing, an unpaced one closed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from load import bench


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Nothing starts: Locust, the samplers and the CPU meter are stand-ins; the commands Locust would get are kept."""
    commands: list[list[str]] = []

    def run_locust(plan: Any, **_: Any) -> int:
        commands.append(plan.master)
        return 0

    monkeypatch.setattr(bench, "run_locust", run_locust)
    monkeypatch.setattr(bench, "stack_sampler", lambda *_: contextlib.nullcontext())
    monkeypatch.setattr(bench, "CpuMeter", lambda **_: contextlib.nullcontext())
    monkeypatch.setattr(bench, "analyse_phase", lambda *_: None)
    return commands


def _run(tmp_path: Path, offered: float, pacing: str) -> Any:
    stack: Any = SimpleNamespace(urls={"database": "postgresql://x@127.0.0.1:1/db"}, postgres=SimpleNamespace(kind="x"))
    return bench.locust_run("step-500", host="http://127.0.0.1:1", stack=stack, out=tmp_path / "step", offered=offered,
                            seconds=10, user_rate=5, audit=False, pacing=pacing)


def test_a_phase_is_named_as_asked(tmp_path: Path, no_processes: list[list[str]]) -> None:
    assert _run(tmp_path, 500, "open").name == "step-500"


def test_a_paced_phase_runs_open_and_an_unpaced_one_closed(tmp_path: Path, no_processes: list[list[str]]) -> None:
    paced, unpaced = _run(tmp_path, 500, "open"), _run(tmp_path, 0, "open")
    assert (paced.pacing, unpaced.pacing) == ("open", "closed")
    pacing_of = [command[command.index("--pacing") + 1] for command in no_processes]
    assert pacing_of == ["open", "closed"]
