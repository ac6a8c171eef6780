"""The matrix's load part: a short webhook load on a core with a ``load=True`` defect, judged by the load's audit.

``payharness defects --load`` (and ``--full``) runs ``payharness load`` with ``LOAD_ARGS`` once on the clean
core (the baseline) and once per selected defect whose catalog entry says ``load=True``, one at a time, each on
a fresh stack with the defect seeded and recorded as the suites' runs are. A load result is one of:

* **caught**: the baseline's audit is clean, the defect's load finished (exit 0 or 1 and an ``audit.json``
  with its audit section), every part of the defect was confirmed applied, and its audit found anomalies
  that are the core's (``ledger_incomplete`` is the load's own and proves nothing of the core);
* **missed**: the same, with a clean audit;
* **inconclusive**: anything else — no usable baseline or an unclean one, a timeout, a crash, no or an
  unreadable ``audit.json``, a run whose exit code and audit disagree, a part never confirmed applied.

The harness starts load runs as processes and imports no load code (import-linter's contract): the load is
``python -m harness.cli load``, its result read back from ``audit.json``.

Usage::

    baseline = run_load(out / "load" / "clean", None, timeout=300)
    run = run_load(out / "load" / "no_row_lock", REGISTRY["no_row_lock"], timeout=300)
    judge_load(REGISTRY["no_row_lock"], run, baseline, applied_parts(run_record(out / "load" / "no_row_lock")))
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.defects import Defect
from harness.paths import repo_root
from supervise import run as supervised
from supervise.run import TIMED_OUT as RUN_TIMED_OUT

TIMED_OUT = -1
LOCUST_OVERRAN = 124  # payharness load: Locust still running long after --duration, stopped
# The load's own kinds: they say the load could not see everything, never that the core did something wrong.
HARNESS_KINDS = frozenset({"ledger_incomplete"})
# Why these (load/README.md, "The audit"; harness/defects/README in the top README's matrix section):
# * conflict and double: no_row_lock shows only when *different* events for one order race (a different final
#   status, a second attempt approved at the same moment); duplicates alone are stopped by the unique identity;
# * ooo (a late PENDING) and conflict: state_regression_allowed lets them overwrite a final status;
# * a Postgres crash 8 s in (the postmaster SIGKILLed and restarted on the same data, about a second down):
#   always_200 loses an event only when recording fails, and the core now survives a killed session by
#   retrying on a new connection (0 failed requests with two kills, tried), so only an outage makes it answer
#   503 — which always_200 turns into a 200 with nothing kept, lost_event. The crash needs the embedded
#   Postgres: with PAYHARNESS_DATABASE_URL or Docker the load refuses (exit 2) and every load is inconclusive;
# * 100 events/s for 20 s, webhook users only: ~2,000 stories, enough for each fault to show many times, far
#   below what the core holds on 2 cores, so the baseline stays clean on a busy machine; the latency and
#   error-ratio gates are off (the crash makes errors on purpose): only the audit judges.
LOAD_MIX = "dup=0.10,ooo=0.05,invalid=0.02,conflict=0.05,double=0.05"
LOAD_ARGS: tuple[str, ...] = (
    "--rate", "100", "--duration", "20", "--mix", LOAD_MIX,
    "--crash-postgres-at", "8",
    "--check-p95", "0", "--check-p99", "0", "--check-error-ratio", "-1",
    "--users", "WompiWebhookUser", "PayUWebhookUser",
)


@dataclass(frozen=True)
class LoadRun:
    """What one load left: its exit code (``TIMED_OUT``), its audit's anomaly counts, or why they cannot be read."""

    exit_code: int
    duration_s: float
    anomalies: dict[str, int] | None
    error: str = ""
    examples: dict[str, list[str]] = field(default_factory=dict)

    def unfinished(self) -> str:
        """Why this load cannot vouch for anything ("" when it finished and its audit can be read)."""
        if self.exit_code == TIMED_OUT:
            return f"the load timed out after {self.duration_s:.0f} s"
        if self.exit_code == LOCUST_OVERRAN:
            return "the load exited 124: Locust still running long after --duration, stopped"
        if self.exit_code not in (0, 1):
            return f"the load exited {self.exit_code} (crashed, interrupted or refused its arguments)"
        if self.anomalies is None:
            return f"no audit: {self.error}"
        if self.exit_code == 1 and not self.anomalies:
            return "the load exited 1 with a clean audit (a Locust user raised, or a gate broke)"
        if self.exit_code == 0 and self.anomalies:
            return "the load exited 0 although its audit names anomalies"
        return ""


@dataclass(frozen=True)
class LoadVerdict:
    outcome: str  # caught | missed | inconclusive
    reason: str
    kinds: tuple[str, ...] = ()


def judge_load(defect: Defect, run: LoadRun, baseline: LoadRun | None, applied: dict[str, set[str]]) -> LoadVerdict:
    """Pure: a defect's load against the clean core's (``None``: not run) and what the run confirmed applied."""
    if baseline is None:
        return LoadVerdict("inconclusive", "no clean load baseline: it was not run")
    if why := baseline.unfinished():
        return LoadVerdict("inconclusive", f"no clean load baseline: {why}")
    if baseline.anomalies:
        return LoadVerdict("inconclusive", f"the clean core's load audit is not clean: {_counts(baseline.anomalies)}")
    if why := run.unfinished():
        return LoadVerdict("inconclusive", why)
    missing = sorted(defect.parts - applied.get(defect.name, set()))
    if missing:
        return LoadVerdict("inconclusive", f"load: not confirmed applied: {', '.join(missing)} (see its record)")
    assert run.anomalies is not None  # unfinished() said so
    core = {k: n for k, n in run.anomalies.items() if k not in HARNESS_KINDS}
    if core:
        return LoadVerdict("caught", f"the load's audit found {_counts(core)}", tuple(sorted(core)))
    if run.anomalies:
        return LoadVerdict("inconclusive", f"the load's audit names only its own gaps: {_counts(run.anomalies)}")
    return LoadVerdict("missed", "the load's audit is clean with the defect applied")


def combine(suites: str, suites_reason: str, load: LoadVerdict | None) -> tuple[str, str]:
    """A row's outcome: its suites' verdict, and its load's when one ran — the worse of the two decides."""
    if load is None:
        return suites, suites_reason
    rank = {"caught": 0, "missed": 1, "inconclusive": 2}
    outcome = max((suites, load.outcome), key=lambda o: rank.get(o, 2))
    return outcome, f"suites: {suites_reason}; load: {load.reason}"


def _counts(anomalies: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(anomalies.items()))


def read_load(folder: Path, exit_code: int, duration_s: float) -> LoadRun:
    """The anomaly counts of ``folder/audit.json``; an absent, torn or audit-less file is an error, not clean."""
    path = folder / "audit.json"
    if not path.is_file():
        return LoadRun(exit_code, duration_s, None, "audit.json was not written")
    try:
        audit = json.loads(path.read_text())["audit"]
        counts = {str(k): int(n) for k, n in audit["anomaly_counts"].items()}
        ok = bool(audit["ok"])
        listed = audit.get("anomalies") or {}
        examples = {str(k): [str(e.get("subject", "")) for e in v[:3]] for k, v in listed.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return LoadRun(exit_code, duration_s, None, f"audit.json unreadable or without its audit: {type(exc).__name__}")
    if ok == bool(counts):
        return LoadRun(exit_code, duration_s, None, f"audit.json says ok={ok} with anomalies {counts}")
    return LoadRun(exit_code, duration_s, counts, examples=examples)


def run_record(folder: Path) -> Path:
    return folder / "applied"


def run_load(folder: Path, defect: Defect | None, timeout: float) -> LoadRun:
    """``payharness load`` with ``LOAD_ARGS`` into ``folder`` (emptied first: an earlier run's audit.json never
    stands in for this one's), ``defect`` seeded and recorded; its output goes to ``folder/load.log``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seed = ["--defect", defect.name, "--defect-record", str(run_record(folder))] if defect else []
    cmd = [sys.executable, "-m", "harness.cli", "load", *LOAD_ARGS, "--artefacts", str(folder), *seed]
    started = time.monotonic()
    # A timeout ends the load's whole process group (its stack too); a Ctrl-C is passed on and waited for.
    with (folder / "load.log").open("wb") as log:
        code = supervised(cmd, cwd=repo_root(), env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                          timeout=timeout)
    if code == RUN_TIMED_OUT:
        code = TIMED_OUT
    return read_load(folder, code, time.monotonic() - started)
