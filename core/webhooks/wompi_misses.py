"""Wompi ids the core asked Wompi about a moment ago and could adopt nothing for: bounded, per worker, short-lived.

A Wompi event whose (signed) id the core never stored is checked with ``GET /v1/transactions/{id}``
(core/webhooks/wompi.py). The id cannot be forged, but the whole event can be replayed unchanged for as long as
its timestamp is fresh (two days), and each copy asked Wompi again: outbound calls, Wompi's rate limit and the
breaker that pauses every Wompi payment, bought by anyone holding one POST. Remembering "nothing to adopt" per
id for ``ttl_seconds`` bounds that to one lookup per id per ``ttl_seconds`` per worker.

Why a miss may be remembered: Wompi creates a transaction only after the core committed the attempt it belongs
to, so a lookup that found nothing adoptable (no such transaction, a reference of no attempt of ours, an attempt
that already holds an id) will not find more a moment later; Wompi retries an event it got no 200 for after
30 minutes, and that copy is asked about afresh. A failed lookup (timeout, 5xx) is never remembered.

Usage::

    misses = WompiMisses()
    if not misses.recent("1234-1610641025-49201"): ...   # ask Wompi
    misses.remember("1234-1610641025-49201")
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.webhooks.recent import Recent

TTL_SECONDS = 60.0
MAX_IDS = 4096


class WompiMisses(Recent[bool]):
    def __init__(self, *, ttl_seconds: float = TTL_SECONDS, max_ids: int = MAX_IDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl_seconds=ttl_seconds, max_keys=max_ids, clock=clock)

    def recent(self, wompi_id: str) -> bool:
        """Whether a lookup of ``wompi_id`` found nothing adoptable less than ``ttl_seconds`` ago."""
        return self.recall(wompi_id) is not None

    def remember(self, wompi_id: str, value: bool = True) -> None:
        super().remember(wompi_id, value)
