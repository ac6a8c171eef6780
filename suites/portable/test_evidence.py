"""Database evidence on any profiled service: what only its database shows (harness.target.evidence, README
"Database evidence").

Both read the service's own rows made through its API; the Efecty probe changes them only inside a transaction
that is always rolled back, and a probe that errors or proves less than the claim fails, never passes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.target.evidence import event_links, repeat_efecty_code
from harness.target.target import Target
from suites.portable.payments import event, new_order, pay_patiently, pending_payment


@pytest.mark.scenario("T-DB-EFECTY-CODE-REFUSED")
async def test_the_database_refuses_to_give_a_second_efecty_payment_a_code_already_given(target: Target) -> None:
    total = Decimal("50000.00")
    answers = [await pay_patiently(target, "efecty", await new_order(target, total), total) for _ in range(2)]
    codes = [a.code for a in answers]
    assert all(200 <= a.status < 300 and a.code for a in answers), [f"{a.status}: {a.text[:120]}" for a in answers]
    assert codes[0] != codes[1], f"two Efecty payments were given one code: {codes}"
    spec = target.profile.evidence.efecty_code
    assert spec is not None
    async with target.database("evidence.efecty_code") as conn:
        probe = await repeat_efecty_code(conn, spec, taken=str(codes[0]), own=str(codes[1]))
    assert probe.refused, f"{probe.verdict}: {probe.evidence}"


@pytest.mark.scenario("T-DB-EVENT-LINKED")
async def test_an_applied_event_is_stored_naming_the_transaction_it_applied_to(target: Target, gateway: str) -> None:
    payment = await pending_payment(target, gateway, Decimal("50000.00"))
    answer = await target.post_webhook(payment.gateway, *event(target, payment))
    assert await target.amount_paid(payment.order_id) == payment.total, (
        f"the approval (answer {answer.status_code}) was not applied, so no stored event can be judged")
    links = await event_links(target, payment.gateway_id)
    assert links, f"no stored event about gateway transaction {payment.gateway_id} (evidence.event_transaction)"
    wrong = [link for link in links if link != payment.gateway_id]
    assert not wrong, (f"{len(wrong)} of {len(links)} stored events about gateway transaction "
                       f"{payment.gateway_id} name no transaction or another one: {wrong} (None: no link)")
