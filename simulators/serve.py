"""Run the PayU, Wompi and Efecty simulators on 127.0.0.1, one process each, until interrupted.

Usage: ``python -m simulators.serve [--only efecty] [--payu-port 8081] [--config sims.toml] [--json]``;
``payharness simulators`` calls ``main``. Settings come from flags, PAYHARNESS_SIM_* variables and the
TOML file (``simulators.common.settings``), read and checked once here. Each simulator is a
``python -m simulators.<gateway>`` child supervised by ``supervise.Service``: the socket is bound here
(port 0 = a free one) and passed down, the child gets the resolved settings as PAYHARNESS_SIM_* variables
(the seed drawn here included, so what is printed is what runs), is ready when it answers our identity
token, and logs under ``--logs``.
"""

import argparse
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

from simulators.common.settings import (
    GATEWAYS,
    add_flags,
    build_config,
    child_environment,
    environment_without_settings,
    load_or_exit,
    printable,
)
from supervise import Service, ServiceFailed, listening_socket

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
    parser.add_argument("--logs", default=None,
                        help="folder for the simulators' logs (default artefacts/logs/simulators-<time>)")
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
        lines.extend(f"        {name:<22} {value}" for name, value in report["credentials"].items())
    return "\n".join(lines)


def _start(gateway: str, settings: Any, logs: Path) -> tuple[Service, dict[str, Any]]:
    """The gateway's supervised child (not started yet) and what to print about it."""
    config = build_config(settings, gateway)
    # The child reads only what is resolved here: the caller's own PAYHARNESS_SIM_* variables are replaced.
    env = environment_without_settings() | child_environment(config, gateway)
    sock = listening_socket(port=getattr(settings, gateway).port or 0)
    service = Service(f"simulator-{gateway}", [sys.executable, "-m", f"simulators.{gateway}"], log_dir=logs,
                      env=env, sock=sock)
    report = {"gateway": gateway, "url": service.url, "admin": f"{service.url}/__admin", **printable(config, gateway)}
    return service, report


def main(argv: Sequence[str] | None = None) -> int:
    """Start the simulators, print where they are, wait for Ctrl-C/SIGTERM, stop them. Returns the exit code."""
    args, settings = parse_args(argv)
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
                service, report = _start(gateway, settings, logs)
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
