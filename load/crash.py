"""What a Postgres crash looked like from the load's side: figures per crash from the ledger, and their print.

``payharness load --crash-postgres-at S`` kills the embedded postmaster and starts it again
(``PostgresHandle.crash_and_restart``); the runner keeps the server's times (kill, every process gone,
accepting connections again) and, after the run, reads the ledger for what the webhook senders saw: when
the first 200 came back, and what they got between the kill and that 200. Times are epoch seconds, as the
ledger's ``at``; an answer's time is ``at + ms``.

Usage::

    figures = outage_figures(read_ledger(artefacts / "ledger"), [timing.to_dict()])
    print("\\n".join(describe(figures)))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from load.ledger import LedgerEntry

WEBHOOK_ROLES = frozenset({"event", "dup", "late", "forged", "replay", "conflict", "double"})


def _answered_at(entry: LedgerEntry) -> float:
    return entry.at + entry.ms / 1000


def outage_figures(ledger: Sequence[LedgerEntry], crashes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per crash: the server's times plus the senders' view, webhooks only (forged ones left out).

    ``first_200_at``: the first 200 to a webhook *sent once every process of the old server was gone*
    (``gone_at``) — only the restarted server can answer that one. Until then a backend of the killed
    postmaster may still finish a statement and answer it (it notices the death when it next waits), so a
    200 sent just after the kill proves nothing. ``during``: every webhook attempt answered (or cut off)
    between the kill and that first 200, by code ("none": no answer).
    """
    webhooks = [e for e in ledger if e.role in WEBHOOK_ROLES and e.expect != 401]
    figures = []
    for crash in crashes:
        if "killed_at" not in crash:  # the crash itself failed; its error is kept as it was
            figures.append(dict(crash))
            continue
        killed, gone, back = float(crash["killed_at"]), float(crash["gone_at"]), float(crash["back_at"])
        after = [_answered_at(e) for e in webhooks if e.code == 200 and e.at >= gone]
        first_200 = min(after) if after else None
        end = first_200 if first_200 is not None else float("inf")
        during = [e for e in webhooks if killed <= _answered_at(e) <= end]
        codes = Counter("none" if e.code is None else str(e.code) for e in during)
        figures.append({
            **crash,
            "first_200_at": None if first_200 is None else round(first_200, 3),
            "first_200_after_kill_seconds": None if first_200 is None else round(first_200 - killed, 3),
            "first_200_after_back_seconds": None if first_200 is None else round(first_200 - back, 3),
            "during": dict(sorted(codes.items())),
            "non_200_during": sum(n for code, n in codes.items() if code != "200"),
            "answered_200_during": codes.get("200", 0),
        })
    return figures


def describe(figures: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per crash for the terminal."""
    lines = []
    for n, f in enumerate(figures, 1):
        if "killed_at" not in f:
            lines.append(f"postgres crash {n}: FAILED: {f.get('error')}")
            continue
        first = f["first_200_after_kill_seconds"]
        resumed = "no 200 from the new server" if first is None else f"first 200 {first:g} s after the kill"
        during = ", ".join(f"{code}: {count}" for code, count in f["during"].items()) or "none"
        killed = "every server process" if f.get("everything") else "postmaster"
        lines.append(
            f"postgres crash {n}: {killed} killed, back after {f['down_seconds']:g} s "
            f"(crash recovery: {'yes' if f['crash_recovery'] else 'NO'}); {resumed}; "
            f"webhook answers in between: {during}"
        )
    return lines
