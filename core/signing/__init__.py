"""The core's own signers and verifiers for PayU and Wompi: pure functions, no I/O, no clock.

Usage::

    from core.signing import payu, wompi
    verdict = wompi.verify_event(event, events_secret="...", header_checksum=request_header)
    if not verdict:
        return 401  # verdict.reason says why
"""

from __future__ import annotations

from core.signing._common import Verdict

__all__ = ["Verdict"]
