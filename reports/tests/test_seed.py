"""The seed said / payharness measured: each finding's verdict and evidence from scenarios.json and JUnit."""

from __future__ import annotations

from pathlib import Path

from reports.model import CaseResult, JUnit, Scenario, Scenarios, ScenarioTest, SeedFinding, SeedFindings, Source
from reports.parse_seed import parse_seed_findings
from reports.seed import seed_section

SRC = Source("x", "x", "x", True)


def _scenario(sid: str, status: str, nodeid: str, outcome: str, reason: str = "") -> Scenario:
    return Scenario(sid, "webhooks", sid, "seed-finding", status != "not runnable", reason, status,
                    (ScenarioTest(nodeid, outcome),))


def test_each_finding_gets_a_verdict_with_evidence() -> None:
    scenarios = Scenarios(SRC, (
        _scenario("T-A", "failed", "s/t.py::test_a", "failed"),
        _scenario("T-B", "passed", "s/t.py::test_b", "passed"),
        _scenario("T-C", "not runnable", "s/t.py::test_c", "not runnable", "the profile gives no [api.pay.efecty]"),
    ))
    junit = JUnit(SRC, (CaseResult("s/t.py::test_a", 1.0, "failed", "AssertionError: amount paid 100000.00"),))
    findings = SeedFindings(SRC, (
        SeedFinding("S1", "race", "1.3", "high", False, ("T-A", "T-B")),
        SeedFinding("S2", "codes", "1.2", "medium", False, ("T-C",)),
        SeedFinding("S3", "ok", "2", "low", True, ("T-B",)),
        SeedFinding("S4", "half", "3", "low", False, ("T-B", "T-C")),
        SeedFinding("S5", "typo", "4", "low", False, ("T-NOPE",)),
        SeedFinding("S6", "inside only", "5", "low", False, (), "no black-box scenario sees a log line"),
    ))
    section = seed_section(findings, scenarios, junit)
    assert section is not None
    verdicts = {r.finding.id: r.verdict for r in section.rows}
    assert verdicts == {"S1": "confirmed", "S2": "not measured", "S3": "not reproduced", "S4": "partly measured",
                        "S5": "not measured", "S6": "no scenario"}
    s1, s2 = section.rows[0], section.rows[1]
    assert s1.measured[0].evidence == "AssertionError: amount paid 100000.00"
    assert s2.measured[0].evidence == "the profile gives no [api.pay.efecty]"
    assert section.rows[4].measured[0].status == "not in this run"


def test_no_findings_file_means_no_section_and_a_file_is_parsed(tmp_path: Path) -> None:
    assert parse_seed_findings(tmp_path) is None
    assert seed_section(None, Scenarios(SRC), JUnit(SRC)) is None
    (tmp_path / "seed_findings.toml").write_text(
        '[[finding]]\nid = "S1"\ntitle = "Race"\nseed_section = "1.3"\nseed_severity = "high"\n'
        'seed_tested = false\nscenarios = ["T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT"]\n')
    parsed = parse_seed_findings(tmp_path)
    assert parsed is not None and parsed.source.usable
    race = SeedFinding("S1", "Race", "1.3", "high", False, ("T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT"))
    assert parsed.findings == (race,)


def test_a_scenario_run_once_per_gateway_gives_the_evidence_of_each_gateway_that_failed() -> None:
    tests = (ScenarioTest("s/t.py::test_a[payu]", "failed"), ScenarioTest("s/t.py::test_a[wompi]", "failed"),
             ScenarioTest("s/t.py::test_a[efecty]", "not runnable"))
    scenarios = Scenarios(SRC, (Scenario("T-A", "webhooks", "T-A", "seed-finding", True, "", "failed", tests),))
    junit = JUnit(SRC, (CaseResult("s/t.py::test_a[payu]", 1.0, "failed", "forged approvals answered [200, 200]"),
                        CaseResult("s/t.py::test_a[wompi]", 1.0, "failed", "forged approvals moved the order")))
    findings = SeedFindings(SRC, (SeedFinding("S8", "bypass", "1.3", "low", False, ("T-A",)),))
    section = seed_section(findings, scenarios, junit)
    assert section is not None
    assert section.rows[0].measured[0].evidence == (
        "through payu: forged approvals answered [200, 200]; through wompi: forged approvals moved the order")
