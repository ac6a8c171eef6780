"""Run the PayU simulator alone: ``python -m simulators.payu --port 8081 [--confirmation-url URL]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.serve import serve
from simulators.payu.app import create_app
from simulators.payu.config import PayUConfig
from simulators.payu.routes import PAYMENTS_PATH, QUERIES_PATH
from simulators.payu.signing import Algorithm


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators.payu", description=__doc__)
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--confirmation-url", default=None, help="account-level confirmation URL (a request's notifyUrl wins)"
    )
    parser.add_argument("--signing", choices=[a.value for a in Algorithm], default="MD5", help="confirmation sign")
    parser.add_argument("--webhook-secret", default=PayUConfig.webhook_secret, help="key for HMAC_SHA256")
    parser.add_argument("--pending-card-delay", type=float, default=None, help="seconds before PENDING cards settle")
    parser.add_argument("--cash-confirmation-delay", type=float, default=0.0, help="seconds from payment to POST")
    parser.add_argument("--allow-duplicate-references", action="store_true")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> PayUConfig:
    return PayUConfig(
        seed=args.seed,
        default_confirmation_url=args.confirmation_url,
        webhook_signing=args.signing,
        webhook_secret=args.webhook_secret,
        pending_card_delay_seconds=args.pending_card_delay,
        cash_confirmation_delay_seconds=args.cash_confirmation_delay,
        validate_unique_reference=not args.allow_duplicate_references,
    )


def banner(config: PayUConfig, port: int) -> str:
    """What a user needs to point an integration at this simulator."""
    base = f"http://127.0.0.1:{port}"
    colombia = next((a for a, country in config.accounts.items() if country == "CO"), "?")
    signing = config.webhook_signing + (
        f" (secret {config.webhook_secret})" if config.webhook_signing == "HMAC_SHA256" else ""
    )
    return "\n".join(
        [
            f"PayU simulator  {base}{PAYMENTS_PATH}   (admin: {base}/__admin)",
            f"  queries API       {base}{QUERIES_PATH}",
            f"  merchantId        {config.merchant_id}",
            f"  accountId (CO)    {colombia}",
            f"  apiLogin          {config.api_login}",
            f"  apiKey            {config.api_key}",
            f"  confirmation sign {signing}",
            f"  confirmation URL  {config.default_confirmation_url or '(per request: transaction.order.notifyUrl)'}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one PayU simulator until interrupted. Usage: ``main(["--port", "0"])``."""
    config = config_from_args(args := parse_args(argv))
    serve(create_app(config), port=args.port, on_ready=lambda port: print(banner(config, port), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
