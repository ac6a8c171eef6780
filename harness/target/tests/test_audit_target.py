"""``payharness audit --target`` end to end on the throwaway shop: a broken profile stops at the preflight;
the clean shop passes every runnable scenario; a weakened one is caught, finding by finding, in the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import repo_root
from harness.target.applicability import FAMILIES

TINY = Path(__file__).with_name("tiny_shop.toml")
FINDINGS = """
[[finding]]
id = "S1"
title = "Race condition in webhook processing"
seed_section = "1.3 Webhook Integration, Critical 1"
seed_severity = "high"
seed_tested = false
scenarios = ["T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT"]

[[finding]]
id = "S2"
title = "Efecty payment codes can collide"
seed_section = "1.2 Efecty, Medium 2"
seed_severity = "medium"
seed_tested = false
scenarios = ["T-EFECTY-CODE-UNIQUE"]
"""


def _audit(tmp_path: Path, profile: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "shop.toml").write_text(profile)
    (tmp_path / "findings.toml").write_text(FINDINGS)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "audit", "--target", str(tmp_path / "shop.toml"),
                           "--artefacts", str(out)], cwd=repo_root(), capture_output=True, text=True, timeout=600)
    return done, out


def _statuses(out: Path) -> dict[str, str]:
    return {s["id"]: s["status"] for s in json.loads((out / "scenarios.json").read_text())["scenarios"]}


def test_a_profile_mistake_stops_the_audit_at_the_preflight_in_one_line(tmp_path: Path) -> None:
    done, out = _audit(tmp_path, TINY.read_text().replace("amount_paid::text FROM", "amount_payed::text FROM"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        'preflight: shop.toml: observe.amount_paid: column "amount_payed" does not exist')
    assert not (out / "scenarios.json").exists()  # nothing ran after the preflight


@pytest.mark.parametrize(("old", "new", "line"), [
    ('order_id = "$.id"\n', "", "shop.toml: api.create_order.order_id: missing"),
    ('"{port}"]', '"{prot}"]', "shop.toml: service.command[4]: unknown placeholder {prot}"),
    ('command = ["{python}", "-m", "harness.target.tests.tiny_shop", "--port", "{port}"]', 'base_url = "127.0.0.1:1"',
     "shop.toml: service.base_url: not a http or https URL with a host: '127.0.0.1:1'"),
    ("[webhooks]", '[webhooks]\nwompi = "/w"', "shop.toml: webhooks.wompi: not TOML: Cannot overwrite a value"),
])
def test_a_profile_the_loader_refuses_exits_2_in_one_line_before_anything_starts(tmp_path: Path, old: str, new: str,
                                                                                 line: str) -> None:
    profile = TINY.read_text()
    assert old in profile
    done, out = _audit(tmp_path, profile.replace(old, new))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(line) and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (out / "logs").exists()  # no simulator, database or service was started


@pytest.mark.slow
def test_the_clean_shop_passes_and_what_it_cannot_support_is_not_runnable_with_its_reason(tmp_path: Path) -> None:
    done, out = _audit(tmp_path, TINY.read_text())
    assert done.returncode == 0, done.stderr[-2000:]
    statuses = _statuses(out)
    assert statuses.pop("T-EFECTY-CODE-UNIQUE") == "not runnable"
    assert statuses.pop("T-EFECTY-CASH-REACHES-ORDER") == "not runnable"
    # The tiny shop's profile gives no [evidence]: the database-evidence scenarios say so, they do not pass.
    assert statuses.pop("T-DB-EFECTY-CODE-REFUSED") == statuses.pop("T-DB-EVENT-LINKED") == "not runnable"
    assert set(statuses.values()) == {"passed"}, statuses
    report = (out / "report" / "report.md").read_text()
    load = json.loads((out / "load" / "audit.json").read_text())
    assert load["audit"]["ok"] and load["thresholds"]["requests"] > 40, load
    assert "`T-EFECTY-CODE-UNIQUE` not runnable: the profile gives no [api.pay.efecty]" in report
    assert "`T-DB-EFECTY-CODE-REFUSED` (not runnable: the profile gives no evidence.efecty_code" in report
    assert "| `S1` | Race condition in webhook processing" in report and "**not reproduced**" in report
    # The core's own catalog is listed, not dropped: a schema scenario is not runnable with its family's reason.
    assert (out / "builtin_scenarios.json").is_file()
    assert f"`DB-CONSTRAINTS` (not runnable: suites/constraints: {FAMILIES['constraints']})" in report


@pytest.mark.slow
def test_a_weakened_shop_is_caught_finding_by_finding_with_evidence(tmp_path: Path) -> None:
    weak = TINY.read_text().replace("env = { DATABASE_URL",
                                    'env = { TINY_WEAK = "signature,replay,unique", DATABASE_URL')
    done, out = _audit(tmp_path, weak)
    assert done.returncode == 1, done.stderr[-2000:]
    failed = {k for k, v in _statuses(out).items() if v == "failed"}
    assert failed == {"T-WEBHOOK-RACE", "T-WEBHOOK-CONFLICT", "T-WEBHOOK-REPLAY", "T-WEBHOOK-FORGED",
                      "T-WEBHOOK-TAMPERED", "T-DB-UNIQUE-GATEWAY-ID"}
    load = json.loads((out / "load" / "audit.json").read_text())["audit"]
    # Every approval answered 200 many times: paid once per delivery, and each delivery logged.
    assert load["anomaly_counts"] == {"amount_paid_wrong": 10, "event_not_recorded_once": 10}, load
    report = json.loads((out / "report" / "report.json").read_text())
    s1 = report["seed"]["rows"][0]
    assert s1["verdict"] == "confirmed"
    assert "20 copies of one approval for 50000.00" in s1["measured"][0]["evidence"]
