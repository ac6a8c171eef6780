"""Run the PayU, Wompi and Efecty simulators on 127.0.0.1, one process each, until interrupted.

Usage: ``python -m simulators.serve [--only efecty] [--payu-port 8081] [--config sims.toml] [--json]``;
``payharness simulators`` calls ``main``. Settings come from flags, PAYHARNESS_SIM_* variables and the
TOML file (``simulators.common.settings``); each child binds its port first and reports the URL and its
settings (secrets redacted) back, so port 0 (a free port) works.
"""

import argparse
import importlib
import json
import multiprocessing
import queue
import re
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from simulators.common.settings import GATEWAYS, add_flags, build_config, load_or_exit, printable

_CREDENTIAL_NAME = re.compile(r"(key|secret|login|merchant|account|convenio)")
_STARTUP_TIMEOUT = 60.0


def credentials(config: Any) -> dict[str, str]:
    """The identifiers and secrets a client needs, read off a gateway config."""
    own = getattr(config, "credentials", None)
    if callable(own):
        return {k: str(v) for k, v in own().items()}
    found: dict[str, str] = {}
    if not is_dataclass(config):
        return found
    for f in fields(config):
        value = getattr(config, f.name)
        if not _CREDENTIAL_NAME.search(f.name):
            continue
        if isinstance(value, str | int) and not isinstance(value, bool):
            found[f.name] = str(value)
        elif isinstance(value, dict):
            # PayU's per-country accounts: {"512321": "CO", ...}
            found.update({f"{f.name}_{country}": str(acc) for acc, country in value.items()})
    return found


def _child(gateway: str, port: int, config: Any, reports: Any) -> None:
    """Process body: bind, report, serve. The app's imports happen here, lazily."""
    try:
        from simulators.common.serve import bind_socket, serve

        create_app = importlib.import_module(f"simulators.{gateway}").create_app
        sock = bind_socket(port=port)
    except Exception as exc:
        reports.put({"gateway": gateway, "error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    reports.put({"gateway": gateway, "url": url, "admin": f"{url}/__admin", **printable(config, gateway)})
    serve(create_app(config), port=0, sock=sock)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payharness simulators",
        usage="%(prog)s [--only GATEWAY] [--json] [--config FILE] [--seed N] [--<gateway>-<setting> VALUE ...]",
        description=__doc__.splitlines()[0],
        epilog="Every setting is also read from PAYHARNESS_SIM_<GATEWAY>_<NAME> and from the --config TOML file; "
        "flags win over the environment, which wins over the file. Table: simulators/README.md, 'Configure'.",
    )
    parser.add_argument("--only", choices=GATEWAYS, action="append", help="run just this one (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the endpoints as one JSON document")
    add_flags(parser, gateways=GATEWAYS)
    return parser


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Any]:
    """The parsed flags and the merged settings; a bad setting exits 2 with one line naming it."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args, load_or_exit(parser, args)


def render_table(reports: list[dict[str, Any]]) -> str:
    lines = []
    for report in reports:
        lines.append(f"{report['gateway']:<7} {report['url']}   (admin {report['admin']})")
        width = max(len(name) for name in report["settings"]) + 2
        lines.extend(f"        {name:<{width}}{value}" for name, value in report["settings"].items())
    return "\n".join(lines)


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulators, print where they are, wait for Ctrl-C/SIGTERM, stop them. Returns the exit code."""
    args, settings = parse_args(argv)
    chosen = [g for g in GATEWAYS if not args.only or g in args.only]
    context = multiprocessing.get_context("spawn")
    reports_queue = context.Queue()
    processes: list[BaseProcess] = []
    for gateway in chosen:
        config = build_config(settings, gateway)
        port = getattr(settings, gateway).port or 0
        process = context.Process(target=_child, args=(gateway, port, config, reports_queue), name=gateway)
        process.start()
        processes.append(process)

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        reports = _collect(reports_queue, len(chosen), stop)
        failed = [r for r in reports if "error" in r]
        if failed or len(reports) < len(chosen):
            for r in failed:
                print(f"simulators.{r['gateway']} could not start: {r['error']}", file=sys.stderr)
            if len(reports) < len(chosen) and not stop.is_set():
                print("a simulator did not report within the start-up timeout", file=sys.stderr)
            return 1 if not stop.is_set() else 0
        reports.sort(key=lambda r: GATEWAYS.index(r["gateway"]))
        print(json.dumps({"simulators": reports}, indent=2) if args.json else render_table(reports), flush=True)
        while not stop.wait(0.2):
            dead = [p.name for p in processes if not p.is_alive()]
            if dead:
                print(f"simulator process exited unexpectedly: {', '.join(dead)}", file=sys.stderr)
                return 1
        return 0
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _collect(reports_queue: Any, expected: int, stop: threading.Event) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    waited = 0.0
    while len(reports) < expected and waited < _STARTUP_TIMEOUT and not stop.is_set():
        try:
            reports.append(reports_queue.get(timeout=0.2))
        except queue.Empty:
            waited += 0.2
            continue
        if "error" in reports[-1]:
            break
    return reports


if __name__ == "__main__":
    sys.exit(main())
