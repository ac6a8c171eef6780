"""Drive mutmut over chosen core modules within a time budget, then write ``mutants.json``.

mutmut works in ``.mutmut/`` (git-ignored): a generated ``pyproject.toml`` (the project's own plus a
``[tool.mutmut]`` table), a link to ``core/`` and mutmut's ``mutants/`` copy with its verdicts. Verdicts
persist there, so a second run carries on where the last one stopped (``--fresh`` starts over). One
Postgres serves every test session of the run, so a mutant's tests pay for a template migration, not a
server start.

Usage::

    payharness mutants --modules core/efecty_codes.py,core/reconcile.py --budget 600 --artefacts artefacts/m
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from harness.argtypes import plain, positive_float, positive_int
from harness.mutants.summary import Mutant, RunFacts, load_equivalents, module_files, summarise
from harness.paths import repo_root

REPO = repo_root()
WORK = REPO / ".mutmut"
EQUIVALENTS = Path(__file__).with_name("equivalent.toml")
DEFAULT_MODULES = (
    "core/efecty_codes.py", "core/reconcile.py", "core/gateways/resilience.py", "core/payments",
    "core/api/idempotency.py", "core/api/checkout.py", "core/api/charges.py", "core/signing", "core/webhooks",
)
# In-process unit tests only: the live suites drive the core in uvicorn subprocesses, where mutmut's
# trampolines never learn which mutant is active.
DEFAULT_TESTS = ("core/tests",)
# The wording of an exception message is not decision code: a one-line ``raise SomeError("…")`` whose
# only argument is a string is not mutated. Any other argument (a status code, a field) still is.
MESSAGE_ONLY_RAISE = r'^\s*raise \w+\(f?"[^"]*"\)( from \w+)?\s*$'
# mutmut's exit codes for "no test reaches this mutant" (mutmut.stats.status_by_exit_code).
NO_TESTS_EXIT_CODES = (5, 33)
GRACE_S = 20.0
TIMEOUT_MULTIPLIER = 5.0  # after SIGINT, how long mutmut may take to stop its workers and save verdicts


@dataclass(frozen=True)
class Project:
    """What mutmut works on: a package under ``root``, and the pytest arguments every session gets."""

    root: Path = REPO
    package: str = "core"
    pytest_args: tuple[str, ...] = ("-p", "no:cacheprovider", "--scenarios-json=")


def source_files(modules: Sequence[str], project: Project = Project()) -> list[str]:
    root = project.root
    files = sorted(str(p.relative_to(root)) for p in (root / project.package).rglob("*.py")
                   if "tests" not in p.relative_to(root).parts)
    chosen = [f for m in modules for f in module_files(m, files)]
    missing = [m for m in modules if not module_files(m, files)]
    if missing:
        raise SystemExit(f"payharness mutants: no Python file under {', '.join(missing)}")
    return sorted(set(chosen))


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(work: Path, files: Sequence[str], *, tests: Sequence[str], fresh: bool = False,
            project: Project = Project()) -> None:
    """Lay out mutmut's work dir for ``files``; earlier verdicts stay unless ``fresh`` or the tests changed."""
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    shared = [n for n in (project.package, "conftest.py") if (project.root / n).exists()]
    for name in shared:
        link = work / name
        if not link.is_symlink():
            link.symlink_to(project.root / name)
    pyproject = project.root / "pyproject.toml"
    config = (pyproject.read_text() if pyproject.is_file() else "") + (
        "\n[tool.mutmut]\n"
        f"source_paths = {_toml_list([project.package])}\n"
        f"only_mutate = {_toml_list(files)}\n"
        f"also_copy = {_toml_list([n for n in shared if n.endswith('.py')])}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        f"pytest_add_cli_args = {_toml_list(project.pytest_args)}\n"
        f"do_not_mutate_patterns = {_toml_list([MESSAGE_ONLY_RAISE])}\n"
        # mutmut's default (15 × the tests' time, doubled) lets a mutant that polls forever hold a worker for
        # minutes; a timeout is never a kill here, so a shorter limit changes no score, only the run's length.
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
    )
    target = work / "pyproject.toml"
    if not target.is_file() or target.read_text() != config:
        target.write_text(config)
    mutants = work / "mutants"
    mutants.mkdir(exist_ok=True)
    for f in files:
        copy = mutants / f
        # mutmut copies files it is not asked to mutate and then takes the copy (newer than the source)
        # for an already mutated file: drop such a plain copy so mutmut mutates it again.
        if copy.is_file() and "__mutmut_orig" not in copy.read_text():
            copy.unlink()
    _drop_stats_if_files_changed(mutants, files)
    _reset_if_tests_changed(mutants, _tests_fingerprint(project))


def _drop_stats_if_files_changed(mutants: Path, files: Sequence[str]) -> None:
    """Make mutmut map tests to functions again when a file is mutated that its last mapping did not cover.

    mutmut's stats pass records which test calls which function only for the files it mutated then, and on
    the next run it keeps that mapping, pruned to the files mutated now, without looking for callers of
    functions it did not trampoline before: after ``--modules core/signing``, a run on ``core/webhooks``
    found no test for any of its 1,047 mutants and called them all survivors. The mapping stays valid for
    a subset of the files it covers; for any other file it is dropped (a full stats pass follows), and the
    "no tests" verdicts it produced are cleared.
    """
    stamp = mutants / "payharness-stats-files.json"
    covered = set(json.loads(stamp.read_text())) if stamp.is_file() else set()
    if not set(files) <= covered:
        (mutants / "mutmut-stats.json").unlink(missing_ok=True)
        for meta in mutants.rglob("*.py.meta"):
            data = json.loads(meta.read_text())
            codes = data["exit_code_by_key"]
            if any(v in NO_TESTS_EXIT_CODES for v in codes.values()):
                data["exit_code_by_key"] = {k: (None if v in NO_TESTS_EXIT_CODES else v) for k, v in codes.items()}
                meta.write_text(json.dumps(data))
    stamp.write_text(json.dumps(sorted(files)))


def _tests_fingerprint(project: Project) -> str:
    digest = hashlib.sha256()
    root = project.root
    paths = [p for p in (root / project.package).rglob("*.py") if "tests" in p.relative_to(root).parts]
    if (root / "conftest.py").is_file():
        paths.append(root / "conftest.py")
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _reset_if_tests_changed(mutants: Path, now: str) -> None:
    """New or changed tests may kill what survived: send every verdict but "killed" back to "not checked".

    mutmut keeps a verdict until the mutated function changes, so without this a survivor would stay a
    survivor after the test that kills it is written.
    """
    stamp = mutants / "payharness-tests.sha256"
    if stamp.is_file() and stamp.read_text() != now:
        for meta in mutants.rglob("*.py.meta"):
            data = json.loads(meta.read_text())
            data["exit_code_by_key"] = {k: (v if v in (1, 3) else None) for k, v in data["exit_code_by_key"].items()}
            meta.write_text(json.dumps(data))
    stamp.write_text(now)


def _functions(tree: ast.Module, source: str) -> dict[str, str]:
    # Slicing lines once: ast.get_source_segment splits the whole (large) mutated file on every call.
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in tree.body:
        body = node.body if isinstance(node, ast.ClassDef) else [node]
        for fn in body:
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                found[fn.name] = "\n".join(lines[fn.lineno - 1:fn.end_lineno])
    return found


def _display(mangled: str) -> str:
    # mutmut's names: x_<function> for functions, xǁ<Class>ǁ<method> for methods.
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled[2:]


def read_verdicts(mutants: Path, files: Sequence[str]) -> list[Mutant]:
    """Every mutant of ``files`` with mutmut's status and the lines it changes (from the mutated copy)."""
    from mutmut.stats import status_by_exit_code

    out: list[Mutant] = []
    for f in files:
        meta, copy = mutants / (f + ".meta"), mutants / f
        if not meta.is_file() or not copy.is_file():
            continue
        source = copy.read_text()
        functions = _functions(ast.parse(source), source)
        for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            generated = key.rpartition(".")[2]
            mangled = generated.rpartition("__mutmut_")[0]
            orig_name = mangled + "__mutmut_orig"
            before = functions.get(orig_name, "").replace(orig_name, mangled).splitlines()
            after = functions.get(generated, "").replace(generated, mangled).splitlines()
            diff = list(difflib.unified_diff(before, after, n=0, lineterm=""))[2:]
            removed = tuple(d[1:].strip() for d in diff if d.startswith("-"))
            added = tuple(d[1:].strip() for d in diff if d.startswith("+"))
            out.append(Mutant(key, f, _display(mangled), status_by_exit_code[code], removed, added))
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to mutmut's process group (it stops its workers and saves verdicts), then SIGKILL."""
    for sig, wait in ((signal.SIGINT, GRACE_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        _kill_stragglers(proc)
        return


def _kill_stragglers(proc: subprocess.Popen[bytes]) -> None:
    # The leader is gone; forked workers may still be in its group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_mutmut(work: Path, *, budget_s: float | None, jobs: int, log_path: Path, env: dict[str, str]) -> str | None:
    """Run ``mutmut run`` in ``work`` until it ends or the budget is spent; returns why it was stopped."""
    cmd = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(jobs)]
    with log_path.open("wb") as log:
        # Its own session: Ctrl-C reaches only us, and we stop mutmut's whole group in order.
        # A shell starts background jobs with SIGINT ignored, and a child would inherit that: give mutmut
        # the default back so that the SIGINT below stops it cleanly.
        proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=_default_sigint)
        try:
            code = proc.wait(timeout=budget_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return "budget"
        except KeyboardInterrupt:
            _stop(proc)
            return "interrupted"
        _kill_stragglers(proc)
    return None if code == 0 else f"error: mutmut exited {code} (see {log_path.name})"


def _git_commit() -> str | None:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=REPO, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payharness mutants", description=plain(__doc__))
    parser.add_argument("--modules", default=",".join(DEFAULT_MODULES),
                        help="comma-separated files or folders under core/ (default: the decision code)")
    parser.add_argument("--budget", type=positive_float, default=1200.0,
                        help="seconds before the run is stopped; what was not run counts as not run")
    parser.add_argument("--artefacts", default=None, help="output folder (default artefacts/mutants-<UTC time>)")
    parser.add_argument("--jobs", type=positive_int, default=1, help="mutants tested at once (the machine is shared)")
    parser.add_argument("--tests", default=",".join(DEFAULT_TESTS), help="pytest paths mutmut may choose from")
    parser.add_argument("--fresh", action="store_true", help="forget earlier verdicts in .mutmut/")
    parser.add_argument("--work", default=str(WORK), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modules = [m.strip().rstrip("/") for m in args.modules.split(",") if m.strip()]
    files = source_files(modules)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.artefacts or REPO / "artefacts" / f"mutants-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work).resolve()
    prepare(work, files, tests=[t.strip() for t in args.tests.split(",") if t.strip()], fresh=args.fresh)
    started_at, started = datetime.now(UTC), time.monotonic()
    print(f"payharness mutants: mutmut on {len(files)} files of {', '.join(modules)}; budget {args.budget:.0f} s; "
          f"log {out / 'mutmut.log'}", file=sys.stderr, flush=True)

    from harness.postgres import ENV_DSN, provide_postgres

    stopped: str | None
    try:
        with provide_postgres(announce=False) as pg:
            env = {**os.environ, ENV_DSN: pg.dsn, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
            remaining = None if args.budget <= 0 else max(1.0, args.budget - (time.monotonic() - started))
            stopped = run_mutmut(work, budget_s=remaining, jobs=args.jobs, log_path=out / "mutmut.log", env=env)
    except KeyboardInterrupt:
        stopped = "interrupted"
    run = RunFacts(tool="mutmut", tool_version=version("mutmut"), git_commit=_git_commit(),
                   started_at=started_at.isoformat(timespec="seconds"),
                   duration_s=round(time.monotonic() - started, 1), budget_s=args.budget, stopped=stopped,
                   jobs=args.jobs, command=["payharness", "mutants", *(argv if argv is not None else sys.argv[1:])])
    doc = summarise(read_verdicts(work / "mutants", files), modules=modules,
                    equivalents=load_equivalents(EQUIVALENTS), run=run)
    doc["not_mutated"] = {"do_not_mutate_patterns": [MESSAGE_ONLY_RAISE],
                          "why": "the wording of an exception message is not decision code"}
    (out / "mutants.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    _print(doc, out)
    if stopped == "interrupted":
        return 130
    return 0 if stopped in (None, "budget") else 1


def _print(doc: dict, out: Path) -> None:
    print(f"{'module':<28} {'total':>5} {'killed':>6} {'surv':>5} {'t/o':>4} {'n/run':>5} {'equiv':>5} {'score':>7}")
    for row in [*doc["modules"], {"module": "all", **doc["totals"]}]:
        judged = row["total"] - row["equivalent"]
        # From the counts, not the rounded score, so the table agrees with the report's one-decimal figure.
        score = "—" if not judged else f"{row['killed'] / judged:.1%}"
        print(f"{row['module']:<28} {row['total']:>5} {row['killed']:>6} {row['survived']:>5} {row['timeout']:>4} "
              f"{row['not_run']:>5} {row['equivalent']:>5} {score:>7}")
    state = "complete" if doc["complete"] else f"INCOMPLETE ({doc['stopped'] or 'mutants not run'})"
    print(f"{state}; {doc['duration_s']} s; {out / 'mutants.json'}")
