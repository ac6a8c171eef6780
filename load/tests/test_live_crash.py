"""One bounded real run with a Postgres crash: 100 events/s for 20 s, the embedded postmaster SIGKILLed at 8 s
and restarted on its data; the core recovers by itself, and the audit is clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from load.ledger import read_ledger
from load.runner import main


@pytest.mark.scenario("DB-UNAVAILABLE")
@pytest.mark.slow
def test_a_postgres_crash_under_load_loses_no_acknowledged_event_and_doubles_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PAYHARNESS_DATABASE_URL", "PAYHARNESS_POSTGRES"):
        monkeypatch.delenv(name, raising=False)  # the crash needs the embedded server, whatever the caller's
    code = main(["--rate", "100", "--duration", "20", "--crash-postgres-at", "8", "--artefacts", str(tmp_path)])

    result = json.loads((tmp_path / "audit.json").read_text())
    audit = result["audit"]
    assert audit["ok"], audit["anomaly_counts"]  # every 200 recorded, nothing recorded twice
    assert code == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["events"]["postgres"] == {"kind": "embedded", "durable": True}
    [crash] = run["events"]["postgres_crashes"]
    assert crash["crash_recovery"], crash  # a kill, not a clean stop: the restart replayed the WAL
    assert crash["killed_at"] < crash["back_at"]
    # The senders saw the outage, as 503s (or cut connections), never as a 500 or a 200 from a dead server...
    assert crash["non_200_during"] > 0, crash
    assert set(crash["during"]) <= {"200", "503", "none"}, crash["during"]
    # ...and 200s came back without restarting the core, and kept coming until the end.
    assert crash["first_200_after_kill_seconds"] is not None and crash["first_200_after_kill_seconds"] < 10
    after = [e for e in read_ledger(tmp_path / "ledger") if e.code == 200 and e.at > crash["first_200_at"]]
    assert len(after) > 500, len(after)  # ~10 s at 100/s left after the outage
    assert audit["stats"]["after_errors"]["acknowledged_later"] > 0, audit["stats"]["after_errors"]
