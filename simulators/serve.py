"""Run the PayU, Wompi and Efecty simulators on 127.0.0.1, one process each, until interrupted.

Usage: ``python -m simulators.serve [--only efecty] [--payu-port 8081] [--json]``; the lead's CLI
(``payharness simulators``) calls ``main``. Each child binds its port first and reports the URL and
credentials back, so port 0 (a free port) works.
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

GATEWAYS = ("payu", "wompi", "efecty")
_CONFIG_CLASS = {"payu": "PayUConfig", "wompi": "WompiConfig", "efecty": "EfectyConfig"}
# Where each simulator sends its webhooks: the config field set by --<gateway>-webhook-url.
_WEBHOOK_FIELD = {"payu": "default_confirmation_url", "wompi": "events_url", "efecty": "notify_url"}
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


def _child(gateway: str, port: int, options: dict[str, Any], reports: Any) -> None:
    """Process body: build the app, bind, report, serve. Imports happen here, lazily."""
    try:
        from simulators.common.serve import bind_socket, serve

        package = importlib.import_module(f"simulators.{gateway}")
        config_class = getattr(package, _CONFIG_CLASS[gateway])
        create_app = package.create_app
        config = config_class(**options)
        sock = bind_socket(port=port)
    except Exception as exc:
        reports.put({"gateway": gateway, "error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    reports.put({"gateway": gateway, "url": url, "admin": f"{url}/__admin", "credentials": credentials(config)})
    serve(create_app(config), port=0, sock=sock)


def _port(text: str) -> int:
    """An argparse type: a TCP port 0..65535, refused at parse time otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535 (0: a free one), got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="payharness simulators", description=__doc__.splitlines()[0])
    for gateway in GATEWAYS:
        parser.add_argument(f"--{gateway}-port", type=_port, default=0, help="0 = a free port")
        parser.add_argument(f"--{gateway}-webhook-url", default=None, help=f"sets {_WEBHOOK_FIELD[gateway]}")
    parser.add_argument("--only", choices=GATEWAYS, action="append", help="run just this one (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulators' random choices (default 0)")
    parser.add_argument("--json", action="store_true", help="print the endpoints as one JSON document")
    return parser.parse_args(argv)


def render_table(reports: list[dict[str, Any]]) -> str:
    lines = []
    for report in reports:
        lines.append(f"{report['gateway']:<7} {report['url']}   (admin {report['admin']})")
        lines.extend(f"        {name:<22} {value}" for name, value in report["credentials"].items())
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
    args = parse_args(argv)
    chosen = [g for g in GATEWAYS if not args.only or g in args.only]
    context = multiprocessing.get_context("spawn")
    reports_queue = context.Queue()
    processes: list[BaseProcess] = []
    for gateway in chosen:
        options: dict[str, Any] = {"seed": args.seed}
        webhook = getattr(args, f"{gateway}_webhook_url")
        if webhook:
            options[_WEBHOOK_FIELD[gateway]] = webhook
        port = getattr(args, f"{gateway}_port")
        process = context.Process(target=_child, args=(gateway, port, options, reports_queue), name=gateway)
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
