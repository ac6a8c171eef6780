"""The comparison of portable and built-in verdicts: agreement, disagreement, and nothing to compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.defects import Seeding
from harness.defects.catalog import UNSET
from harness.paths import repo_root
from harness.target import compare_seeded
from harness.target.applicability import SCENARIOS
from harness.target.compare import CORE_PROFILE, EQUIVALENT, SCHEMA_SETUP, compare, core_profile_with_defects, main
from harness.target.compare_seeded import run_seeded
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


def test_the_derived_profile_applies_every_part_of_its_defects_and_records_them(tmp_path: Path) -> None:
    record = tmp_path / "portable.applied"
    names = ["float_amounts", "signature_skipped_without_secret", "no_rate_limit"]
    text = core_profile_with_defects(Seeding.named(names, record))
    seeded, core = parse_profile(text, "core+defects.toml"), load_profile(CORE_PROFILE)
    assert seeded.service.command is not None and seeded.service.command[2:5] == [
        "uvicorn", "harness.defects.app:app_from_env", "--factory"]
    env = seeded.service.env
    assert env["PAYHARNESS_DEFECTS"] == ",".join(names) and env["PAYHARNESS_DEFECTS_RECORD"] == str(record)
    # The config part replaces the core's own secret (one key: TOML refuses a repeated one anyway).
    assert env["PAYHARNESS_WOMPI__EVENTS_SECRET"] == UNSET != core.service.env["PAYHARNESS_WOMPI__EVENTS_SECRET"]
    assert text.count("PAYHARNESS_WOMPI__EVENTS_SECRET =") == 1
    # The schema part runs after the core's migrations, in the same environment (the record folder).
    assert seeded.service.setup == [*core.service.setup, SCHEMA_SETUP]
    assert {k: v for k, v in env.items() if not k.startswith("PAYHARNESS_DEFECTS")} == {
        **core.service.env, "PAYHARNESS_WOMPI__EVENTS_SECRET": UNSET}


def test_a_code_only_defect_adds_no_schema_step() -> None:
    seeded = parse_profile(core_profile_with_defects(["no_amount_check"]), "core+defects.toml")
    assert seeded.service.setup == load_profile(CORE_PROFILE).service.setup


def _fake_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, applied: dict[str, dict[str, set[str]]],
               portable: str, builtin: str) -> None:
    """Stand-in pytest: both paths write their scenarios.json, and record ``applied[side]`` as the stack would."""
    nodeid, = EQUIVALENT["T-MONEY-AMOUNT-MISMATCH"]

    def fake(args: list[str], log: Path, timeout: float) -> int:
        out = Path(args[args.index("--scenarios-json") + 1])
        side = "portable" if args[0] == "suites/portable" else "builtin"
        Seeding(record=out.parent / f"{side}.applied").write_record("core", {k: v for k, v in applied[side].items()})
        status = portable if side == "portable" else builtin
        out.write_text(json.dumps({"scenarios": [{"id": "T-MONEY-AMOUNT-MISMATCH", "status": status,
                                                   "tests": [{"nodeid": nodeid, "outcome": status}]}]}))
        return 1 if "failed" in status else 0

    monkeypatch.setattr(compare_seeded, "_pytest", fake)


@pytest.mark.parametrize(("portable", "code", "word"), [("failed", 0, "same"), ("passed", 1, "DIFFERENT")])
def test_a_seeded_comparison_says_same_or_different_once_both_sides_applied_the_defect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], portable: str,
        code: int, word: str) -> None:
    both = {"no_amount_check": {"code"}}
    _fake_runs(tmp_path, monkeypatch, {"portable": both, "builtin": both}, portable, "failed")
    assert run_seeded(["no_amount_check"], tmp_path, timeout=5) == code
    assert f"built-in failed     {word}" in capsys.readouterr().out


@pytest.mark.parametrize("unapplied", ["portable", "builtin"])
def test_a_defect_not_confirmed_on_one_side_makes_the_comparison_inconclusive_never_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unapplied: str) -> None:
    applied = {"portable": {"float_amounts": {"schema"}}, "builtin": {"float_amounts": {"schema"}}}
    applied[unapplied] = {"float_amounts": set()}  # the run went through, the column stayed numeric
    _fake_runs(tmp_path, monkeypatch, applied, "failed", "failed")
    assert run_seeded(["float_amounts"], tmp_path, timeout=5) == 3
    out = capsys.readouterr().out
    assert "same" not in out and "inconclusive" in out
    side = "portable" if unapplied == "portable" else "built-in"
    assert f"INCONCLUSIVE: {side}: float_amounts not confirmed applied: schema" in out


def test_a_run_that_did_not_finish_is_inconclusive(tmp_path: Path) -> None:
    seeding = Seeding.named(["no_amount_check"])
    side = compare_seeded.Side("portable", 2, tmp_path / "absent.json", {"no_amount_check": {"code"}})
    assert side.why_inconclusive(seeding) == ["portable: pytest exited 2", "portable: absent.json was not written"]
    row = compare({"T-WEBHOOK-RACE": "passed"}, {EQUIVALENT["T-WEBHOOK-RACE"][0]: "passed"})[0]
    assert compare_seeded.mark(row, []) == "same" and compare_seeded.mark(row, ["x"]) == "inconclusive"


def test_a_schema_level_difference_is_expected_only_for_its_defect_and_direction() -> None:
    decimal, = EQUIVALENT["T-MONEY-DECIMAL"]
    row = compare({"T-MONEY-DECIMAL": "passed"}, {decimal: "failed"})[6]
    assert row.scenario == "T-MONEY-DECIMAL" and row.agree is False
    assert compare_seeded.mark(row, [], ["float_amounts"]) == "expected"
    assert compare_seeded.mark(row, [], ["no_amount_check"]) == "DIFFERENT"  # another defect: a finding
    assert compare_seeded.mark(row, ["x"], ["float_amounts"]) == "inconclusive"
    # The portable scenario failing where the built-in test passes is never the expected direction.
    reverse = compare({"T-MONEY-DECIMAL": "failed"}, {decimal: "passed"})[6]
    assert compare_seeded.mark(reverse, [], ["float_amounts"]) == "DIFFERENT"
