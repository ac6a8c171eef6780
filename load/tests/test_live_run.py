"""One short real run: a fresh stack, every user class, four seconds at 50 events/s, a clean audit and exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from load.runner import main


@pytest.mark.scenario("PERF-WEBHOOK-LOAD")
@pytest.mark.slow
def test_a_short_run_against_a_live_stack_ends_with_a_clean_audit(tmp_path: Path) -> None:
    code = main(
        [
            "--rate",
            "50",
            "--duration",
            "5",
            "--artefacts",
            str(tmp_path),
            # Latency limits belong to the benchmark; on a shared CI machine a 5 s run only proves correctness.
            "--check-p95",
            "0",
            "--check-p99",
            "0",
            "--check-error-ratio",
            "0.01",
        ]
    )
    result = json.loads((tmp_path / "audit.json").read_text())
    assert result["audit"]["ok"], result["audit"]["anomaly_counts"]
    assert result["exceptions"] == 0  # counted: a bench phase with any is not held
    assert code == 0
    stats = result["audit"]["stats"]
    assert stats["requests"] > 100
    assert stats["event_rows"] > 100
    roles = stats["by_role"]
    assert {"event", "sim_charge", "checkout", "efecty"} <= set(roles)
    assert (tmp_path / "locust.html").exists() and (tmp_path / "locust_stats.csv").exists()


@pytest.mark.slow
def test_a_short_open_loop_run_keeps_its_schedule_and_its_audit_clean(tmp_path: Path) -> None:
    """--pacing open end to end: the webhook users send on their schedule (the offered rate is met), every send's
    ledger line says how late it started, the run records its pacing, and the audit sees every event once."""
    code = main(["--rate", "60", "--duration", "5", "--pacing", "open", "--users", "WompiWebhookUser",
                 "PayUWebhookUser", "--artefacts", str(tmp_path), "--check-p95", "0", "--check-p99", "0",
                 "--check-error-ratio", "0.01"])
    result = json.loads((tmp_path / "audit.json").read_text())
    assert result["audit"]["ok"], result["audit"]["anomaly_counts"]
    assert code == 0
    assert result["pacing"] == {"mode": "open", "user_rate": None, "users_per_process": 4, "max_in_flight": 250,
                                "in_flight_per_process": 1000, "not_sent": 0}
    lines = [json.loads(line) for path in (tmp_path / "ledger").rglob("*.jsonl")
             for line in path.read_text().splitlines() if line]
    assert len(lines) >= 0.8 * 60 * 5  # stories with bursts and forgeries: more requests than events
    assert all("late_ms" in line and line["ms"] >= line["late_ms"] for line in lines)
    run = json.loads((tmp_path / "run.json").read_text())
    assert (run["pacing"], run["open_users"], run["max_in_flight"]) == ("open", 4, 250)
