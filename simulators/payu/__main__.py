"""Run the PayU simulator alone: ``python -m simulators.payu --port 8081 [--api-key KEY] [--config sims.toml]``.

Every setting is a flag here (``--api-key``), a PAYHARNESS_SIM_PAYU_* variable and a key of the TOML file's
``[payu]`` table; flags win over the environment, which wins over the file (simulators/README.md, "Configure").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.serve import serve
from simulators.common.settings import build_config, parse_runner_args, settings_lines
from simulators.payu.app import create_app
from simulators.payu.config import PayUConfig
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH

DEFAULT_PORT = 8081


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Flags plus the merged settings (``args.settings``); a bad setting exits 2 with one line naming it."""
    return parse_runner_args("payu", argv, doc=__doc__, default_port=DEFAULT_PORT)


def config_from_args(args: argparse.Namespace) -> PayUConfig:
    config: PayUConfig = build_config(args.settings, "payu")
    return config


def port_from_args(args: argparse.Namespace) -> int:
    """--port, else PAYHARNESS_SIM_PAYU_PORT or the file's [payu] port, else 8081."""
    return int(args.serve_port)


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
