"""``python -m examples.seed_shop --port 8000``: the shop under uvicorn, settings from the environment."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from examples.seed_shop.app import ConfigurationError, Settings, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.seed_shop", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except (ConfigurationError, ValueError) as exc:
        print(f"seed shop: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
