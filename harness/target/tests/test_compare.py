"""The comparison of portable and built-in verdicts: agreement, disagreement, and nothing to compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.paths import repo_root
from harness.target.applicability import SCENARIOS
from harness.target.compare import CORE_PROFILE, EQUIVALENT, compare, core_profile_with_defects, main
from harness.target.profile import load_profile, parse_profile


def test_every_portable_scenario_has_built_in_equivalents_that_exist() -> None:
    assert set(EQUIVALENT) == set(SCENARIOS)
    for tests in EQUIVALENT.values():
        for nodeid in tests:
            path, name = nodeid.split("::")
            assert f"def {name}(" in (repo_root() / path).read_text(), nodeid


def test_verdicts_agree_differ_or_have_nothing_to_compare() -> None:
    race, = EQUIVALENT["T-WEBHOOK-RACE"]
    mismatch, = EQUIVALENT["T-MONEY-AMOUNT-MISMATCH"]
    validation, = EQUIVALENT["T-API-VALIDATION"]
    rows = {r.scenario: r for r in compare(
        {"T-WEBHOOK-RACE": "passed", "T-MONEY-AMOUNT-MISMATCH": "failed", "T-API-VALIDATION": "not runnable"},
        {race: "passed", mismatch: "passed", f"{validation}[0]": "passed", f"{validation}[-5]": "failed"})}
    assert rows["T-WEBHOOK-RACE"].agree is True
    assert rows["T-MONEY-AMOUNT-MISMATCH"].agree is False
    assert rows["T-API-VALIDATION"].agree is None


@pytest.mark.parametrize(("builtin", "code"), [("failed", 1), ("passed", 0)])
def test_the_command_exits_1_on_a_disagreement(tmp_path: Path, builtin: str, code: int) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"scenarios": [{"id": "T-WEBHOOK-RACE", "status": "passed"}]}))
    race, = EQUIVALENT["T-WEBHOOK-RACE"]
    (tmp_path / "b.json").write_text(json.dumps({"scenarios": [{"id": "WH-RACE", "status": builtin,
                                                                "tests": [{"nodeid": race, "outcome": builtin}]}]}))
    assert main([str(tmp_path / "p.json"), str(tmp_path / "b.json")]) == code


def test_the_core_profile_and_its_defect_variant_load() -> None:
    core = load_profile(CORE_PROFILE)
    assert core.api.pay["wompi"].gateway_id == "$.transaction.gateway_transaction_id"
    seeded = parse_profile(core_profile_with_defects(["no_amount_check", "no_rate_limit"]), "core.toml")
    assert seeded.service.env["PAYHARNESS_DEFECTS"] == "no_amount_check,no_rate_limit"
    assert seeded.service.command is not None and "harness.defects.app:app_from_env" in seeded.service.command
