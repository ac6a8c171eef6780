"""The payharness command: the audit, the tests, the stack and its pieces, the benchmarks.

Usage::

    payharness audit         # the main job: suites, load + audit, defect matrix, coverage, the report
    payharness test [pytest args]
    payharness up            # Postgres + simulators + core on 127.0.0.1 until Ctrl-C
    payharness load --help   # every command explains its options; exit codes are in the README
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.argtypes import defect_name, positive_int, simulator_arg
from harness.paths import NotACheckout, repo_root
from supervise import run, run_scratch

PASS_THROUGH = {"test", "simulators", "core", "token", "reconcile", "load", "bench-load", "defects", "report",
                "audit", "mutants"}


def _cmd_up(args: argparse.Namespace) -> int:
    from harness.defects import Seeding
    from harness.stack import run_stack

    try:
        seeding = Seeding.named(args.defect)
    except KeyError as exc:
        print(f"payharness up: {exc.args[0]}", file=sys.stderr)
        return 2
    if seeding.defects:
        print(f"starting the core WITH SEEDED DEFECTS: {', '.join(seeding.names)}", file=sys.stderr)

    sim_args: dict[str, list[str]] = {}
    for name, option in args.simulator_arg:
        sim_args.setdefault(name, []).append(option)
    return run_stack(database=args.database, with_simulators=not args.no_simulators, seeding=seeding,
                     sim_args=sim_args)


def _cmd_test(args: argparse.Namespace) -> int:
    artefacts = Path(args.artefacts) if args.artefacts else repo_root() / "artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={artefacts / 'junit.xml'}", *args.extra]
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
           "PAYHARNESS_ARTEFACTS": str(artefacts.resolve())}
    # Ctrl-C is passed on to pytest and waited for: its session teardown stops Postgres and the services.
    return run(cmd, cwd=repo_root(), env=env)


def _cmd_lint(args: argparse.Namespace) -> int:
    steps = [
        [sys.executable, "-m", "ruff", "check", "."],
        [str(Path(sys.executable).parent / "lint-imports")],
        [sys.executable, "-m", "mypy"],
    ]
    for step in steps:
        print("$", " ".join(step), flush=True)
        code = run(step, cwd=repo_root())
        if code:
            return code
    return 0


def _cmd_simulators(args: argparse.Namespace) -> int:
    from simulators.serve import main as serve_main

    return int(serve_main(args.extra) or 0)


def _delegate(target: str) -> Callable[[argparse.Namespace], int]:
    """A subcommand whose options are parsed by another package's ``main(argv)`` (imported when run)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        module, func = target.split(":")
        return int(getattr(importlib.import_module(module), func)(args.extra) or 0)

    return run


def _module(name: str) -> Callable[[argparse.Namespace], int]:
    """A subcommand that becomes ``python -m name`` (exec, same process), which parses its own options.

    The load and the benchmark run this way so the harness imports no load code (an import contract):
    load builds on the harness's stack, not the other way round. Exec rather than a child process: the
    caller's signals and timeouts (Ctrl-C, the audit's kill) reach the load runner itself, never a
    middleman that would leave it orphaned.
    """

    def run(args: argparse.Namespace) -> int:
        repo_root()  # outside a checkout, say so here rather than from the load's own imports
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", name, *args.extra])  # noqa: S606 (no shell: an argv)

    return run


# Commands run as ``python -m`` in this process's place: ``(module, one line for --help)``.
MODULES = {
    "load": ("load.runner", "webhook load with Locust on a fresh stack, then the consistency audit"),
    "bench-load": ("load.bench", "benchmark: sustained webhook rate vs bare asyncpg and pgbench"),
}
# The commands whose options another package's ``main(argv)`` parses, in the order --help lists them
# (the audit first: it is the main job); ``(target, one line for --help)``.
DELEGATED = {
    "audit": ("harness.audit:main", "the main job: suites, load + audit, defect matrix, coverage, the report"),
    "report": ("reports.cli:main", "build the auditor report (HTML, Markdown, JSON) from an artefacts folder"),
    "defects": ("harness.defects.matrix:main", "run the suites once per seeded defect: the detection matrix"),
    "mutants": ("harness.mutants.run:main", "mutation score of the core's decision code (mutmut), within a budget"),
    "core": ("core.serve:main", "serve the reference core with uvicorn (fails closed without its secrets)"),
    "token": ("core.serve:token_main", "mint a bearer token for the core's API (--sub, --role)"),
    "reconcile": ("core.serve:reconcile_main", "reconcile a day of Efecty payments (Asobancaria 2001)"),
}
# Commands a newcomer needs first, then the pieces, then the measurements: the order of --help.
ORDER = ("audit", "test", "up", "load", "defects", "mutants", "report", "lint", "simulators", "core", "token",
         "reconcile", "bench-load", "bench-db")
DESCRIPTION = "Prove a PayU, Wompi and Efecty payment integration right, on one machine, with real parts."
EPILOG = "Run `payharness COMMAND --help` for a command's options. Exit codes of every command: README.md."


def _cmd_bench_db(args: argparse.Namespace) -> int:
    from harness.bench_db import main as bench_main

    return bench_main(runs=args.runs, json_path=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payharness", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in ORDER:
        _add_command(sub, name)
    return parser


def _add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    if name in MODULES:
        module, summary = MODULES[name]
        sub.add_parser(name, help=summary, add_help=False).set_defaults(func=_module(module))
        return
    if name in DELEGATED:
        target, summary = DELEGATED[name]
        # No help of its own: `payharness NAME --help` reaches the package's parser, which knows the options.
        sub.add_parser(name, help=summary, add_help=False).set_defaults(func=_delegate(target))
        return
    if name == "test":
        test = sub.add_parser("test", help="run the test suites (pytest); other arguments go to pytest",
                              description="Run every test with pytest; arguments it does not know go to pytest.")
        test.add_argument("--artefacts", default=None,
                          help="folder for junit.xml and scenarios.json (default: artefacts/)")
        test.set_defaults(func=_cmd_test)
    elif name == "up":
        up = sub.add_parser("up", help="bring the stack up on 127.0.0.1 and run until Ctrl-C",
                            description="Start Postgres, the three simulators and the core; print their URLs.")
        up.add_argument("--database", default=None,
                           help="name of a database to migrate, use and keep (default: a fresh one, dropped on exit)")
        up.add_argument("--no-simulators", action="store_true", help="do not start the gateway simulators")
        up.add_argument("--defect", type=defect_name, action="append", default=[], metavar="NAME",
                        help="start the core with this seeded defect (repeatable; harness/defects/catalog.py)")
        up.add_argument("--simulator-arg", type=simulator_arg, action="append", default=[],
                        metavar="NAME=OPTION",
                        help="one more option for a simulator, e.g. wompi=--finalize-delay=30 (repeatable; "
                             "`python -m suites.support.target --up-args` prints what the suites' stack uses)")
        up.set_defaults(func=_cmd_up)
    elif name == "lint":
        lint = sub.add_parser("lint", help="ruff, the import contracts and mypy",
                              description="ruff, import-linter's contracts, mypy; stops at the first failure.")
        lint.set_defaults(func=_cmd_lint)
    elif name == "simulators":
        sims = sub.add_parser("simulators", help="run the PayU, Wompi and Efecty simulators", add_help=False)
        sims.set_defaults(func=_cmd_simulators)
    elif name == "bench-db":
        bench = sub.add_parser("bench-db", help="time embedded Postgres start, template migration and a clone",
                               description="Time the embedded Postgres start, the template migration, a clone, a drop.")
        bench.add_argument("--runs", type=positive_int, default=5, help="repetitions; medians are printed (default 5)")
        bench.add_argument("--json", default=None, metavar="FILE", help="also write the figures to this JSON file")
        bench.set_defaults(func=_cmd_bench_db)
    else:
        raise ValueError(f"no command {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # `test` and `simulators` pass what they do not know to pytest / the simulators' own parser.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in PASS_THROUGH:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        # Every temp file of this run and its children goes into one folder, removed when the run ends. A
        # command exec'd in this process's place (MODULES) makes its own: no `finally` here would run.
        with contextlib.nullcontext() if args.command in MODULES else run_scratch():
            return func(args)
    except NotACheckout as exc:
        print(f"payharness {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
