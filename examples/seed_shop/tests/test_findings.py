"""findings.toml stays in step with the shared scenario ids and with the seed ids the shop's code cites."""

import re
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-REPLAY", "T-WEBHOOK-FORGED", "T-WEBHOOK-TAMPERED",
    "T-WEBHOOK-LARGE", "T-MONEY-DECIMAL", "T-MONEY-AMOUNT-MISMATCH", "T-DB-UNIQUE-GATEWAY-ID",
    "T-EFECTY-CODE-UNIQUE", "T-EFECTY-CASH-REACHES-ORDER", "T-API-VALIDATION", "T-API-OWNERSHIP", "T-API-PAID-AGAIN",
    "T-API-RATE-LIMIT", "T-API-ERROR-SHAPE", "T-DB-EFECTY-CODE-REFUSED", "T-DB-EVENT-LINKED",
}
FIELDS = {"id", "title", "seed_section", "seed_severity", "seed_tested", "scenarios"}


def findings() -> list[dict]:
    return tomllib.loads((HERE / "findings.toml").read_text())["finding"]


def test_every_finding_names_known_scenarios_or_says_why_it_has_none():
    for finding in findings():
        assert set(finding) >= FIELDS, finding["id"]
        assert finding["seed_severity"] in {"high", "medium", "low"}, finding["id"]
        assert set(finding["scenarios"]) <= SCENARIOS, finding["id"]
        if not finding["scenarios"]:
            assert finding.get("note"), f"{finding['id']} has no scenario and no note saying why"
    ids = [f["id"] for f in findings()]
    assert len(ids) == len(set(ids))


def test_every_seed_finding_the_shop_cites_is_in_findings_toml():
    cited = set()
    for source in (HERE / "app").rglob("*.py"):
        cited |= set(re.findall(r"seed (S\d+)", source.read_text()))
        cited |= {s for group in re.findall(r"seed ((?:S\d+/)+S\d+)", source.read_text()) for s in group.split("/")}
    assert cited, "the shop's comments name no seed finding"
    assert cited <= {f["id"] for f in findings()}
