"""Child processes of the harness: started clean, ready only when it is ours answering, stopped clean.

One helper for every process the harness starts (the stack's services, the simulators, Locust, the
subcommands the CLI and the audit run), so start, readiness, logging and stop work one way everywhere:

- ``run(argv)`` runs a command to its end and forwards SIGINT/SIGTERM to it, then waits, so a Ctrl-C
  lets the child clean up (stop its Postgres, its services) instead of being killed 0.25 s later;
- ``Service`` serves HTTP on a socket the parent bound on port 0 and passes down by descriptor (no
  pick-then-bind race), is ready only when ``/__payharness/identity`` answers the token the parent
  gave it, logs into a folder the caller names (the run's artefacts), and is stopped with its whole
  process group;
- ``run_scratch()`` gives a command run a temporary folder of its own (``TMPDIR``, inherited by every
  child) and removes it when the run ends, so nothing a child leaves in the temp directory outlives it;
- ``serve_uvicorn`` (``python -m supervise.uvicorn``) is the child side for uvicorn apps with workers.

Why our own helper and not mirakuru: mirakuru's executors wait for a port or URL fixed before the start
(the race above) and cannot hand a listening socket to the child; what is left, a process group and
psutil, is a few dozen lines. This package imports none of core, simulators, harness, load or reports.
"""

from supervise.identity import FD_ENV, IDENTITY_PATH, TOKEN_ENV, IdentityMiddleware, inherited_socket
from supervise.run import forwarding, run
from supervise.scratch import run_scratch
from supervise.service import Child, Service, ServiceFailed, listening_socket

__all__ = [
    "FD_ENV",
    "IDENTITY_PATH",
    "TOKEN_ENV",
    "Child",
    "IdentityMiddleware",
    "Service",
    "ServiceFailed",
    "forwarding",
    "inherited_socket",
    "listening_socket",
    "run",
    "run_scratch",
]
