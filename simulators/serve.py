"""Run the PayU, Wompi and Efecty simulators on 127.0.0.1, one process each, until interrupted.

Usage: ``python -m simulators.serve [--only efecty] [--payu-port 8081] [--json]``; the lead's CLI
(``payharness simulators``) calls ``main``. Each simulator is a ``python -m simulators.<gateway>`` child
supervised by ``supervise.Service``: the socket is bound here (port 0 = a free one) and passed down, the
child is ready when it answers our identity token, and its log goes under ``--logs``.
"""

import argparse
import importlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from supervise import Service, ServiceFailed, listening_socket

GATEWAYS = ("payu", "wompi", "efecty")
_CONFIG_CLASS = {"payu": "PayUConfig", "wompi": "WompiConfig", "efecty": "EfectyConfig"}
# Where each simulator sends its webhooks: the config field set by --<gateway>-webhook-url, and the
# option of ``python -m simulators.<gateway>`` that sets it.
_WEBHOOK_FIELD = {"payu": "default_confirmation_url", "wompi": "events_url", "efecty": "notify_url"}
_WEBHOOK_OPTION = {"payu": "--confirmation-url", "wompi": "--events-url", "efecty": "--notify-url"}
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


def _config(gateway: str, options: dict[str, Any]) -> Any:
    package = importlib.import_module(f"simulators.{gateway}")
    return getattr(package, _CONFIG_CLASS[gateway])(**options)


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
    parser.add_argument("--logs", default=None,
                        help="folder for the simulators' logs (default artefacts/logs/simulators-<time>)")
    return parser.parse_args(argv)


def render_table(reports: list[dict[str, Any]]) -> str:
    lines = []
    for report in reports:
        lines.append(f"{report['gateway']:<7} {report['url']}   (admin {report['admin']})")
        lines.extend(f"        {name:<22} {value}" for name, value in report["credentials"].items())
    return "\n".join(lines)


def _start(gateway: str, args: argparse.Namespace, logs: Path) -> tuple[Service, dict[str, Any]]:
    options: dict[str, Any] = {"seed": args.seed}
    argv = [sys.executable, "-m", f"simulators.{gateway}", "--seed", str(args.seed)]
    webhook = getattr(args, f"{gateway}_webhook_url")
    if webhook:
        options[_WEBHOOK_FIELD[gateway]] = webhook
        argv += [_WEBHOOK_OPTION[gateway], webhook]
    config = _config(gateway, options)
    sock = listening_socket(port=getattr(args, f"{gateway}_port"))
    service = Service(f"simulator-{gateway}", argv, log_dir=logs, sock=sock)
    report = {"gateway": gateway, "url": service.url, "admin": f"{service.url}/__admin",
              "credentials": credentials(config)}
    return service, report


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulators, print where they are, wait for Ctrl-C/SIGTERM, stop them. Returns the exit code."""
    args = parse_args(argv)
    chosen = [g for g in GATEWAYS if not args.only or g in args.only]
    # Installed as a package there is no checkout to write into: logs go under the current directory.
    root = Path(os.environ.get("PAYHARNESS_ARTEFACTS") or Path.cwd() / "artefacts")
    logs = Path(args.logs) if args.logs else root / "logs" / f"simulators-{time.strftime('%Y%m%dT%H%M%S')}"
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    services: list[Service] = []
    try:
        reports = []
        for gateway in chosen:
            try:
                service, report = _start(gateway, args, logs)
                services.append(service)
                service.start(timeout=_STARTUP_TIMEOUT)
            except (OSError, ServiceFailed) as exc:
                print(f"simulators.{gateway} could not start: {exc}", file=sys.stderr)
                return 0 if stop.is_set() else 1
            reports.append(report)
        print(json.dumps({"simulators": reports}, indent=2) if args.json else render_table(reports), flush=True)
        while not stop.wait(0.2):
            dead = [s.name for s in services if not s.running()]
            if dead:
                print(f"simulator process exited unexpectedly: {', '.join(dead)}", file=sys.stderr)
                return 1
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
