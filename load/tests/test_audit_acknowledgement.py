"""What the audit makes of a genuine event's answers: every answer but a 200 ends a gateway's deliveries.

A gateway (and the load's senders, load/actions.py) retries only a 5xx or no answer. A genuine event answered
401 (a core whose clock or freshness window is wrong), 404, 429 or 202 is never sent again; if the core kept
nothing, the order stays pending and every database check is satisfied. So is an event whose sender ran out of
tries on 5xx. Both were clean before (load/README.md, "What the audit proves here"); the property below checks
the whole class against an oracle written from the gateway's side, over generated ledgers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from load import audit as audit_module
from load.audit import audit
from load.ledger import LedgerEntry
from load.tests.test_audit import entry, kinds, world

MAX_TRIES = 6


@pytest.mark.parametrize("code", [401, 404, 429, 400, 202, 204, 302])
def test_a_genuine_event_answered_anything_but_200_below_500_is_refused(code: int) -> None:
    ledger, snapshot, sim = world()
    # O1's approval answered `code` instead of 200; its byte-identical copy got the 200 and recorded it.
    ledger[1] = entry(2, "W1:APPROVED", code=code, answer="stale_event")
    report = audit(ledger, snapshot, sim=sim, max_tries=MAX_TRIES)
    assert "refused_event" in kinds(report), report.to_dict()


def test_a_genuine_event_refused_and_never_recorded_is_flagged_although_the_database_is_consistent() -> None:
    """The stale-clock fault of a live run: 1 in 20 Wompi events answered 401 ``stale_event``, nothing kept; the
    orders stay pending, which the replay of the (empty) event log also reaches."""
    ledger, snapshot, sim = world()
    ledger.append(entry(20, "W1:DECLINED", attempt="O1-a", code=401, answer="stale_event"))
    report = audit(ledger, snapshot, sim=sim, max_tries=MAX_TRIES)
    assert kinds(report) == {"refused_event"}, report.to_dict()


def _tries(key: str, codes: list[int | None], *, first: int = 30) -> list[LedgerEntry]:
    return [entry(first + i, key, attempt="O1-a", code=code, answer=None) for i, code in enumerate(codes)]


def _numbered(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    return [replace(e, try_no=i + 1) for i, e in enumerate(entries)]


def test_an_event_out_of_tries_on_5xx_and_not_in_the_database_is_undelivered() -> None:
    ledger, snapshot, sim = world()
    ledger += _numbered(_tries("W1:DECLINED", [503, 503, None, 500, 503, 503]))
    report = audit(ledger, snapshot, sim=sim, max_tries=MAX_TRIES)
    assert kinds(report) == {"undelivered_event"}, report.to_dict()


def test_a_sender_stopped_in_its_back_off_by_the_end_of_the_run_is_cut_off_not_undelivered() -> None:
    ledger, snapshot, sim = world()
    ledger += _numbered(_tries("W1:DECLINED", [503, 503]))  # tries 1 and 2 of 6: the run ended in between
    assert audit(ledger, snapshot, sim=sim, max_tries=MAX_TRIES).ok


def test_an_event_out_of_tries_but_committed_is_not_undelivered() -> None:
    ledger, snapshot, sim = world()
    ledger += _numbered(_tries("W1:PENDING", [503] * MAX_TRIES))  # W1:PENDING is in the database
    assert audit(ledger, snapshot, sim=sim, max_tries=MAX_TRIES).ok


# ------------------------------------------------------------------------------------------ the class

CODES = st.sampled_from([200, 200, 200, 201, 202, 401, 404, 409, 422, 429, 500, 502, 503, None])
KEYS = [f"T{i}:APPROVED" for i in range(4)]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[LedgerEntry], set[tuple[str, str]]]:
    """Senders (one per identity, or two for a byte-identical duplicate), each retrying as the load does:
    on a 5xx or no answer, at most MAX_TRIES tries, possibly cut off by the end of the run; and which
    identities the database holds."""
    ledger: list[LedgerEntry] = []
    n = 0
    for key in KEYS:
        for role in draw(st.sampled_from([("event",), ("event", "dup")])):
            for try_no in range(1, MAX_TRIES + 1):
                code = draw(CODES)
                n += 1
                e = entry(n, key, role=role, attempt=f"{key[:2]}-a", code=code, answer=None)
                ledger.append(replace(e, try_no=try_no))
                if code is not None and code < 500:
                    break  # answered: the sender stops
                if draw(st.booleans()):
                    break  # the run ended, the try in flight or in its back-off
    recorded = {("wompi", k) for k in draw(st.sets(st.sampled_from(KEYS)))}
    return ledger, recorded


def _oracle(ledger: list[LedgerEntry], recorded: set[tuple[str, str]]) -> set[str]:
    """The identities a gateway would call mishandled: it heard a 200 for an event the core does not hold, it
    heard any other final answer, or it gave up after its last try got a 5xx and the core does not hold it."""
    by_identity: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        by_identity[(e.gateway, e.key)].append(e)
    bad = set()
    for identity, sent in by_identity.items():
        held = identity in recorded
        acknowledged = any(e.code == 200 for e in sent)
        final_refusal = any(e.code is not None and e.code != 200 and e.code < 500 for e in sent)
        exhausted = any(e.try_no == MAX_TRIES and e.code is not None and e.code >= 500 for e in sent)
        if (acknowledged and not held) or final_refusal or (exhausted and not acknowledged and not held):
            bad.add(identity[1])
    return bad


@given(histories())
def test_every_mishandled_delivery_is_flagged_and_nothing_else(history: tuple[list[LedgerEntry],
                                                                              set[tuple[str, str]]]) -> None:
    ledger, recorded = history
    found = audit_module._ledger_checks(ledger, recorded, set(), MAX_TRIES)
    assert {a.subject for a in found} == _oracle(ledger, recorded)
