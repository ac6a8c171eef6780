"""``payharness audit --target FILE``: audit a profiled service — preflight, portable scenarios, the report.

Steps, each recorded in ``run.json`` like the core's audit: the preflight (the profile loaded, the service
brought up, every field used once; a failure exits 2 with one line naming the field and runs nothing
else), then ``pytest suites/portable --target-profile FILE`` (junit.xml, scenarios.json: not-runnable
scenarios carry their reason), then a short Locust webhook load with its consistency audit through the
observe queries (``load.target``: every approval answered 2xx paid once, its event stored once; skip it
with ``--no-load``), then the report. ``builtin_scenarios.json`` carries the core's own catalog, each
scenario with the suite families its tests live in and each family's reason for not running here. The
seed's findings (``findings.toml`` beside the profile, or ``--findings``) are copied in as
``seed_findings.toml``, and the report sets each beside what its scenarios measured.

Usage::

    payharness audit --target examples/seed_shop/target.toml [--findings FILE] [--no-load] [--artefacts DIR]
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness.audit import Step, _git_commit, _report, _run
from harness.stack import ARTEFACTS_ENV
from harness.target.applicability import not_runnable_families
from harness.target.builtin import write_builtin_scenarios
from harness.target.preflight import PreflightFailed, check_profile
from harness.target.profile import ProfileError, load_profile


def findings_for(profile: Path, explicit: str | None) -> Path | None:
    """The seed findings to compare with: ``--findings``, else a findings.toml beside the profile, else none."""
    if explicit:
        return Path(explicit)
    beside = profile.with_name("findings.toml")
    return beside if beside.is_file() else None


# A short webhook load: bounded in events and time, on 127.0.0.1, stopped by itself.
LOAD = ("--rate", "20", "--duration", "8", "--payments", "10", "--users", "4")


def audit_target(profile_path: Path, out: Path, findings: str | None, console: Console, *,
                 load: bool = True) -> int:
    """Run the target audit into ``out``; 0 clean, 1 a scenario failed or a step did not finish, 2 the profile."""
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        profile = load_profile(profile_path)
        seed = findings_for(profile_path, findings)
        if seed is not None and not seed.is_file():
            raise ProfileError(f"--findings: {seed}: no such file")
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    console.print(f"[bold]payharness audit --target[/] {profile.name} ({profile_path}) → {out}")
    preflight_started = time.monotonic()
    try:
        checked = check_profile(profile_path, log_dir=out / "logs" / "preflight")
    except (PreflightFailed, ProfileError) as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    for line in checked:
        console.print(f"  preflight: {line}", highlight=False)
    preflight = Step("preflight", ["payharness", "audit", "--target", str(profile_path)], [], exit_code=0,
                     duration_s=round(time.monotonic() - preflight_started, 1))
    if seed is not None:
        shutil.copyfile(seed, out / "seed_findings.toml")
    suites = Step("scenarios", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                f"--junitxml={out / 'junit.xml'}", f"--scenarios-json={out / 'scenarios.json'}",
                                "suites/portable", "--target-profile", str(profile_path.resolve())],
                  ["junit.xml", "scenarios.json"], env={ARTEFACTS_ENV: str(out)}, timeout=900)
    steps = [preflight, _run(suites, out, console)]
    if load:
        # `load` runs as a process: the harness imports no load code (an import contract).
        steps.append(_run(Step("load", [sys.executable, "-m", "load.target", "--profile", str(profile_path.resolve()),
                                        "--artefacts", str(out / "load"), *LOAD],
                               ["load/audit.json", "load/locust_stats.csv"], env={ARTEFACTS_ENV: str(out)},
                               timeout=300), out, console))
    run = {"started_at": started_at.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
           "duration_s": round(time.monotonic() - started, 1), "quick": False, "git_commit": _git_commit(),
           "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
           "target": {"name": profile.name, "description": profile.description, "profile": str(profile_path),
                      "findings": str(seed) if seed else None, "preflight": checked,
                      # The built-in suites a foreign service cannot be given, each with why (not left out silently).
                      "builtin_not_runnable": not_runnable_families()},
           "steps": [vars(s) for s in steps]}
    (out / "run.json").write_text(json.dumps(run, indent=2))
    # The core's catalog, each scenario with the families its tests live in and why they cannot run here: the
    # report lists them under their points as not runnable rather than leaving them out.
    write_builtin_scenarios(out)
    _report(out, console)
    console.print(f"report: {out / 'report' / 'report.html'}")
    _summary(out, console)
    if any(s.exit_code != 0 for s in steps):
        console.print("[red]a scenario failed, the load's audit found an anomaly, or a step did not finish[/]")
        return 1
    console.print("[green]every runnable scenario passed[/]")
    return 0


def _summary(out: Path, console: Console) -> None:
    """Each scenario's status on one line (and why not runnable): what the report's tables say, in short."""
    try:
        scenarios = json.loads((out / "scenarios.json").read_text())["scenarios"]
    except (OSError, ValueError, KeyError):
        console.print("[red]no scenarios.json: the scenarios step did not finish[/]")
        return
    for s in scenarios:
        why = f" — {s['reason']}" if s["status"] == "not runnable" and s.get("reason") else ""
        console.print(f"  {s['id']:<26} {s['status']}{why}", highlight=False, markup=False)
    for name, reason in not_runnable_families().items():
        console.print(f"  suites/{name:<20} not runnable against a foreign target — {reason}", highlight=False,
                      markup=False)
