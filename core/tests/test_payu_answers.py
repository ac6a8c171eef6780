"""PayU's Queries answers remembered per reference: a captured confirmation sent with ever new
transaction_ids buys one outbound call per reference and minute, not one per request (attack a09)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from core.db.models import TransactionStatus
from core.services import Services
from core.webhooks.payu import _payu_says
from core.webhooks.payu_answers import PayUAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class PayU:
    """PayU's Queries API: ``states`` per transaction id under every reference; counts the calls."""

    def __init__(self, **states: str) -> None:
        self.states = states
        self.calls = 0

    async def order_by_reference(self, reference: str) -> list[Any]:
        self.calls += 1
        attempts = [SimpleNamespace(id=tid, response=SimpleNamespace(state=s)) for tid, s in self.states.items()]
        return [SimpleNamespace(transactions=attempts, charges=lambda: attempts)]


def services(payu: PayU, clock: Clock, **limits: Any) -> Services:
    return cast(Services, SimpleNamespace(payu=payu, payu_answers=PayUAnswers(clock=clock, **limits)))


async def test_unknown_transaction_ids_ask_payu_once_per_reference_until_the_answer_is_old() -> None:
    payu, clock = PayU(T1="APPROVED"), Clock()
    core = services(payu, clock, ttl_seconds=60)
    answers = [await _payu_says(core, "R-1", f"forged-{n}") for n in range(50)]
    assert answers == [None] * 50
    assert payu.calls == 1
    assert await _payu_says(core, "R-1", "T1") is TransactionStatus.APPROVED  # final: from the memory
    assert payu.calls == 1
    clock.now = 60.0  # the answer is a minute old: PayU may have a new transaction under the reference now
    assert await _payu_says(core, "R-1", "forged-0") is None
    assert payu.calls == 2


async def test_a_pending_transaction_is_asked_about_again_and_references_are_apart() -> None:
    payu, clock = PayU(T1="PENDING"), Clock()
    core = services(payu, clock)
    assert await _payu_says(core, "R-1", "T1") is TransactionStatus.PENDING
    payu.states["T1"] = "APPROVED"
    assert await _payu_says(core, "R-1", "T1") is TransactionStatus.APPROVED  # not the remembered PENDING
    assert await _payu_says(core, "R-2", "T1") is TransactionStatus.APPROVED  # another reference: asked
    assert payu.calls == 3


def test_the_memory_is_bounded() -> None:
    clock = Clock()
    answers = PayUAnswers(max_references=3, clock=clock)
    for n in range(10):
        answers.remember(f"R-{n}", {})
    assert len(answers) == 3
    assert answers.recall("R-0") is None and answers.recall("R-9") == {}
