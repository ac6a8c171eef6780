"""``payharness defects``: run the suites once per seeded defect and record which tests catch it.

Each defect's run is judged against a clean baseline — the outcomes of the same tests on the clean core —
and against what the run's own processes recorded they applied. A row is one of:

* **caught**: the run finished (pytest exited 0 or 1 and wrote its JUnit file), every part of the defect
  was confirmed applied (``Seeding.record``), and at least one test that passed on the clean core failed;
* **missed**: the same, but no such test failed, and no test errored;
* **inconclusive** (with its reason): anything else — no clean baseline, a timeout, a crash, no JUnit, no
  test run, a part never confirmed applied, or only setup/teardown errors. The report makes it critical.

The baseline costs no extra suites run inside ``payharness audit``: its own suites run (every suite, on
the clean core) is passed as ``--clean-junit``. Alone, ``payharness defects`` runs the union of the
defects' suites once on the clean core first. The matrix is ``defects.json`` (format in reports/README.md);
the exit code is non-zero unless every defect is caught and the clean core passes.

Usage::

    payharness defects [--full] [--only no_row_lock,always_200] [--artefacts artefacts] [--parallel 2]

By default each defect runs the suites that target it (``Defect.quick``); ``--full`` runs every suite
for every defect (about four times longer), which shows every test a defect trips.

``--load`` (on with ``--full``) also runs a short load on the clean core, then on each selected defect the
catalog marks ``load=True``, one at a time, and judges each by the load's consistency audit
(``harness/defects/loadrun.py``); such a row is caught only when its suites and its load both caught it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.argtypes import comma_list, defect_name, plain, positive_float, positive_int
from harness.defects import REGISTRY, Defect, applied_parts, patch_errors
from harness.defects.loadrun import LOAD_ARGS, LoadRun, combine, judge_load, run_load, run_record
from harness.paths import repo_root
from reports.model import CaseResult
from reports.parse_tests import PARSE_ERRORS, read_junit
from supervise import forwarding
from supervise import run as supervised
from supervise.run import TIMED_OUT as RUN_TIMED_OUT

REPO = repo_root()
# Every suite a defect's quick run may name, and the flows; a --full run never runs less than a quick one
# (harness/tests/test_defects_matrix.py checks it over the whole catalog).
FULL_SUITES = ("suites/constraints", "suites/replay", "suites/races", "suites/faults", "suites/api",
               "suites/flows", "suites/precision", "suites/initiation", "suites/signature_scope", "suites/attacker")
FINISHED = (0, 1)  # pytest: all passed, some failed; 2–5 are an interrupt, an internal or usage error, no tests
TIMED_OUT = -1


@dataclass(frozen=True)
class SuitesRun:
    """What one pytest run left: its exit code (``TIMED_OUT``), its cases, or why they could not be read."""

    exit_code: int
    duration_s: float
    cases: tuple[CaseResult, ...] | None
    junit_error: str = ""

    @property
    def outcomes(self) -> dict[str, str]:
        return {c.nodeid: c.outcome for c in self.cases or ()}

    def unfinished(self) -> str:
        """Why this run cannot vouch for anything ("" when it finished and wrote its JUnit file)."""
        if self.exit_code == TIMED_OUT:
            return f"the run timed out after {self.duration_s:.0f} s"
        if self.exit_code not in FINISHED:
            return f"pytest exited {self.exit_code} (interrupted, internal or usage error, or no tests)"
        if self.cases is None:
            return f"no JUnit results: {self.junit_error}"
        if not any(c.outcome in ("passed", "failed") for c in self.cases):
            return "no test ran (every test skipped or errored)"
        return ""


@dataclass(frozen=True)
class Verdict:
    outcome: str  # caught | missed | inconclusive
    reason: str
    caught_by: tuple[str, ...] = ()


def judge(defect: Defect, run: SuitesRun, clean: Mapping[str, str] | None, applied: Mapping[str, set[str]]) -> Verdict:
    """Pure: a defect's run against the clean core's outcomes (``None``: no baseline) and what was applied."""
    if clean is None:
        return Verdict("inconclusive", "no clean baseline: the clean core's run did not finish")
    unfinished = run.unfinished()
    if unfinished:
        return Verdict("inconclusive", unfinished)
    missing = sorted(defect.parts - applied.get(defect.name, set()))
    if missing:
        return Verdict("inconclusive", f"not confirmed applied: {', '.join(missing)} (see the run's record)")
    outcomes = run.outcomes
    caught_by = tuple(n for n, o in outcomes.items() if o == "failed" and clean.get(n) == "passed")
    if caught_by:
        return Verdict("caught", f"{len(caught_by)} test(s) that pass on the clean core fail", caught_by)
    errored = [n for n, o in outcomes.items() if o == "error"]
    if errored:
        return Verdict("inconclusive", f"{len(errored)} test(s) errored in setup or teardown, none that pass on "
                                       f"the clean core failed: first {errored[0]}")
    failed = sum(1 for o in outcomes.values() if o == "failed")
    why = f"; {failed} failing test(s) did not pass on the clean core" if failed else ""
    return Verdict("missed", f"every test that passes on the clean core passes with it applied{why}")


def read_run(junit: Path, exit_code: int, duration_s: float) -> SuitesRun:
    if not junit.exists():
        return SuitesRun(exit_code, duration_s, None, f"{junit.name} was not written")
    try:
        return SuitesRun(exit_code, duration_s, read_junit(junit))
    except PARSE_ERRORS as exc:
        return SuitesRun(exit_code, duration_s, None, f"{junit.name}: {type(exc).__name__}: {exc}")


def run_suites(targets: Sequence[str], junit: Path, defect: Defect | None, record: Path | None,
               timeout: float) -> SuitesRun:
    """pytest on ``targets`` with ``defect`` seeded; a JUnit file or record left by an earlier run is removed first.

    pytest's output goes to ``<junit>.log`` beside the JUnit file: an inconclusive run must say why."""
    junit.unlink(missing_ok=True)
    if record is not None:
        shutil.rmtree(record, ignore_errors=True)
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    seed = ["--seed-defects", defect.name, "--seed-record", str(record)] if defect and record else []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--scenarios-json=",
           f"--junitxml={junit}", *seed, *targets]
    started = time.monotonic()
    # A timeout ends pytest's whole process group (its Postgres and services too); a Ctrl-C is passed on and
    # waited for, so its teardown stops them.
    with junit.with_suffix(".log").open("wb") as log:
        code = supervised(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if code == RUN_TIMED_OUT:
        code = TIMED_OUT
    return read_run(junit, code, time.monotonic() - started)


def _targets(defect: Defect | None, quick: bool) -> tuple[str, ...]:
    if quick and defect is not None and defect.quick:
        return defect.quick
    return FULL_SUITES


def run_defect(defect: Defect, out: Path, clean: Mapping[str, str] | None, quick: bool,
               timeout: float) -> dict[str, Any]:
    junit, record = out / f"{defect.name}.xml", out / f"{defect.name}.applied"
    targets = _targets(defect, quick)
    run = run_suites(targets, junit, defect, record, timeout)
    applied = applied_parts(record)
    verdict = judge(defect, run, clean, applied)
    if (error := patch_errors(record).get(defect.name)) is not None:
        verdict = Verdict("inconclusive", f"its patch's own code raised {error}: the core failed for a reason "
                                          f"that is not the defect")
    log = junit.with_suffix(".log")
    if verdict.outcome == "inconclusive" and (cause := log_cause(log)):
        verdict = Verdict(verdict.outcome, f"{verdict.reason}: {cause}", verdict.caught_by)
    outcomes = run.outcomes
    return {"name": defect.name, "title": defect.title, "finding": defect.finding, "severity": defect.severity,
            "kind": defect.kind, "suites": list(targets), "outcome": verdict.outcome, "reason": verdict.reason,
            "detected": verdict.outcome == "caught", "caught_by": list(verdict.caught_by),
            "failed_tests": [n for n, o in outcomes.items() if o in ("failed", "error")],
            "passed_tests": sum(1 for o in outcomes.values() if o == "passed"),
            "parts": sorted(defect.parts), "applied": sorted(applied.get(defect.name, set())),
            "load_anomalies": [], "load": None, "exit_code": run.exit_code, "duration_s": round(run.duration_s, 1),
            "junit": _relative(junit, out.parent), "record": _relative(record, out.parent),
            "log": _relative(log, out.parent)}


def load_summary(run: LoadRun, folder: Path, root: Path) -> dict[str, Any]:
    """A load run as defects.json holds it (the clean core's, or a defect's before its verdict is added)."""
    return {"exit_code": run.exit_code, "duration_s": round(run.duration_s, 1),
            "anomalies": run.anomalies, "error": run.unfinished(), "examples": run.examples,
            "audit": _relative(folder / "audit.json", root), "log": _relative(folder / "load.log", root),
            "args": list(LOAD_ARGS)}


def add_load(row: dict[str, Any], defect: Defect, out: Path, baseline: LoadRun | None, timeout: float) -> None:
    """Run ``defect``'s load, judge it against the baseline, and fold its verdict into ``row``."""
    folder = out / "load" / defect.name
    run = run_load(folder, defect, timeout)
    applied = applied_parts(run_record(folder))
    verdict = judge_load(defect, run, baseline, applied)
    row["outcome"], row["reason"] = combine(row["outcome"], row["reason"], verdict)
    row["detected"] = row["outcome"] == "caught"
    row["load_anomalies"] = [f"{k} × {n}" for k, n in sorted((run.anomalies or {}).items())]
    row["load"] = {**load_summary(run, folder, out.parent), "outcome": verdict.outcome, "reason": verdict.reason,
                   "applied": sorted(applied.get(defect.name, set()))}


def run_loads(rows: list[dict[str, Any]], out: Path, timeout: float) -> dict[str, Any] | None:
    """The clean core's load, then each load=True defect's, one at a time (never two loads on the machine)."""
    wanted = [(row, REGISTRY[row["name"]]) for row in rows if REGISTRY[row["name"]].load]
    if not wanted:
        return None
    folder = out / "load" / "clean"
    baseline = run_load(folder, None, timeout)
    clean = load_summary(baseline, folder, out.parent)
    state = baseline.unfinished() or (f"anomalies {baseline.anomalies}" if baseline.anomalies else "clean")
    print(f"  load on the clean core: {state} ({baseline.duration_s:.0f} s)", flush=True)
    for row, defect in wanted:
        add_load(row, defect, out, baseline, timeout)
        print(f"  load {row['name']:<29} {row['load']['outcome'].upper():<12} {row['load']['reason']} "
              f"({row['load']['duration_s']} s)", flush=True)
    return clean


def log_cause(log: Path, width: int = 240) -> str:
    """The line of a pytest log that says why the session ended: the last naming an error, else the last line."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    except OSError:
        return ""
    named = [line for line in lines if "Error" in line or "error:" in line.lower()]
    return (named or lines or [""])[-1][:width]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payharness defects", description=plain(__doc__))
    parser.add_argument("--full", action="store_true", help="every suite for every defect (slow); implies --load")
    parser.add_argument("--load", action="store_true",
                        help="also a short load per load=True defect, and one on the clean core, judged by the "
                             "load's consistency audit (about a minute each)")
    parser.add_argument("--load-timeout", type=positive_float, default=300.0, help="seconds per load run")
    parser.add_argument("--only", type=comma_list(defect_name), default="", metavar="NAME,…",
                        help="comma-separated defect names (default: all; harness/defects/catalog.py)")
    parser.add_argument("--artefacts", default=str(REPO / "artefacts"),
                        help="folder for defects.json and each run's JUnit (default: artefacts/)")
    parser.add_argument("--parallel", type=positive_int, default=2, help="defect runs at once (default 2)")
    parser.add_argument("--timeout", type=positive_float, default=600.0, help="seconds per suites run")
    parser.add_argument("--clean-junit", default=None,
                        help="a JUnit file of the clean core's run to use as the baseline instead of running it")
    args = parser.parse_args(argv)
    try:
        defects = [REGISTRY[n.strip()] for n in args.only.split(",") if n.strip()] or REGISTRY.all()
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    artefacts = Path(args.artefacts)
    out = artefacts / "defects"
    out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    clean_targets = sorted({t for d in defects for t in _targets(d, not args.full)})
    if args.clean_junit:  # the audit's own suites run is the clean baseline: no need to run it twice
        clean_xml = Path(args.clean_junit).resolve()
        clean_run = read_run(clean_xml, 0, 0.0)
    else:
        clean_xml = out / "clean.xml"
        clean_run = run_suites(clean_targets, clean_xml, None, None, args.timeout)
    clean_broken = clean_run.unfinished()
    clean = None if clean_broken else clean_run.outcomes
    clean_failed = [n for n, o in clean_run.outcomes.items() if o == "failed"]
    clean_errors = [n for n, o in clean_run.outcomes.items() if o == "error"]
    clean_passed = sum(1 for o in clean_run.outcomes.values() if o == "passed")
    print(f"clean core: {clean_passed} passed, {len(clean_failed) + len(clean_errors)} failed "
          f"({clean_run.duration_s:.0f} s){f' — NO BASELINE: {clean_broken}' if clean_broken else ''}", flush=True)
    # Each defect's pytest runs in its own process group: a Ctrl-C reaches them through forwarding().
    with forwarding(), ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        rows = []
        for row in pool.map(lambda d: run_defect(d, out, clean, not args.full, args.timeout), defects):
            print(f"  {row['name']:<34} {row['outcome'].upper():<12} {row['reason']} ({row['duration_s']} s)",
                  flush=True)
            rows.append(row)
        clean_load = run_loads(rows, out, args.load_timeout) if args.load or args.full else None
    matrix = {"generated_at": datetime.now(UTC).isoformat(), "mode": "full" if args.full else "targeted",
              "clean": {"passed": clean_passed, "failed": clean_failed, "errors": clean_errors,
                        "suites": clean_targets, "junit": _relative(clean_xml, artefacts),
                        "exit_code": clean_run.exit_code, "baseline": clean_broken or "usable", "load": clean_load},
              "defects": rows, "duration_s": round(time.monotonic() - started, 1)}
    (artefacts / "defects.json").write_text(json.dumps(matrix, indent=2))
    counts = {k: sum(1 for r in rows if r["outcome"] == k) for k in ("caught", "missed", "inconclusive")}
    print(f"detection: {counts['caught']}/{len(rows)} defects caught, {counts['missed']} missed, "
          f"{counts['inconclusive']} inconclusive; matrix in {artefacts / 'defects.json'}")
    return 0 if counts["caught"] == len(rows) and not clean_failed and not clean_errors and clean else 1
