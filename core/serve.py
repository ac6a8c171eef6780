"""Entry points behind ``payharness core``, ``payharness token`` and ``payharness reconcile``.

Each one reads its settings from ``PAYHARNESS_*`` first and refuses to go on (exit code 2, one line per
missing variable on stderr) when they are incomplete: the core fails closed, there is no bypass.

Usage::

    python -m core.serve --port 8000 --workers 2          # serve(...)
    sys.exit(token_main(["--sub", "buyer-1", "--role", "buyer"]))
    sys.exit(reconcile_main(["--date", "2025-01-31"]))
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.auth import Role, mint_token
from core.efecty_codes import BOGOTA
from core.gateways.errors import GatewayError
from core.httpserver import HTTP_PROTOCOL, trusted_proxies
from core.reconcile import reconcile_day
from core.services import Services
from core.settings import AuthSettings, Settings, describe_missing

EXIT_CONFIG = 2
EXIT_GATEWAY = 1


class _AuthOnly(BaseSettings):
    """Minting a token needs the token secret only, not the whole core's configuration."""

    model_config = SettingsConfigDict(env_prefix="PAYHARNESS_", env_nested_delimiter="__", extra="ignore")

    auth: AuthSettings


def _refuse(exc: ValidationError) -> int:
    print(describe_missing(exc), file=sys.stderr)
    return EXIT_CONFIG


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> int:
    """Run the core with uvicorn (``core.app:app_from_env`` as a factory). Returns an exit code.

    Settings are checked here, before uvicorn starts, so a missing secret is one clear message and exit
    code 2 rather than a traceback from every worker.
    """
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        return _refuse(exc)
    import uvicorn  # imported late: token and reconcile do not need it

    trusted = trusted_proxies(dict(os.environ))

    uvicorn.run(
        "core.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=max(1, workers),
        log_level=settings.log_level.lower(),
        server_header=False,
        http=HTTP_PROTOCOL,  # httptools with a cap on request heads (431)
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,  # no proxy trusted unless named
    )
    return 0


def _count(text: str) -> int:
    """An argparse type: an integer >= 1 (workers, seconds), refused at parse time otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0..65535, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``payharness core`` / ``python -m core.serve``: ``--host``, ``--port``, ``--workers``."""
    parser = argparse.ArgumentParser(prog="payharness core", description="Serve the reference payment core.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--workers", type=_count, default=2, help="uvicorn worker processes (default 2)")
    args = parser.parse_args(argv)
    return serve(args.host, args.port, args.workers)


def token_main(argv: Sequence[str] | None = None) -> int:
    """``payharness token --sub buyer-1 --role buyer [--ttl 3600]``: print a bearer token for the API."""
    parser = argparse.ArgumentParser(prog="payharness token", description="Mint a bearer token for the core's API.")
    parser.add_argument("--sub", required=True, help="buyer or admin id (the token's subject)")
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.BUYER.value,
                        help="what the token may do (default buyer)")
    parser.add_argument("--ttl", type=_count, default=None, help="seconds (default PAYHARNESS_AUTH__TOKEN_TTL_SECONDS)")
    args = parser.parse_args(argv)
    try:
        auth = _AuthOnly().auth  # type: ignore[call-arg]
    except ValidationError as exc:
        return _refuse(exc)
    try:
        print(mint_token(auth, args.sub, args.role, args.ttl))
    except ValueError as exc:
        print(f"payharness token: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _yesterday_in_bogota() -> date:
    return (datetime.now(UTC).astimezone(BOGOTA) - timedelta(days=1)).date()


async def _reconcile(settings: Settings, day: date) -> dict[str, object]:
    services = Services.build(settings)
    await services.open()
    try:
        return (await reconcile_day(services, day)).as_dict()
    finally:
        await services.aclose()


def reconcile_main(argv: Sequence[str] | None = None) -> int:
    """``payharness reconcile [--date YYYY-MM-DD]``: reconcile a day (default yesterday, Bogota); prints JSON."""
    parser = argparse.ArgumentParser(
        prog="payharness reconcile", description="Reconcile a day of Efecty payments (Asobancaria 2001)."
    )
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="collection day (Bogota)")
    args = parser.parse_args(argv)
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        return _refuse(exc)
    day = args.date or _yesterday_in_bogota()
    try:
        summary = asyncio.run(_reconcile(settings, day))
    except GatewayError as exc:
        print(f"payharness reconcile: {exc}", file=sys.stderr)
        return EXIT_GATEWAY
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
