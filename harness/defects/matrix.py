"""``payharness defects``: run the suites once per seeded defect and record which tests catch it.

A clean run comes first (the clean core must pass everything the matrix uses); then one run per defect
with ``PAYHARNESS_DEFECTS=<name>``, each on a fresh stack, two at a time on this 2-core machine. The
matrix is ``defects.json`` (format in reports/README.md); the exit code is non-zero when the clean run
fails or any defect goes undetected.

Usage::

    payharness defects [--full] [--only no_row_lock,always_200] [--artefacts artefacts] [--parallel 2]

By default each defect runs the suites that target it (``Defect.quick``); ``--full`` runs every suite
for every defect (about four times longer), which shows every test a defect trips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.argtypes import comma_list, defect_name, plain, positive_float, positive_int
from harness.defects import ENV, REGISTRY, Defect
from harness.paths import repo_root

REPO = repo_root()
FULL_SUITES = ("suites/constraints", "suites/replay", "suites/races", "suites/faults", "suites/api",
               "suites/flows", "suites/precision")


def failed_tests(junit: Path) -> tuple[list[str], int]:
    """Node ids of failed or errored tests in a JUnit XML file, and how many passed."""
    if not junit.exists():
        return ["<no junit: the run did not finish>"], 0
    failed, passed = [], 0
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314
        nodeid = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(nodeid)
        elif case.find("skipped") is None:
            passed += 1
    return failed, passed


def run_suites(targets: Sequence[str], junit: Path, defect: str | None, timeout: float) -> tuple[int, float]:
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    env.pop(ENV, None)
    if defect:
        env[ENV] = defect
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--scenarios-json=",
           f"--junitxml={junit}", *[t for t in targets if (REPO / t).exists()]]
    started = time.monotonic()
    try:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=timeout)
    except subprocess.TimeoutExpired:
        code = -1
    return code, time.monotonic() - started


def _targets(defect: Defect | None, quick: bool) -> tuple[str, ...]:
    if quick and defect is not None and defect.quick:
        return defect.quick
    return FULL_SUITES


def run_defect(defect: Defect, out: Path, quick: bool, timeout: float) -> dict[str, Any]:
    junit = out / f"{defect.name}.xml"
    code, duration = run_suites(_targets(defect, quick), junit, defect.name, timeout)
    failed, passed = failed_tests(junit)
    return {"name": defect.name, "title": defect.title, "finding": defect.finding, "severity": defect.severity,
            "kind": defect.kind, "suites": list(_targets(defect, quick)), "failed_tests": failed,
            "passed_tests": passed, "load_anomalies": [], "detected": bool(failed), "exit_code": code,
            "duration_s": round(duration, 1), "junit": str(junit.relative_to(out.parent))}


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payharness defects", description=plain(__doc__))
    parser.add_argument("--full", action="store_true", help="every suite for every defect (slow)")
    parser.add_argument("--only", type=comma_list(defect_name), default="", metavar="NAME,…",
                        help="comma-separated defect names (default: all; harness/defects/catalog.py)")
    parser.add_argument("--artefacts", default=str(REPO / "artefacts"),
                        help="folder for defects.json and each run's JUnit (default: artefacts/)")
    parser.add_argument("--parallel", type=positive_int, default=2, help="defect runs at once (default 2)")
    parser.add_argument("--timeout", type=positive_float, default=600.0, help="seconds per suites run")
    parser.add_argument("--clean-junit", default=None,
                        help="a JUnit file of the clean core's run to use as the baseline instead of running it")
    args = parser.parse_args(argv)
    artefacts = Path(args.artefacts)
    out = artefacts / "defects"
    out.mkdir(parents=True, exist_ok=True)
    defects = [REGISTRY[n.strip()] for n in args.only.split(",") if n.strip()] or REGISTRY.all()

    started = time.monotonic()
    clean_targets = sorted({t for d in defects for t in _targets(d, not args.full)})
    if args.clean_junit:  # the audit's own suites run is the clean baseline: no need to run it twice
        clean_xml, code, duration = Path(args.clean_junit).resolve(), 0, 0.0
    else:
        clean_xml = out / "clean.xml"
        code, duration = run_suites(clean_targets, clean_xml, None, args.timeout)
    clean_failed, clean_passed = failed_tests(clean_xml)
    print(f"clean core: {clean_passed} passed, {len(clean_failed)} failed ({duration:.0f} s)", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        rows = []
        for row in pool.map(lambda d: run_defect(d, out, not args.full, args.timeout), defects):
            mark = "caught" if row["detected"] else "NOT CAUGHT"
            print(f"  {row['name']:<34} {mark:<10} by {len(row['failed_tests'])} test(s) ({row['duration_s']} s)",
                  flush=True)
            rows.append(row)
    matrix = {"generated_at": datetime.now(UTC).isoformat(), "mode": "full" if args.full else "targeted",
              "clean": {"passed": clean_passed, "failed": clean_failed, "suites": clean_targets,
                        "junit": _relative(clean_xml, artefacts), "exit_code": code},
              "defects": rows, "duration_s": round(time.monotonic() - started, 1)}
    (artefacts / "defects.json").write_text(json.dumps(matrix, indent=2))
    caught = sum(1 for r in rows if r["detected"])
    print(f"detection: {caught}/{len(rows)} defects caught; matrix in {artefacts / 'defects.json'}")
    return 0 if caught == len(rows) and not clean_failed else 1
