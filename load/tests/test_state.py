"""Which story indices a Locust process drives: the ones it signs in advance are the ones it will be handed."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.state import LoadState


@pytest.mark.parametrize(("size", "index", "workers"), [(10, 0, 1), (10, 1, 3), (11, 2, 3), (2, 3, 4), (0, 0, 1)])
def test_indices_are_what_next_index_hands_out_before_the_pool_wraps(size: int, index: int, workers: int) -> None:
    state = LoadState(artefacts=Path("unused"), node="test")
    state.begin(run_id="r", workers=workers, index=index, pools={"wompi": size})
    planned = list(state.indices("wompi"))
    handed = [state.next_index("wompi") for _ in planned]
    assert handed == planned
    assert len(set(planned)) == len(planned) and all(i % workers == index % workers for i in planned)
    assert state.exhausted == set()
    state.next_index("wompi")  # one more than planned: the pool wraps around, and says so
    assert state.exhausted == {"wompi"}
