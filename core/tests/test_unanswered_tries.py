"""Whether a failed gateway call may still be carried out by the gateway: ``GatewayError.unanswered``.

The reference lookup believes a gateway's "not found" for an attempt without a gateway id at once only when
the gateway answered its create (core/api/resolve.py ``eligible``). A try that got no answer (a timeout, a
dropped connection) may still land, whatever a later try answered — so the raised error must say so when
*any* try went unanswered, and must not when every try got the gateway's own answer.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.gateways.errors import PayUNetworkError
from core.gateways.resilience import RetryPolicy, call_with_retry
from core.tests.support import FakeSleep
from core.tests.test_resilience import Steps


def _try(unanswered: bool) -> PayUNetworkError:
    # A timeout has no status; a 5xx is the gateway's answer (outcome unknown all the same).
    return PayUNetworkError("timed out" if unanswered else "server error", operation="create",
                            status_code=None if unanswered else 503, outcome_unknown=True, retryable=True)


@given(st.lists(st.booleans(), min_size=1, max_size=5))
async def test_the_error_is_unanswered_exactly_when_some_try_was(tries: list[bool]) -> None:
    fn = Steps(*(_try(t) for t in tries))
    with pytest.raises(PayUNetworkError) as err:
        await call_with_retry(fn, policy=RetryPolicy(attempts=len(tries), initial_delay=0.0), retry=True,
                              sleep=FakeSleep())
    assert err.value.unanswered is any(tries)


async def test_a_refusal_after_an_unanswered_try_stays_unanswered() -> None:
    # The last try's 4xx-like refusal (not outcome-unknown by itself) speaks only for that try.
    refusal = PayUNetworkError("busy", operation="create", status_code=429, retryable=True)
    fn = Steps(_try(True), refusal)
    with pytest.raises(PayUNetworkError) as err:
        await call_with_retry(fn, policy=RetryPolicy(attempts=2, initial_delay=0.0), retry=True, sleep=FakeSleep())
    assert err.value is refusal and err.value.outcome_unknown and err.value.unanswered
