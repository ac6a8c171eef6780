"""``payharness audit``: the main job — suites, a short load with its audit, the defect matrix, the report.

Each step runs as its own process (a fresh stack on the embedded Postgres each time), writes its
artefacts into one folder, and is recorded in ``run.json`` with its command, exit code and duration;
the report is built only from that folder. The exit code is non-zero on any critical finding: a
failing test, an undetected defect, a consistency-audit anomaly, or a step that did not finish.

Usage::

    payharness audit [--quick] [--artefacts artefacts/audit-<time>]
    payharness audit --target shop.toml [--findings findings.toml]   # a service that is not ours
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness.argtypes import comma_list, one_of, plain
from harness.paths import repo_root
from harness.stack import ARTEFACTS_ENV
from supervise import run

REPO = repo_root()
SUITES = ("suites", "core/tests", "load/tests")
# The mutation step's budget: the default modules take 25–35 minutes from scratch on 2 cores, more than an
# audit should add. Verdicts persist in .mutmut/, so each audit carries on where the last stopped; until
# every mutant has a verdict the report calls the score inconclusive. `payharness mutants` alone finishes it.
MUTANTS_BUDGET_S = {True: 120, False: 300}
QUICK_DEFECTS = ("no_row_lock", "float_amounts", "always_200", "signature_skipped_without_secret",
                 "trust_unsigned_reference", "no_amount_check", "wompi_properties_unchecked")


@dataclass
class Step:
    name: str
    command: list[str]
    artefacts: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900.0
    exit_code: int | None = None
    duration_s: float = 0.0
    log: str = ""


def _run(step: Step, out: Path, console: Console) -> Step:
    log_path = out / "logs" / f"{step.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with console.status(f"[bold]{step.name}[/]: {' '.join(step.command[2:])[:90]}…"), log_path.open("wb") as log:
        # A Ctrl-C is passed on and waited for (the step stops its own stack), then ends the audit.
        step.exit_code = run(step.command, cwd=REPO, env={**os.environ, **step.env}, stdout=log,
                             stderr=subprocess.STDOUT, timeout=step.timeout)
    step.duration_s = round(time.monotonic() - started, 1)
    step.log = str(log_path.relative_to(out))
    mark = "[green]ok[/]" if step.exit_code == 0 else f"[red]exit {step.exit_code}[/]"
    console.print(f"  {step.name:<10} {mark:<22} {step.duration_s:>7.1f} s   log: {log_path}")
    return step


def _coverage(out: Path, console: Console) -> Step:
    data = out / "coverage-data"
    rc = f"--rcfile={REPO / 'pyproject.toml'}"
    step = Step("coverage", [sys.executable, "-m", "coverage", "combine", rc, "-q", str(data)], ["coverage.json"],
                env={"COVERAGE_FILE": str(data / ".coverage")}, timeout=120)
    _run(step, out, console)
    if step.exit_code == 0:
        step.exit_code = run([sys.executable, "-m", "coverage", "json", rc, "-q", "-o", str(out / "coverage.json")],
                             cwd=REPO, env={**os.environ, "COVERAGE_FILE": str(data / ".coverage")})
    return step


def plan(out: Path, quick: bool) -> list[Step]:
    py = sys.executable
    coverage_env = {"PAYHARNESS_COVERAGE_DIR": str(out / "coverage-data"),
                    "COVERAGE_FILE": str(out / "coverage-data" / ".coverage"), "HYPOTHESIS_PROFILE": "ci"}
    defects = ["--only", ",".join(QUICK_DEFECTS)] if quick else []
    # The full audit also measures the sustained webhook rate (4 to 6 minutes); its target is judged in
    # the report (a missed performance target is a high finding, not a failed step).
    bench = [] if quick else [
        Step("bench-load", [py, "-m", "harness.cli", "bench-load", "--start", "300", "--resolution", "50",
                            "--budget", "120", "--step-seconds", "10", "--hold", "30", "--ceiling-seconds", "10",
                            "--artefacts", str(out / "bench"), "--exit-zero"],
             ["bench/bench.json"], timeout=900),
    ]
    steps = [
        Step("suites", [py, "-m", "coverage", "run", f"--rcfile={REPO / 'pyproject.toml'}", "-m", "pytest",
                        "-q", "-p", "no:cacheprovider", f"--junitxml={out / 'junit.xml'}",
                        f"--scenarios-json={out / 'scenarios.json'}", *SUITES],
             # A ceiling for a hung run, not a speed target (pytest-timeout bounds each test): 15 minutes were
             # not enough with three other jobs on the same 2 cores (33 % of the suites done).
             ["junit.xml", "scenarios.json"], env=coverage_env, timeout=2400),
        Step("bench-db", [py, "-m", "harness.cli", "bench-db", "--runs", "3", "--json", str(out / "bench_db.json")],
             ["bench_db.json"], timeout=300),
        *bench,
        # Latency limits are judged in the report against stated targets (a shared 2-core machine is noisy);
        # the load step fails the audit on consistency anomalies and on errors. The rate stays below what
        # the core holds on 2 cores with the load generator beside it (payharness bench-load measures it).
        Step("load", [py, "-m", "harness.cli", "load", "--rate", "40" if quick else "80",
                      "--duration", "15" if quick else "40", "--check-p95", "0", "--check-p99", "0",
                      "--artefacts", str(out / "load")],
             ["load/audit.json", "load/locust_stats.csv", "load/locust_stats_history.csv"], timeout=600),
        Step("defects", [py, "-m", "harness.cli", "defects", "--artefacts", str(out),
                         "--clean-junit", str(out / "junit.xml"), *defects],
             ["defects.json"], timeout=1500),
        Step("mutants", [py, "-m", "harness.cli", "mutants", "--budget", str(MUTANTS_BUDGET_S[quick]),
                         "--artefacts", str(out / "mutants")],
             ["mutants/mutants.json"], timeout=MUTANTS_BUDGET_S[quick] + 180),
    ]
    for step in steps:  # every stack a step brings up logs its services under the audit's folder
        step.env.setdefault(ARTEFACTS_ENV, str(out))
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    steps_named = [step.name for step in plan(REPO, quick=False)]
    parser = argparse.ArgumentParser(prog="payharness audit", description=plain(__doc__))
    parser.add_argument("--quick", action="store_true", help="shorter load; the matrix on six critical defects")
    parser.add_argument("--artefacts", default=None, help="output folder (default artefacts/audit-<UTC time>)")
    parser.add_argument("--skip", type=comma_list(one_of(steps_named)), default="", metavar="STEP,…",
                        help=f"comma-separated steps to skip ({', '.join(steps_named)})")
    parser.add_argument("--target", default=None, metavar="FILE",
                        help="audit the service this profile describes (preflight, portable scenarios, load, report)")
    parser.add_argument("--findings", default=None, metavar="FILE",
                        help="with --target: the seed findings mapped to scenarios (default: findings.toml beside it)")
    parser.add_argument("--no-load", action="store_true", help="with --target: no webhook load and its audit")
    args = parser.parse_args(argv)
    for flag, given in (("--findings", args.findings), ("--no-load", args.no_load)):
        if given and not args.target:
            parser.error(f"argument {flag}: goes with --target FILE")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.artefacts or REPO / "artefacts" / f"audit-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    if args.target:
        from harness.target.audit import audit_target

        return audit_target(Path(args.target), out, args.findings, console, load=not args.no_load)
    console.print(f"[bold]payharness audit[/] → {out}" + (" (quick)" if args.quick else ""))
    started_at, started = datetime.now(UTC), time.monotonic()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    steps = [_run(step, out, console) for step in plan(out, args.quick) if step.name not in skip]
    if "suites" not in skip:
        steps.append(_coverage(out, console))
    run = {"started_at": started_at.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
           "duration_s": round(time.monotonic() - started, 1), "quick": args.quick, "git_commit": _git_commit(),
           "machine": {"python": platform.python_version(), "platform": platform.platform(),
                       "cpus": os.cpu_count()},
           "steps": [asdict(s) for s in steps]}
    (out / "run.json").write_text(json.dumps(run, indent=2))
    report_code = _report(out, console)
    failed = [s.name for s in steps if s.exit_code != 0]
    console.print(f"report: {out / 'report' / 'report.html'}")
    if failed or report_code:
        console.print(f"[red]critical findings or failed steps: {', '.join(failed) or 'report'}[/]")
        return 1
    console.print("[green]no critical finding[/]")
    return 0


def _report(out: Path, console: Console) -> int:
    step = Step("report", [sys.executable, "-m", "harness.cli", "report", str(out), "--out", str(out / "report")],
                ["report/report.html", "report/report.md", "report/report.json"], timeout=300)
    return _run(step, out, console).exit_code or 0


def _git_commit() -> str | None:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=REPO, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None
