"""The ``payharness`` command: bring the stack up, run the tests, serve the pieces, measure the foundation.

Usage::

    payharness up            # Postgres + simulators + core on 127.0.0.1 until Ctrl-C
    payharness test [-- pytest args]
    payharness simulators    # the three gateway simulators alone
    payharness bench-db      # embedded Postgres start, template migration, clone: medians of 5
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from supervise import run

REPO = Path(__file__).resolve().parent.parent
PASS_THROUGH = {"test", "simulators", "core", "token", "reconcile", "load", "bench-load", "defects", "report",
                "audit", "mutants"}


def _cmd_up(args: argparse.Namespace) -> int:
    from harness.defects import ENV, REGISTRY
    from harness.stack import run_stack

    if args.defect:
        for name in args.defect:
            try:
                REGISTRY[name]
            except KeyError as exc:
                print(f"payharness up: {exc.args[0]}", file=sys.stderr)
                return 2
        os.environ[ENV] = ",".join(args.defect)
        print(f"starting the core WITH SEEDED DEFECTS: {', '.join(args.defect)}", file=sys.stderr)

    return run_stack(database=args.database, with_simulators=not args.no_simulators)


def _cmd_test(args: argparse.Namespace) -> int:
    artefacts = Path(args.artefacts)
    artefacts.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={artefacts / 'junit.xml'}", *args.extra]
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
           "PAYHARNESS_ARTEFACTS": str(artefacts.resolve())}
    # Ctrl-C is passed on to pytest and waited for: its session teardown stops Postgres and the services.
    return run(cmd, cwd=REPO, env=env)


def _cmd_lint(args: argparse.Namespace) -> int:
    steps = [
        [sys.executable, "-m", "ruff", "check", "."],
        [str(Path(sys.executable).parent / "lint-imports")],
        [sys.executable, "-m", "mypy"],
    ]
    for step in steps:
        print("$", " ".join(step), flush=True)
        code = run(step, cwd=REPO)
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


DELEGATED = {
    "core": ("core.serve:main", "serve the reference core with uvicorn (fails closed without its secrets)"),
    "token": ("core.serve:token_main", "mint a bearer token for the core's API (--sub, --role)"),
    "reconcile": ("core.serve:reconcile_main", "reconcile a day of Efecty payments (Asobancaria 2001)"),
    "audit": ("harness.audit:main", "the main job: suites, load + audit, defect matrix, coverage, the report"),
    "report": ("reports.cli:main", "build the auditor report (HTML, Markdown, JSON) from an artefacts folder"),
    "defects": ("harness.defects.matrix:main", "run the suites once per seeded defect: the detection matrix"),
    "mutants": ("harness.mutants.run:main", "mutation score of the core's decision code (mutmut), within a budget"),
    "load": ("load.runner:main", "webhook load with Locust on a fresh stack, then the consistency audit"),
    "bench-load": ("load.bench:main", "benchmark: sustained webhook rate vs bare asyncpg and pgbench"),
}


def _cmd_bench_db(args: argparse.Namespace) -> int:
    from harness.bench_db import main as bench_main

    return bench_main(runs=args.runs, json_path=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payharness", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="bring the stack up on 127.0.0.1 and run until Ctrl-C")
    up.add_argument("--database", default=None,
                    help="name of a database to migrate, use and keep (default: a fresh one, dropped on exit)")
    up.add_argument("--no-simulators", action="store_true", help="do not start the gateway simulators")
    up.add_argument("--defect", action="append", default=[], metavar="NAME",
                    help="start the core with a seeded defect (repeatable; see payharness defects --help)")
    up.set_defaults(func=_cmd_up)

    test = sub.add_parser("test", help="run the test suites (pytest); extra arguments go to pytest")
    test.add_argument("--artefacts", default=str(REPO / "artefacts"), help="where JUnit XML is written")
    test.set_defaults(func=_cmd_test)

    lint = sub.add_parser("lint", help="ruff, the import contracts and mypy")
    lint.set_defaults(func=_cmd_lint)

    sims = sub.add_parser("simulators", help="run the PayU, Wompi and Efecty simulators", add_help=False)
    sims.set_defaults(func=_cmd_simulators)

    for name, (target, summary) in DELEGATED.items():
        delegated = sub.add_parser(name, help=summary, add_help=False)
        delegated.set_defaults(func=_delegate(target))

    bench = sub.add_parser("bench-db", help="time embedded Postgres start, template migration and a clone")
    bench.add_argument("--runs", type=int, default=5)
    bench.add_argument("--json", default=None, help="also write the figures to this JSON file")
    bench.set_defaults(func=_cmd_bench_db)
    return parser


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
        return func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
