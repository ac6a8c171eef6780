"""Pure: mutmut's verdicts and the list of equivalent mutants in, the figures of ``mutants.json`` out.

Usage::

    mutants = [Mutant("core.reconcile.x_parse__mutmut_1", "core/reconcile.py", "parse", "killed", ("a",), ("b",))]
    doc = summarise(mutants, modules=["core/reconcile.py"], equivalents=load_equivalents(path), run=RunFacts(...))
    doc["modules"][0]["score"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# mutmut's status words (mutmut.stats.status_by_exit_code) folded into the report's five outcomes.
# A mutant no test reaches lives on whatever the suite does, so it counts as survived (``no_tests`` says
# how many of them); anything mutmut never decided, or decided as "interrupted", was not run.
KILLED = {"killed", "caught by type check"}
SURVIVED = {"survived", "no tests", "suspicious", "skipped"}
TIMEOUT = {"timeout", "segfault"}  # segfault is mutmut's word for a SIGKILL at its own time limit
NOT_RUN = {"not checked", "check was interrupted by user"}


@dataclass(frozen=True)
class Mutant:
    """One mutant: mutmut's name for it, the file, the function, its status and the lines it changes."""

    name: str
    path: str
    function: str
    status: str
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def change(self) -> str:
        return f"{' / '.join(self.removed)} -> {' / '.join(self.added)}"


@dataclass(frozen=True)
class Equivalent:
    """A mutant that no test can kill, keyed by file, function and the changed text (not line numbers)."""

    path: str
    function: str
    before: str
    after: str
    reason: str

    def matches(self, m: Mutant) -> bool:
        return (m.path, m.function, " / ".join(m.removed), " / ".join(m.added)) == (
            self.path, self.function, self.before, self.after)


@dataclass(frozen=True)
class RunFacts:
    tool: str
    tool_version: str
    git_commit: str | None
    started_at: str
    duration_s: float
    budget_s: float | None
    stopped: str | None  # "budget", "interrupted", "error: …" or None when mutmut finished by itself
    jobs: int = 1
    command: list[str] = field(default_factory=list)


def load_equivalents(path: Path) -> list[Equivalent]:
    """The checked-in list (``[[equivalent]]`` tables with path, function, before, after, reason)."""
    if not path.is_file():
        return []
    data = tomllib.loads(path.read_text())
    out = []
    for row in data.get("equivalent", []):
        if not str(row.get("reason", "")).strip():
            raise ValueError(f"{path}: equivalent mutant without a reason: {row}")
        out.append(Equivalent(row["path"], row["function"], row["before"], row["after"], row["reason"]))
    return out


def module_files(module: str, paths: Iterable[str]) -> list[str]:
    """The files of ``paths`` that belong to ``module`` (a file, or a package folder)."""
    module = module.rstrip("/")
    if module.endswith(".py"):
        return [p for p in paths if p == module]
    return [p for p in paths if p.startswith(module + "/")]


def _outcome(status: str) -> str:
    for name, words in (("killed", KILLED), ("survived", SURVIVED), ("timeout", TIMEOUT), ("not_run", NOT_RUN)):
        if status in words:
            return name
    return "survived"  # an unknown word is never counted in the mutant's favour of the tests


def _figures(mutants: Sequence[Mutant], equivalents: Sequence[Equivalent]) -> dict[str, Any]:
    counts: dict[str, Any] = {"total": len(mutants), "killed": 0, "survived": 0, "no_tests": 0, "timeout": 0,
                              "not_run": 0, "equivalent": 0}
    survivors, equivalent, equivalent_killed = [], [], []
    for m in mutants:
        outcome = _outcome(m.status)
        match = next((e for e in equivalents if e.matches(m)), None)
        if match and outcome == "killed":
            # Listed as equivalent yet a test kills it: the list is wrong, and the kill counts.
            equivalent_killed.append({"name": m.name, "function": m.function, "change": m.change})
        elif match:
            counts["equivalent"] += 1
            equivalent.append({"name": m.name, "function": m.function, "change": m.change, "reason": match.reason})
            continue
        counts[outcome] += 1
        if m.status == "no tests":
            counts["no_tests"] += 1
        if outcome == "survived":
            survivors.append({"name": m.name, "function": m.function, "change": m.change, "status": m.status})
    judged = counts["total"] - counts["equivalent"]
    counts["score"] = round(counts["killed"] / judged, 4) if judged else None
    counts["complete"] = counts["not_run"] == 0
    return {**counts, "survivors": survivors, "equivalents": equivalent, "equivalent_but_killed": equivalent_killed}


def summarise(mutants: Sequence[Mutant], *, modules: Sequence[str], equivalents: Sequence[Equivalent],
              run: RunFacts) -> dict[str, Any]:
    """The whole ``mutants.json`` document: run facts, one entry per module, the totals.

    score = killed ÷ (total − equivalent); timeouts and mutants not run are not kills, so a run cut
    short scores lower and says ``complete: false`` rather than looking better than it was.
    """
    paths = sorted({m.path for m in mutants})
    rows = []
    for module in modules:
        files = module_files(module, paths)
        mine = [m for m in mutants if m.path in files]
        by_file = []
        for f in files:
            figures = _figures([m for m in mine if m.path == f], equivalents)
            by_file.append({"path": f, **{k: v for k, v in figures.items() if not isinstance(v, list)}})
        rows.append({"module": module, "files": files, **_figures(mine, equivalents), "by_file": by_file})
    chosen = {p for row in rows for p in row["files"]}
    totals = _figures([m for m in mutants if m.path in chosen], equivalents)
    for key in ("survivors", "equivalents", "equivalent_but_killed"):
        totals.pop(key)
    used = {(e.path, e.function, e.before, e.after) for e in equivalents
            if any(e.matches(m) for m in mutants)}
    stale = [e.__dict__ for e in equivalents
             if (e.path, e.function, e.before, e.after) not in used and e.path in chosen]
    return {
        "tool": run.tool, "tool_version": run.tool_version, "git_commit": run.git_commit,
        "started_at": run.started_at, "duration_s": run.duration_s, "budget_s": run.budget_s,
        "stopped": run.stopped, "jobs": run.jobs, "command": run.command,
        "complete": run.stopped is None and all(r["complete"] for r in rows),
        "score_formula": "killed / (total - equivalent); timeouts and not run are not killed",
        "modules": rows, "totals": totals, "equivalent_not_found": stale,
    }
