"""Run the Wompi simulator alone: ``python -m simulators.wompi --port 8082 [--events-url URL]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.serve import serve
from simulators.wompi.app import create_app
from simulators.wompi.config import WompiConfig


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators.wompi", description=__doc__)
    parser.add_argument("--port", type=int, default=8082, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--events-url", default=None, help="where transaction.updated events are POSTed")
    parser.add_argument("--finalize-delay", type=float, default=WompiConfig.finalize_delay_seconds)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--regenerate-signature-on-retry",
        action="store_true",
        help="give each event retry a fresh timestamp and checksum (default: resend the first body)",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> WompiConfig:
    return WompiConfig(
        events_url=args.events_url,
        finalize_delay_seconds=args.finalize_delay,
        seed=args.seed,
        regenerate_event_signature_on_retry=args.regenerate_signature_on_retry,
    )


def banner(config: WompiConfig, port: int) -> str:
    """What a user needs to point an integration at this simulator."""
    return "\n".join(
        [
            f"Wompi simulator  http://127.0.0.1:{port}/v1   (admin: http://127.0.0.1:{port}/__admin)",
            f"  public key        {config.public_key}",
            f"  private key       {config.private_key}",
            f"  events secret     {config.events_secret}",
            f"  integrity secret  {config.integrity_secret}",
            f"  events URL        {config.events_url or '(none; PUT /__admin/wompi/events-url)'}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one Wompi simulator until interrupted. Usage: ``main(["--port", "0"])``."""
    config = config_from_args(args := parse_args(argv))
    serve(create_app(config), port=args.port, on_ready=lambda port: print(banner(config, port), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
