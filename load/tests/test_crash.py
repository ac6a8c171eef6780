"""The crash figures: the senders' view of a Postgres crash, read from the ledger (pure)."""

from __future__ import annotations

from load.crash import describe, outage_figures
from load.ledger import LedgerEntry

KILLED, BACK = 1000.0, 1001.5


def sent(n: int, at: float, code: int | None, *, ms: float = 5.0, role: str = "event",
         expect: int = 200) -> LedgerEntry:
    return LedgerEntry(id=f"w:{n}", at=at, gateway="wompi", key=f"k{n}", order="O", attempt="O-a", status="APPROVED",
                       role=role, signature="s", expect=expect, code=code, ms=ms)


def crash() -> dict[str, object]:
    return {"at": 8.0, "killed_at": KILLED, "gone_at": 1001.2, "back_at": BACK, "down_seconds": 1.5,
            "postmaster_pid": 7, "orphans_killed": 0, "crash_recovery": True}


def test_the_outage_ends_with_the_first_200_to_a_webhook_sent_once_the_old_server_was_gone() -> None:
    ledger = [
        sent(1, 999.0, 200),  # before: not counted
        sent(2, 999.99, 200, ms=20),  # in flight at the kill, committed before it: answered during
        sent(3, 999.99, 500, ms=30),  # in flight, cut off
        sent(12, 1000.05, 200),  # sent after the kill, answered by a backend of the old server still running
        sent(4, 1000.5, 500),
        sent(5, 1000.6, None),
        sent(6, 1001.0, 401, role="forged", expect=401),  # a forged request's 401 says nothing of the database
        sent(7, 1001.6, 500),
        sent(8, 1001.7, 200, ms=100),  # the first 200 after the kill: 1001.8
        sent(9, 1001.75, 500, ms=10),  # answered before that 200 came back
        sent(10, 1001.9, 200),
        sent(11, 1001.7, 200, role="checkout"),  # not a webhook
    ]
    [f] = outage_figures(ledger, [crash()])
    assert f["first_200_at"] == 1001.8
    assert f["first_200_after_kill_seconds"] == 1.8
    assert f["first_200_after_back_seconds"] == 0.3
    assert f["during"] == {"200": 3, "500": 4, "none": 1}
    assert (f["non_200_during"], f["answered_200_during"]) == (5, 3)
    assert f["down_seconds"] == 1.5 and f["crash_recovery"] is True
    [line] = describe([f])
    assert line.startswith("postgres crash 1: postmaster killed, back after 1.5 s")
    assert "first 200 1.8 s after the kill" in line and "500: 4" in line


def test_no_200_after_the_kill_and_a_failed_crash_are_said_plainly() -> None:
    figures = outage_figures([sent(1, 1000.2, 500)], [crash(), {"at": 12.0, "error": "pg_ctl failed"}])
    assert figures[0]["first_200_at"] is None and figures[0]["during"] == {"500": 1}
    assert figures[1] == {"at": 12.0, "error": "pg_ctl failed"}
    lines = describe(figures)
    assert "no 200 from the new server" in lines[0]
    assert lines[1] == "postgres crash 2: FAILED: pg_ctl failed"
    assert describe(outage_figures([], [{**crash(), "everything": True}]))[0].startswith(
        "postgres crash 1: every server process killed")
