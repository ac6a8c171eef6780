"""``python -m simulators.efecty [--port N]``: run the Efecty simulator alone on 127.0.0.1."""

import argparse
import json
import sys

from simulators.common.serve import bind_socket, serve
from simulators.efecty import EfectyConfig, create_app
from supervise.identity import inherited_socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.efecty", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notify-url", default=None, help="optional payment push target (off by default)")
    args = parser.parse_args(argv)
    config = EfectyConfig(seed=args.seed, notify_url=args.notify_url)
    sock = inherited_socket() or bind_socket(port=args.port)  # a supervisor's socket when it gave one
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    print(json.dumps({"gateway": "efecty", "url": url, **config.credentials()}), flush=True)
    serve(create_app(config), port=0, sock=sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
