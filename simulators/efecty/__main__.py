"""``python -m simulators.efecty [--port N] [--merchant-api-key KEY] [--config sims.toml]``: Efecty alone on 127.0.0.1.

Every setting is a flag here, a PAYHARNESS_SIM_EFECTY_* variable and a key of the TOML file's ``[efecty]``
table; flags win over the environment, which wins over the file (simulators/README.md, "Configure"). Prints
one JSON line: the URL, the credentials and every setting, secrets redacted.
"""

import argparse
import json
import sys

from simulators.common.serve import bind_socket, serve
from simulators.common.settings import add_flags, build_config, load_or_exit, printable
from simulators.efecty import create_app
from supervise.identity import inherited_socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.efecty", description=__doc__,
                                     usage="%(prog)s [--port N] [--config FILE] [--seed N] [--<setting> VALUE ...]")
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (0, the default, picks a free one)")
    add_flags(parser, gateways=("efecty",), prefixed=False)
    args = parser.parse_args(argv)
    settings = load_or_exit(parser, args)
    config = build_config(settings, "efecty")
    port = args.port if args.port is not None else settings.efecty.port  # type: ignore[attr-defined]
    sock = inherited_socket() or bind_socket(port=port or 0)  # a supervisor's socket when it gave one
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    shown = printable(config, "efecty")
    print(json.dumps({"gateway": "efecty", "url": url, **shown["credentials"], "settings": shown["settings"]}),
          flush=True)
    serve(create_app(config), port=0, sock=sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
