"""Run the Wompi simulator alone: ``python -m simulators.wompi --port 8082 [--events-url URL] [--config sims.toml]``.

Every setting is a flag here (``--private-key``), a PAYHARNESS_SIM_WOMPI_* variable and a key of the TOML
file's ``[wompi]`` table; flags win over the environment, which wins over the file (simulators/README.md,
"Configure").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.serve import serve
from simulators.common.settings import build_config, parse_runner_args, settings_lines
from simulators.wompi.app import create_app
from simulators.wompi.config import WompiConfig

DEFAULT_PORT = 8082


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Flags plus the merged settings (``args.settings``); a bad setting exits 2 with one line naming it."""
    return parse_runner_args("wompi", argv, doc=__doc__, default_port=DEFAULT_PORT)


def config_from_args(args: argparse.Namespace) -> WompiConfig:
    config: WompiConfig = build_config(args.settings, "wompi")
    return config


def port_from_args(args: argparse.Namespace) -> int:
    """--port, else PAYHARNESS_SIM_WOMPI_PORT or the file's [wompi] port, else 8082."""
    return int(args.serve_port)


def banner(config: WompiConfig, port: int) -> str:
    """Where the simulator is and every setting it runs with, secrets redacted."""
    base = f"http://127.0.0.1:{port}"
    return "\n".join([f"Wompi simulator  {base}/v1   (admin: {base}/__admin)", *settings_lines(config, "wompi")])


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one Wompi simulator until interrupted. Usage: ``main(["--port", "0"])``."""
    args = parse_args(argv)
    config = config_from_args(args)
    serve(create_app(config), port=port_from_args(args),
          on_ready=lambda port: print(banner(config, port), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
