"""Run the PayU simulator alone: ``python -m simulators.payu --port 8081 [--api-key KEY] [--config sims.toml]``.

Every setting is a flag here (``--api-key``), a PAYHARNESS_SIM_PAYU_* variable and a key of the TOML file's
``[payu]`` table; flags win over the environment, which wins over the file (simulators/README.md, "Configure").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.serve import serve
from simulators.common.settings import add_flags, build_config, load_or_exit, settings_lines
from simulators.payu.app import create_app
from simulators.payu.config import PayUConfig
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH

DEFAULT_PORT = 8081


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Flags plus the merged settings (``args.settings``); a bad setting exits 2 with one line naming it."""
    parser = argparse.ArgumentParser(prog="python -m simulators.payu", description=__doc__,
                                     usage="%(prog)s [--port N] [--config FILE] [--seed N] [--<setting> VALUE ...]")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port on 127.0.0.1 (0 picks a free one; default {DEFAULT_PORT})")
    add_flags(parser, gateways=("payu",), prefixed=False)
    args = parser.parse_args(argv)
    args.settings = load_or_exit(parser, args)
    return args


def config_from_args(args: argparse.Namespace) -> PayUConfig:
    config: PayUConfig = build_config(args.settings, "payu")
    return config


def port_from_args(args: argparse.Namespace) -> int:
    """--port, else PAYHARNESS_SIM_PAYU_PORT or the file's [payu] port, else 8081."""
    for port in (args.port, args.settings.payu.port):
        if port is not None:
            return int(port)
    return DEFAULT_PORT


def banner(config: PayUConfig, port: int) -> str:
    """Where the simulator is and every setting it runs with, secrets redacted."""
    base = f"http://127.0.0.1:{port}"
    return "\n".join(
        [
            f"PayU simulator  {base}{PAYMENTS_PATH}   (admin: {base}/__admin)",
            f"  queries API  {base}{QUERIES_PATH}",
            *settings_lines(config, "payu"),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one PayU simulator until interrupted. Usage: ``main(["--port", "0"])``."""
    args = parse_args(argv)
    config = config_from_args(args)
    serve(create_app(config), port=port_from_args(args),
          on_ready=lambda port: print(banner(config, port), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
