"""The core settings the live suites assume, and the environment to start a ``--target`` core with.

The session stack starts its core with ``SUITE_CORE_ENV``; a core the suites only reach (``pytest
--target URL``) must run with the same values or the timing-sensitive tests (faults) will not hold.

Usage::

    # a stack the suites can target: the core's settings and the simulators' options the session stack uses
    env $(python -m suites.support.target) payharness up $(python -m suites.support.target --up-args)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

SUITE_CORE_ENV: dict[str, str] = {
    # One client IP (127.0.0.1) runs every test: the per-IP limit is raised so only the rate-limit tests meet
    # it; the per-buyer limits are 20/minute (each test uses fresh buyers).
    "PAYHARNESS_LIMITS__PAYMENTS_PER_IP": "100000/minute",
    "PAYHARNESS_LIMITS__PAYMENTS_PER_BUYER": "20/minute",
    "PAYHARNESS_LIMITS__ORDERS_PER_IP": "100000/minute",
    "PAYHARNESS_LIMITS__ORDERS_PER_BUYER": "20/minute",
    # Reads and 401s are limited too: flows poll their orders, the hostile and auth tests send bad tokens, all
    # from 127.0.0.1 — raised the same way, so no test meets them by accident.
    "PAYHARNESS_LIMITS__READS_PER_IP": "100000/minute",
    "PAYHARNESS_LIMITS__READS_PER_BUYER": "100000/minute",
    "PAYHARNESS_LIMITS__AUTH_FAILURES_PER_IP": "100000/minute",
    # Production waits seconds to minutes between retries and 30 s before a breaker probes; the suites keep
    # the same shape (3 attempts, x2 backoff, 5 failures open the breaker) on a time scale of tenths of a second.
    # The cool-down is the one window a test must act within (an open breaker must still be open when its
    # next request lands): 2 s, so a machine busy with other work still has room (0.5 s did not).
    "PAYHARNESS_RESILIENCE__ATTEMPTS": "3",
    "PAYHARNESS_RESILIENCE__INITIAL_DELAY": "0.05",
    "PAYHARNESS_RESILIENCE__MULTIPLIER": "2",
    "PAYHARNESS_RESILIENCE__MAX_DELAY": "1.0",
    "PAYHARNESS_RESILIENCE__BREAKER_FAILURES": "5",
    "PAYHARNESS_RESILIENCE__BREAKER_RESET_SECONDS": "2.0",
    "PAYHARNESS_GATEWAY_TIMEOUT_SECONDS": "2.0",
}

# The Wompi simulator keeps a payment PENDING for this many seconds of its clock, which is real time plus what
# a test advances. At its default (2 s) a busy machine let payments settle by themselves in the middle of tests
# that need them pending, and the core, asking Wompi about the live attempt, adopted the approval (tried: a
# 2.5 s pause fails test_while_an_attempt_is_pending_no_method_can_charge_the_order_again for each Wompi
# method). Tests settle them by advancing WOMPI_SETTLE_SECONDS, well inside the core's 300 s window for event
# timestamps ahead of its clock. The session stack starts the simulator with SUITE_SIM_ARGS; a ``--target``
# stack gets them from ``payharness up $(python -m suites.support.target --up-args)``.
WOMPI_PENDING_SECONDS = 30
WOMPI_SETTLE_SECONDS = WOMPI_PENDING_SECONDS + 5
SUITE_SIM_ARGS: dict[str, list[str]] = {"wompi": ["--finalize-delay", str(WOMPI_PENDING_SECONDS)]}


@dataclass(frozen=True)
class Resilience:
    """The retry and breaker numbers of the suites' core, for tests that count attempts or wait out a breaker."""

    attempts: int
    initial_delay: float
    max_delay: float
    breaker_failures: int
    breaker_reset_seconds: float
    gateway_timeout_seconds: float

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Resilience:
        prefix = "PAYHARNESS_RESILIENCE__"
        return cls(
            attempts=int(env[f"{prefix}ATTEMPTS"]),
            initial_delay=float(env[f"{prefix}INITIAL_DELAY"]),
            max_delay=float(env[f"{prefix}MAX_DELAY"]),
            breaker_failures=int(env[f"{prefix}BREAKER_FAILURES"]),
            breaker_reset_seconds=float(env[f"{prefix}BREAKER_RESET_SECONDS"]),
            gateway_timeout_seconds=float(env["PAYHARNESS_GATEWAY_TIMEOUT_SECONDS"]),
        )


RESILIENCE = Resilience.from_env(SUITE_CORE_ENV)


def up_args() -> list[str]:
    """``payharness up`` options that start the simulators as the session stack does (SUITE_SIM_ARGS)."""
    out = []
    for name, args in SUITE_SIM_ARGS.items():
        options = iter(args)
        for option in options:  # each "--flag value" pair as one NAME=--flag=value
            out += ["--simulator-arg", f"{name}={option}={next(options)}"]
    return out


def main(argv: list[str] | None = None) -> None:
    if (sys.argv[1:] if argv is None else argv) == ["--up-args"]:
        print(" ".join(up_args()))
        return
    for key, value in SUITE_CORE_ENV.items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
