"""The child side for uvicorn apps: serve on the socket the parent passed down, answering its identity token.

``python -m supervise.asgi core.app:app_from_env --factory --workers 2 …`` takes the subset of uvicorn's
options the harness uses. uvicorn's own ``--fd`` would do for the socket, but it wraps the descriptor as
AF_UNIX whatever it is, and asyncio then leaves Nagle on for every accepted TCP connection (40 ms per
answer with delayed ACKs); and the identity answer has to sit in front of the app in every worker.

Usage::

    PAYHARNESS_LISTEN_FD=3 PAYHARNESS_SERVICE_TOKEN=… python -m supervise.asgi core.app:app_from_env --factory
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

from supervise.identity import FD_ENV, inherited_socket, with_identity

SHARED_ENV = "PAYHARNESS_SHARED_ACCEPT"  # "1": uvicorn's shared accept (the before of load/README.md's A/B)


def identified_app(target: str, factory: bool) -> Any:
    """The app at ``target`` (built by calling it when ``factory``), behind the identity answer."""
    from uvicorn.importer import import_from_string

    app = import_from_string(target)
    return with_identity(app() if factory else app)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m supervise.asgi", description=__doc__.splitlines()[0])
    p.add_argument("app", help="module:attribute of the ASGI app (or of its factory, with --factory)")
    p.add_argument("--factory", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--http", default="auto")
    p.add_argument("--loop", default="auto")
    p.add_argument("--log-level", default="warning")
    p.add_argument("--no-access-log", dest="access_log", action="store_false")
    p.add_argument("--timeout-keep-alive", type=int, default=5)
    p.add_argument("--proxy-headers", dest="proxy_headers", action="store_true", default=False)
    p.add_argument("--no-proxy-headers", dest="proxy_headers", action="store_false")
    p.add_argument("--forwarded-allow-ips", default=None)
    p.add_argument("--no-balance", dest="balance", action="store_false", default=os.environ.get(SHARED_ENV) != "1",
                   help="with --workers > 1, let every worker accept from the shared socket (uvicorn's own mode)"
                        f" instead of handing connections out round robin (supervise/balance.py); {SHARED_ENV}=1 too")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from supervise.balance import Balancer

    args = parse_args(argv)
    sock = inherited_socket()
    if sock is None:
        print(f"supervise.asgi: {FD_ENV} is unset: start it through supervise.Service", file=sys.stderr)
        return 2
    # A module-level function and its arguments pickle by reference: uvicorn's spawned workers rebuild the app.
    config = uvicorn.Config(functools.partial(identified_app, args.app, args.factory), factory=True,
                            workers=args.workers, http=args.http, loop=args.loop, log_level=args.log_level,
                            access_log=args.access_log, timeout_keep_alive=args.timeout_keep_alive,
                            proxy_headers=args.proxy_headers, forwarded_allow_ips=args.forwarded_allow_ips)
    server = uvicorn.Server(config)
    if args.workers > 1 and args.balance:
        Balancer(config, sock).run()
    elif args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
        if not server.started:
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
