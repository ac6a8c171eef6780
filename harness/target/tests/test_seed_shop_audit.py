"""Issue 17's proof, end to end: ``payharness audit --target`` on the seed's shop rebuilt (examples/seed_shop).

The weak shop, as the seed's shop was written, fails the scenarios its findings predict and the report
confirms those findings with evidence; the same shop hardened (target-fixed.toml) passes every scenario.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.paths import repo_root

SHOP = repo_root() / "examples" / "seed_shop"
# What the weak shop fails; the three it passes are explained in examples/seed_shop/findings.toml (an exact
# replay is caught by its checksum-derived event id, Efecty's missing constraint is latent, the seed's shop
# does check the buyer).
WEAK_FAILS = {"T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-FORGED", "T-WEBHOOK-TAMPERED", "T-WEBHOOK-LARGE",
              "T-MONEY-DECIMAL", "T-MONEY-AMOUNT-MISMATCH", "T-DB-UNIQUE-GATEWAY-ID", "T-EFECTY-CASH-REACHES-ORDER",
              "T-API-VALIDATION", "T-API-PAID-AGAIN", "T-API-RATE-LIMIT", "T-API-ERROR-SHAPE",
              "T-DB-EFECTY-CODE-REFUSED", "T-DB-EVENT-LINKED"}
SEED_HIGH = ("S1", "S2", "S3")  # the seed's three high-priority findings: race, isolation, float money
# Confirmed too since their own scenarios: a paid order charged again, cash at Efecty that never reaches its order.
SEED_CONFIRMED = (*SEED_HIGH, "S12", "S15")
# The weak shop's PayU confirmation handler, attacked on its own: it checks PayU's sign (with ==) but answers 200
# to anything, stores a second transaction row, applies any amount and takes no lock. An exact replay is caught
# (its event id is PayU's transaction id), and PayU charges whole pesos, so exact decimals are not runnable.
PAYU_WEAK_FAILS = {"T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-FORGED", "T-WEBHOOK-TAMPERED", "T-WEBHOOK-LARGE",
                   "T-MONEY-AMOUNT-MISMATCH", "T-DB-UNIQUE-GATEWAY-ID", "T-DB-EVENT-LINKED"}


def _audit(profile: Path, out: Path) -> tuple[int, dict[str, str], str, dict[str, str]]:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "audit", "--target", str(profile), "--no-load",
                           "--artefacts", str(out)], cwd=repo_root(), capture_output=True, text=True, timeout=900)
    assert (out / "scenarios.json").is_file(), f"exit {done.returncode}: {done.stdout[-2500:]} {done.stderr[-1500:]}"
    scenarios = json.loads((out / "scenarios.json").read_text())["scenarios"]
    report = (out / "report" / "report.md").read_text(encoding="utf-8")
    payu = {s["id"]: t["outcome"] for s in scenarios for t in s["tests"] if t["nodeid"].endswith("[payu]")}
    return done.returncode, {s["id"]: s["status"] for s in scenarios}, report, payu


def test_the_weak_shop_reproduces_the_seeds_findings_and_the_hardened_one_is_clean(tmp_path: Path) -> None:
    code, statuses, report, payu = _audit(SHOP / "target.toml", tmp_path / "weak")
    assert code == 1
    assert {s for s, status in statuses.items() if status == "failed"} == WEAK_FAILS, statuses
    assert {s for s, outcome in payu.items() if outcome == "failed"} == PAYU_WEAK_FAILS, payu
    assert payu["T-MONEY-DECIMAL"] == "not runnable", payu
    seed_rows = {line.split("|")[1].strip(" `"): line for line in report.splitlines()
                 if line.startswith("| `S") and line.count("|") > 6}
    for finding in SEED_CONFIRMED:
        assert seed_rows[finding].rstrip(" |").endswith("**confirmed**"), seed_rows[finding]

    code, statuses, report, payu = _audit(SHOP / "target-fixed.toml", tmp_path / "fixed")
    assert code == 0, statuses
    assert set(statuses.values()) == {"passed"}, statuses
    assert {s for s, outcome in payu.items() if outcome == "passed"} == PAYU_WEAK_FAILS | {"T-WEBHOOK-REPLAY"}, payu
