"""Shared pieces of the verifiers: the verdict type and the constant-time hex comparison."""

from __future__ import annotations

import hmac
import string
from dataclasses import dataclass

_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of a signature check: truthy when valid, otherwise ``reason`` says why.

    Usage: ``if not verdict: log.warning("rejected: %s", verdict.reason)``.
    """

    valid: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.valid


VALID = Verdict(True)


def invalid(reason: str) -> Verdict:
    """A failed verdict with its reason (never containing a secret or the expected digest)."""
    return Verdict(False, reason)


def hex_equal(expected: str, received: str) -> bool:
    """Compare two hex digests in constant time, ignoring case (gateways print upper or lower)."""
    # compare_digest refuses non-ASCII str, and a non-hex "signature" is simply wrong: say no
    # without comparing rather than raising inside the webhook path.
    if not received or not _HEX.issuperset(received):
        return False
    return hmac.compare_digest(expected.lower().encode("ascii"), received.lower().encode("ascii"))
