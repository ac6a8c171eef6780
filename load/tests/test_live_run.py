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
    assert code == 0
    stats = result["audit"]["stats"]
    assert stats["requests"] > 100
    assert stats["event_rows"] > 100
    roles = stats["by_role"]
    assert {"event", "sim_charge", "checkout", "efecty"} <= set(roles)
    assert (tmp_path / "locust.html").exists() and (tmp_path / "locust_stats.csv").exists()
