"""`payharness up $(python -m suites.support.target --up-args)` starts the simulators as the session stack does."""

from __future__ import annotations

from typing import Any

import pytest

from harness import cli, stack
from simulators.common.settings import parse_runner_args
from suites.support import target
from suites.support.target import SUITE_SIM_ARGS, WOMPI_PENDING_SECONDS


def test_up_args_reach_the_stack_as_the_session_stacks_simulator_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run_stack(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(stack, "run_stack", fake_run_stack)
    assert cli.main(["up", *target.up_args()]) == 0
    assert set(seen["sim_args"]) == set(SUITE_SIM_ARGS)
    # what the wompi simulator makes of it: the session stack's pending window
    parsed = parse_runner_args("wompi", seen["sim_args"]["wompi"], doc=None, default_port=0)
    assert parsed.settings.wompi.finalize_delay_seconds == WOMPI_PENDING_SECONDS


def test_the_printed_up_args_are_the_ones_built(capsys: pytest.CaptureFixture[str]) -> None:
    target.main(["--up-args"])
    assert capsys.readouterr().out.split() == target.up_args()
