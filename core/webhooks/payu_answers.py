"""What PayU's Queries API said about a reference, remembered for a short while: bounded, per worker.

A PayU confirmation's ``transaction_id`` is unsigned and the confirmation carries no timestamp, so one
captured confirmation with a new ``transaction_id`` each time made the core ask PayU once per request:
outbound gateway calls (and PayU's rate limit, and our breaker) bought by anyone holding one old POST.
Remembering PayU's answer per reference bounds that to one Queries call per reference per ``ttl_seconds``
per worker, however many requests arrive; the memory itself holds at most ``max_references`` references.

What the memory may answer alone, and why it is safe:
- a transaction_id PayU did not list: refused (422, written once under the refusal key, never under the
  event's identity). A genuine transaction PayU created after the answer was taken is refused once; PayU
  retries every non-200, and a retry after ``ttl_seconds`` is asked about afresh and applied;
- a transaction PayU listed in a final state: that state (a final state at PayU does not change).
A transaction PayU listed as pending (or without a state) is asked about again: it may have moved on.

Usage::

    answers = PayUAnswers()
    states = answers.recall("ORD-1-ab12")        # None: not asked recently, ask PayU
    answers.remember("ORD-1-ab12", {"txn-1": TransactionStatus.APPROVED})
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.db.models import TransactionStatus
from core.webhooks.recent import Recent

FINAL = frozenset({TransactionStatus.APPROVED, TransactionStatus.DECLINED, TransactionStatus.EXPIRED,
                   TransactionStatus.ERROR})
TTL_SECONDS = 60.0
MAX_REFERENCES = 4096

States = dict[str, TransactionStatus | None]  # PayU's transaction id → its state (None: none reported)


class PayUAnswers(Recent[States]):
    """PayU's answer per reference (``recall``, ``remember``: core/webhooks/recent.py)."""

    def __init__(self, *, ttl_seconds: float = TTL_SECONDS, max_references: int = MAX_REFERENCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl_seconds=ttl_seconds, max_keys=max_references, clock=clock)
