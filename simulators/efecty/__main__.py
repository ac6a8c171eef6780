"""``python -m simulators.efecty [--port N] [--merchant-api-key KEY] [--config sims.toml]``: Efecty alone on 127.0.0.1.

Every setting is a flag here, a PAYHARNESS_SIM_EFECTY_* variable and a key of the TOML file's ``[efecty]``
table; flags win over the environment, which wins over the file (simulators/README.md, "Configure"). Prints
one JSON line: the URL, the credentials and every setting, secrets redacted.
"""

import json
import sys

from simulators.common.serve import bind_socket, serve
from simulators.common.settings import build_config, parse_runner_args, printable
from simulators.efecty import create_app
from supervise.identity import inherited_socket


def main(argv: list[str] | None = None) -> int:
    args = parse_runner_args("efecty", argv, doc=__doc__, default_port=0)
    config = build_config(args.settings, "efecty")
    sock = inherited_socket() or bind_socket(port=args.serve_port)  # a supervisor's socket when it gave one
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    shown = printable(config, "efecty")
    print(json.dumps({"gateway": "efecty", "url": url, **shown["credentials"], "settings": shown["settings"]}),
          flush=True)
    serve(create_app(config), port=0, sock=sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
